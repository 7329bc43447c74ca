--[[
  Included by the schedule scripts (after emit-event). Adds the job of one schedule tick with the
  id `repeat:<schedule id>:<tick>`, so a tick produces at most one job however many processes
  race for it. The template is read from the schedule hash.

  Returns 1 when the job was added, 0 when it already existed.
]]
local function produceScheduledJob(base, now, scheduleKey, sid, tick, idKey, delayedKey, typesKey, countsKey, maxLen)
  local id = 'repeat:' .. sid .. ':' .. tick
  local jobKey = base .. 'job:' .. id
  if redis.call('EXISTS', jobKey) == 1 then return 0 end
  local t = redis.call('HMGET', scheduleKey, 'type', 'data', 'opts', 'pri', 'grp')
  local jtype = t[1]
  local seq = redis.call('INCR', idKey)
  local st = 'waiting'
  if tick > now then st = 'delayed' end
  redis.call('HSET', jobKey, 'type', jtype, 'data', t[2], 'opts', t[3], 'ts', now, 'seq', seq, 'pri', t[4], 'st', st,
    'run', tick, 'sch', sid)
  if t[5] and t[5] ~= '' then redis.call('HSET', jobKey, 'grp', t[5]) end
  redis.call('SADD', typesKey, jtype)
  if st == 'delayed' then
    redis.call('ZADD', delayedKey, tick, id)
    redis.call('HINCRBY', countsKey, 'd:' .. jtype, 1)
    redis.call('ZADD', base .. 'marker:' .. jtype, tick, '0')
    emitEvent(maxLen, base, 'delayed', id, jtype, 'runAt', tick)
  else
    redis.call('ZADD', base .. 'wait:' .. jtype, tonumber(t[4]) * 1000000000000 + seq, id)
    redis.call('ZADD', base .. 'marker:' .. jtype, 0, '0')
    emitEvent(maxLen, base, 'added', id, jtype)
  end
  return 1
end

--[[ Takes a not-yet-started job (waiting or delayed) out of its line and deletes it; 1 if it did. ]]
local function dropPendingJob(base, id, delayedKey, countsKey)
  local jobKey = base .. 'job:' .. id
  local f = redis.call('HMGET', jobKey, 'st', 'type')
  if f[1] == 'waiting' then
    redis.call('ZREM', base .. 'wait:' .. f[2], id)
  elseif f[1] == 'delayed' then
    redis.call('ZREM', delayedKey, id)
    redis.call('HINCRBY', countsKey, 'd:' .. f[2], -1)
  else
    return 0
  end
  redis.call('DEL', jobKey, jobKey .. ':logs')
  return 1
end

