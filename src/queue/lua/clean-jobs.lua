--[[
  Removes up to `limit` completed or failed jobs that finished before a cutoff.

  KEYS[1]  completed or failed zset (score finishedOn)
  KEYS[2]  counts hash
  ARGV[1]  key base
  ARGV[2]  counts prefix ('c:' or 'f:')
  ARGV[3]  cutoff (epoch ms)
  ARGV[4]  limit

  Returns the removed ids.
]]
local base = ARGV[1]
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[3], 'LIMIT', 0, tonumber(ARGV[4]))
for _, id in ipairs(ids) do
  local jobKey = base .. 'job:' .. id
  local jtype = redis.call('HGET', jobKey, 'type')
  if jtype then redis.call('HINCRBY', KEYS[2], ARGV[2] .. jtype, -1) end
  redis.call('DEL', jobKey, jobKey .. ':logs')
  redis.call('ZREM', KEYS[1], id)
end
return ids
