--[[
  Finishes N active jobs in one call (batched acknowledgement). Each job is checked against its
  lock token first: a job whose lock was lost (stalled and handed to another worker) is left
  alone and reported as 0.

  Kinds: 'c' completed, 'f' failed for good (dead letter), 'r' failed and retried (at runAt, or
  now when runAt <= now), 'h' handed back unfinished (shutdown; the attempt does not count).
  Keep policy for 'c'/'f': '' keep, 'r' remove now, 'k<N>' keep the newest N, 'a<ms>' keep for ms.

  KEYS[1]  active zset
  KEYS[2]  completed zset (score finishedOn)
  KEYS[3]  failed zset (score finishedOn)
  KEYS[4]  delayed zset
  KEYS[5]  counts hash
  KEYS[6]  metrics hash (c:<minute>, f:<minute>)
  ARGV[1]  key base
  ARGV[2]  now (epoch ms)
  ARGV[3]  number of jobs
  ARGV[4]  events stream max length (0 = global events off)
  then 6 per job: id, lock token, kind, value (result or error JSON), runAt (for 'r'), keep policy

  Returns {ok1 (1|0), ok2, ...}
]]
local base = ARGV[1]
local now = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local maxLen = tonumber(ARGV[4])
local minute = math.floor(now / 60000)
local out = {}
local done, failed = 0, 0
local woken = {}

local function wake(jtype, score)
  if not woken[jtype] then
    woken[jtype] = true
    redis.call('ZADD', base .. 'marker:' .. jtype, score, '0')
  end
end

local function drop(setKey, prefix, ids)
  for _, id in ipairs(ids) do
    local jobKey = base .. 'job:' .. id
    local jtype = redis.call('HGET', jobKey, 'type')
    if jtype then redis.call('HINCRBY', KEYS[5], prefix .. jtype, -1) end
    redis.call('DEL', jobKey, jobKey .. ':logs')
    redis.call('ZREM', setKey, id)
  end
end

local function keep(setKey, prefix, policy, id, jobKey, jtype)
  if policy == 'r' then
    redis.call('DEL', jobKey, jobKey .. ':logs')
    return
  end
  redis.call('ZADD', setKey, now, id)
  redis.call('HINCRBY', KEYS[5], prefix .. jtype, 1)
  local mode = string.sub(policy, 1, 1)
  local value = tonumber(string.sub(policy, 2))
  if mode == 'k' then
    local extra = redis.call('ZCARD', setKey) - value
    if extra > 0 then drop(setKey, prefix, redis.call('ZRANGE', setKey, 0, extra - 1)) end
  elseif mode == 'a' then
    drop(setKey, prefix, redis.call('ZRANGEBYSCORE', setKey, '-inf', now - value, 'LIMIT', 0, 1000))
  end
end

for i = 0, n - 1 do
  local o = 5 + i * 6
  local id = ARGV[o]
  local kind = ARGV[o + 2]
  local jobKey = base .. 'job:' .. id
  local f = redis.call('HMGET', jobKey, 'tok', 'type', 'pri', 'seq', 'atm')
  -- The token check comes first; ZREM then both checks the job is still active and removes it.
  if f[1] ~= ARGV[o + 1] or redis.call('ZREM', KEYS[1], id) == 0 then
    out[#out + 1] = 0
  else
    out[#out + 1] = 1
    local jtype = f[2]
    if kind == 'h' then
      redis.call('HSET', jobKey, 'st', 'waiting', 'tok', '')
      redis.call('ZADD', base .. 'wait:' .. jtype, tonumber(f[3]) * 1000000000000 + tonumber(f[4]), id)
      wake(jtype, 0)
    else
      -- A job removed on finishing needs no attempt count.
      if kind == 'r' or ARGV[o + 5] ~= 'r' then redis.call('HINCRBY', jobKey, 'atm', 1) end
      local attempt = (tonumber(f[5]) or 0) + 1
      if kind == 'c' then
        done = done + 1
        if maxLen > 0 then emitEvent(maxLen, base, 'completed', id, jtype, 'attempt', attempt, 'result', ARGV[o + 3]) end
        if ARGV[o + 5] ~= 'r' then
          redis.call('HSET', jobKey, 'st', 'completed', 'fin', now, 'res', ARGV[o + 3], 'tok', '')
        end
        keep(KEYS[2], 'c:', ARGV[o + 5], id, jobKey, jtype)
      else
        failed = failed + 1
        if kind == 'f' then
          if maxLen > 0 then emitEvent(maxLen, base, 'failed', id, jtype, 'attempt', attempt, 'error', ARGV[o + 3], 'willRetry', 0) end
          if maxLen > 0 then emitEvent(maxLen, base, 'dead', id, jtype, 'attempt', attempt, 'error', ARGV[o + 3]) end
          if ARGV[o + 5] ~= 'r' then
            redis.call('HSET', jobKey, 'st', 'failed', 'fin', now, 'err', ARGV[o + 3], 'tok', '')
          end
          keep(KEYS[3], 'f:', ARGV[o + 5], id, jobKey, jtype)
        else
          local runAt = tonumber(ARGV[o + 4])
          if maxLen > 0 then emitEvent(maxLen, base, 'failed', id, jtype, 'attempt', attempt, 'error', ARGV[o + 3], 'willRetry', 1) end
          if maxLen > 0 then emitEvent(maxLen, base, 'retrying', id, jtype, 'attempt', attempt, 'runAt', runAt) end
          redis.call('HSET', jobKey, 'err', ARGV[o + 3], 'tok', '', 'run', runAt)
          if runAt > now then
            redis.call('HSET', jobKey, 'st', 'delayed')
            redis.call('ZADD', KEYS[4], runAt, id)
            redis.call('HINCRBY', KEYS[5], 'd:' .. jtype, 1)
            wake(jtype, runAt)
          else
            redis.call('HSET', jobKey, 'st', 'waiting')
            redis.call('ZADD', base .. 'wait:' .. jtype, tonumber(f[3]) * 1000000000000 + tonumber(f[4]), id)
            wake(jtype, 0)
          end
        end
      end
    end
  end
end
if done > 0 then redis.call('HINCRBY', KEYS[6], 'c:' .. minute, done) end
if failed > 0 then redis.call('HINCRBY', KEYS[6], 'f:' .. minute, failed) end
return out
