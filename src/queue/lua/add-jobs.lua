--[[
  Adds N jobs atomically (one call for add and addBulk). A job whose id already exists is left
  as it is (idempotent add) and reported as existing.

  Job hash fields: type, data, opts, ts (created), seq, pri, run (runAt, absent = 0), st (state),
  tc (trace carrier), grp (rate-limit group); ats (starts), atm (attempts finished) and stc (stalls) appear on first use.

  KEYS[1]  id counter (also the FIFO sequence)
  KEYS[2]  delayed zset (score runAt)
  KEYS[3]  types set
  KEYS[4]  counts hash (d:<type>, c:<type>, f:<type>)
  ARGV[1]  key base 'prefix:{name}:' (job, wait and marker keys are built from it; same slot)
  ARGV[2]  now (epoch ms)
  ARGV[3]  number of jobs
  ARGV[4]  events stream max length (0 = global events off)
  then 8 per job: jobId ('' = generate), type, data JSON, opts JSON, priority, runAt (0 = now), trace carrier JSON ('' = none),
           group ('' = none)

  Returns {id1, existed1 (0|1), id2, existed2, ...}
]]
local base = ARGV[1]
local now = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local maxLen = tonumber(ARGV[4])
local out = {}
local woken = {}
local types = {}
local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
local earliest = tonumber(first[2])

for i = 0, n - 1 do
  local o = 5 + i * 8
  local id = ARGV[o]
  local jtype = ARGV[o + 1]
  local pri = tonumber(ARGV[o + 4])
  local runAt = tonumber(ARGV[o + 5])
  local jobKey
  local existed = 0
  if id ~= '' then
    jobKey = base .. 'job:' .. id
    if redis.call('EXISTS', jobKey) == 1 then existed = 1 end
  end
  if existed == 0 then
    local seq = redis.call('INCR', KEYS[1])
    if id == '' then
      id = tostring(seq)
      jobKey = base .. 'job:' .. id
    end
    local st = 'waiting'
    if runAt > now then st = 'delayed' end
    redis.call('HSET', jobKey, 'type', jtype, 'data', ARGV[o + 2], 'opts', ARGV[o + 3], 'ts', now, 'seq', seq,
      'pri', pri, 'st', st, 'run', runAt)
    if ARGV[o + 6] ~= '' then redis.call('HSET', jobKey, 'tc', ARGV[o + 6]) end
    if ARGV[o + 7] ~= '' then redis.call('HSET', jobKey, 'grp', ARGV[o + 7]) end
    if not types[jtype] then
      types[jtype] = true
      redis.call('SADD', KEYS[3], jtype)
    end
    if st == 'delayed' then
      redis.call('ZADD', KEYS[2], runAt, id)
      redis.call('HINCRBY', KEYS[4], 'd:' .. jtype, 1)
      if earliest == nil or runAt < earliest then
        earliest = runAt
        redis.call('ZADD', base .. 'marker:' .. jtype, runAt, '0')
      end
      if maxLen > 0 then emitEvent(maxLen, base, 'delayed', id, jtype, 'runAt', runAt) end
    else
      redis.call('ZADD', base .. 'wait:' .. jtype, pri * 1000000000000 + seq, id)
      if not woken[jtype] then
        woken[jtype] = true
        redis.call('ZADD', base .. 'marker:' .. jtype, 0, '0')
      end
      if maxLen > 0 then emitEvent(maxLen, base, 'added', id, jtype) end
    end
  end
  out[#out + 1] = id
  out[#out + 1] = existed
end
return out
