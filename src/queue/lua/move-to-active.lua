--[[
  Fetches up to `count` jobs per type into active (many jobs per call), after promoting delayed
  jobs that are due. Each fetched job gets a lock token `<worker token>:<starts>` and a lock
  expiry (its score in the active zset); the worker renews it while the processor runs.

  Rate limits use fixed windows. Per queue: at most `queueLimit` jobs start per window, across all
  workers. Per group: a popped job whose group already started `groupLimit` jobs this window is
  moved to delayed until the next window (so no worker polls for it).

  KEYS[1]  delayed zset
  KEYS[2]  active zset (score lock expiry)
  KEYS[3]  meta hash (paused)
  KEYS[4]  counts hash
  ARGV[1]  key base
  ARGV[2]  now (epoch ms)
  ARGV[3]  lock expiry (epoch ms)
  ARGV[4]  worker token
  ARGV[5]  queue limit (0 = none), ARGV[6] its window (ms)
  ARGV[7]  group limit (0 = none), ARGV[8] its window (ms)
  ARGV[9]  number of types
  then 2 per type: type, count (0 = only report whether jobs are waiting)

  Returns {jobs, nextDelayedAt (-1 none; or the end of a spent queue window),
           pending (1 when a type asked with count 0 has jobs)}
  where each job is {id, type, data, opts, ts, ats, atm, stc, tc, run, pri, sch}.
]]
local base = ARGV[1]
local now = tonumber(ARGV[2])
local expiry = ARGV[3]
local token = ARGV[4]
local queueLimit, queueWindow = tonumber(ARGV[5]), tonumber(ARGV[6])
local groupLimit, groupWindow = tonumber(ARGV[7]), tonumber(ARGV[8])
local ntypes = tonumber(ARGV[9])

-- The head of delayed says whether anything is due; most calls then skip the range read.
local head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local due = {}
if head[2] and tonumber(head[2]) <= now then
  due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 1000)
end
if #due > 0 then
  local woken = {}
  for _, id in ipairs(due) do
    local jobKey = base .. 'job:' .. id
    local f = redis.call('HMGET', jobKey, 'type', 'pri', 'seq')
    if f[1] then
      redis.call('ZADD', base .. 'wait:' .. f[1], tonumber(f[2]) * 1000000000000 + tonumber(f[3]), id)
      redis.call('HSET', jobKey, 'st', 'waiting')
      redis.call('HINCRBY', KEYS[4], 'd:' .. f[1], -1)
      if not woken[f[1]] then
        woken[f[1]] = true
        redis.call('ZADD', base .. 'marker:' .. f[1], 0, '0')
      end
    end
    redis.call('ZREM', KEYS[1], id)
  end
end

local nextDelayed = -1
if #due > 0 then head = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES') end
if head[2] then nextDelayed = tonumber(head[2]) end

if redis.call('HGET', KEYS[3], 'paused') then
  return {{}, nextDelayed, 0}
end

local budget = -1
local queueKey
if queueLimit > 0 then
  local window = math.floor(now / queueWindow)
  queueKey = base .. 'rl:q:' .. window
  budget = queueLimit - (tonumber(redis.call('GET', queueKey)) or 0)
  if budget <= 0 then
    local reopens = (window + 1) * queueWindow
    if nextDelayed < 0 or reopens < nextDelayed then nextDelayed = reopens end
    return {{}, nextDelayed, 0}
  end
end
local started = 0

local jobs = {}
local locked = {}
local pending = 0
for i = 0, ntypes - 1 do
  local jtype = ARGV[10 + i * 2]
  local count = tonumber(ARGV[11 + i * 2])
  if budget >= 0 and count > budget - started then count = math.max(0, budget - started) end
  local waitKey = base .. 'wait:' .. jtype
  if count > 0 then
    local popped = redis.call('ZPOPMIN', waitKey, count)
    for j = 1, #popped, 2 do
      local id = popped[j]
      local jobKey = base .. 'job:' .. id
      local limited = false
      if groupLimit > 0 then
        local group = redis.call('HGET', jobKey, 'grp')
        if group then
          local window = math.floor(now / groupWindow)
          local groupKey = base .. 'rl:g:' .. group .. ':' .. window
          local used = tonumber(redis.call('GET', groupKey)) or 0
          if used >= groupLimit then
            limited = true
            local reopens = (window + 1) * groupWindow
            redis.call('ZADD', KEYS[1], reopens, id)
            redis.call('HSET', jobKey, 'st', 'delayed', 'run', reopens)
            redis.call('HINCRBY', KEYS[4], 'd:' .. jtype, 1)
            if nextDelayed < 0 or reopens < nextDelayed then nextDelayed = reopens end
          else
            redis.call('INCR', groupKey)
            if used == 0 then redis.call('PEXPIRE', groupKey, groupWindow * 2) end
          end
        end
      end
      if not limited then
        local f = redis.call('HMGET', jobKey, 'type', 'data', 'opts', 'ts', 'atm', 'stc', 'tc', 'run', 'pri', 'ats', 'sch')
        local ats = (tonumber(f[10]) or 0) + 1
        redis.call('HSET', jobKey, 'st', 'active', 'tok', token .. ':' .. ats, 'pro', ARGV[2], 'ats', ats)
        -- One ZADD for the whole fetch (flushed every 500 jobs to bound unpack's stack use).
        locked[#locked + 1] = expiry
        locked[#locked + 1] = id
        if #locked >= 1000 then
          redis.call('ZADD', KEYS[2], unpack(locked))
          locked = {}
        end
        jobs[#jobs + 1] = {id, f[1], f[2], f[3], f[4], ats, f[5] or 0, f[6] or 0, f[7] or '', f[8] or 0, f[9], f[11] or ''}
        started = started + 1
      end
    end
    if #popped == count * 2 and redis.call('EXISTS', waitKey) == 1 then
      -- more are waiting: wake another worker
      redis.call('ZADD', base .. 'marker:' .. jtype, 0, '0')
    end
  elseif redis.call('EXISTS', waitKey) == 1 then
    pending = 1
  end
end
if #locked > 0 then redis.call('ZADD', KEYS[2], unpack(locked)) end
if queueKey and started > 0 then
  if redis.call('INCRBY', queueKey, started) == started then redis.call('PEXPIRE', queueKey, queueWindow * 2) end
end
return {jobs, nextDelayed, pending}
