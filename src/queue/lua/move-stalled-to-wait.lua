--[[
  The stalled checker: active jobs whose lock expired (their worker died or lost Redis) go back
  to waiting; a job that stalled more than maxStalledCount times fails for good. Guarded by an
  expiring key, so one process runs it per interval. Also drops metric minutes older than an hour.

  KEYS[1]  active zset (score lock expiry)
  KEYS[2]  guard key
  KEYS[3]  failed zset
  KEYS[4]  counts hash
  KEYS[5]  metrics hash
  ARGV[1]  key base
  ARGV[2]  now (epoch ms)
  ARGV[3]  guard expiry (ms)
  ARGV[4]  maxStalledCount
  ARGV[5]  max jobs per run
  ARGV[6]  events stream max length (0 = global events off)

  Returns {ran (1|0), recovered ids, failed ids}
]]
local base = ARGV[1]
local now = tonumber(ARGV[2])
if not redis.call('SET', KEYS[2], now, 'NX', 'PX', ARGV[3]) then return {0, {}, {}} end
local maxStalled = tonumber(ARGV[4])
local maxLen = tonumber(ARGV[6])
local minute = math.floor(now / 60000)
local recovered, dead = {}, {}
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[5]))
for _, id in ipairs(ids) do
  local jobKey = base .. 'job:' .. id
  redis.call('ZREM', KEYS[1], id)
  local f = redis.call('HMGET', jobKey, 'type', 'pri', 'seq')
  if f[1] then
    local stalls = redis.call('HINCRBY', jobKey, 'stc', 1)
    if stalls > maxStalled then
      redis.call('HINCRBY', jobKey, 'atm', 1)
      redis.call('HSET', jobKey, 'st', 'failed', 'fin', now, 'tok', '', 'err',
        cjson.encode({name = 'StalledJobError', message = 'job stalled more than maxStalledCount (' .. maxStalled .. ') times'}))
      redis.call('ZADD', KEYS[3], now, id)
      redis.call('HINCRBY', KEYS[4], 'f:' .. f[1], 1)
      redis.call('HINCRBY', KEYS[5], 'f:' .. minute, 1)
      dead[#dead + 1] = id
      emitEvent(maxLen, base, 'stalled', id, f[1], 'failed', 1)
      if maxLen > 0 then emitEvent(maxLen, base, 'dead', id, f[1], 'error', redis.call('HGET', jobKey, 'err')) end
    else
      redis.call('HSET', jobKey, 'st', 'waiting', 'tok', '')
      redis.call('ZADD', base .. 'wait:' .. f[1], tonumber(f[2]) * 1000000000000 + tonumber(f[3]), id)
      redis.call('ZADD', base .. 'marker:' .. f[1], 0, '0')
      recovered[#recovered + 1] = id
      emitEvent(maxLen, base, 'stalled', id, f[1], 'failed', 0)
    end
  end
end
for _, field in ipairs(redis.call('HKEYS', KEYS[5])) do
  local m = tonumber(string.sub(field, 3))
  if m and m < minute - 60 then redis.call('HDEL', KEYS[5], field) end
end
return {1, recovered, dead}
