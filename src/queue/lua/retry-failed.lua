--[[
  Moves failed (dead-letter) jobs back to waiting with fresh attempts (retryJob, retryAllFailed,
  redrive). Ids not in the failed set are skipped.

  KEYS[1]  failed zset
  KEYS[2]  counts hash
  ARGV[1]  key base
  ARGV[2]  '*' to take the oldest ARGV[3] failed jobs, or '' to use the ids that follow
  ARGV[3]  limit (for '*')
  then the ids

  Returns the number of jobs moved.
]]
local base = ARGV[1]
local ids = {}
if ARGV[2] == '*' then
  ids = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[3]) - 1)
else
  for i = 4, #ARGV do ids[#ids + 1] = ARGV[i] end
end
local moved = 0
for _, id in ipairs(ids) do
  if redis.call('ZREM', KEYS[1], id) == 1 then
    local jobKey = base .. 'job:' .. id
    local f = redis.call('HMGET', jobKey, 'type', 'pri', 'seq')
    if f[1] then
      redis.call('HINCRBY', KEYS[2], 'f:' .. f[1], -1)
      redis.call('HSET', jobKey, 'st', 'waiting', 'atm', 0, 'stc', 0, 'tok', '')
      redis.call('HDEL', jobKey, 'fin', 'err', 'res')
      redis.call('ZADD', base .. 'wait:' .. f[1], tonumber(f[2]) * 1000000000000 + tonumber(f[3]), id)
      redis.call('ZADD', base .. 'marker:' .. f[1], 0, '0')
      moved = moved + 1
    end
  end
end
return moved
