--[[
  Adds N jobs atomically (one call for add and addBulk). A job whose id already exists is left
  as it is (idempotent add) and reported as existing.

  Job hash fields: type, data, opts, ts (created), seq, pri, run (runAt, absent = 0), st (state),
  tc (trace carrier), grp (rate-limit group); ats (starts), atm (attempts finished) and stc (stalls) appear on first use.

  KEYS[1]  id counter (also the FIFO sequence; one INCRBY per call)
  KEYS[2]  delayed zset (score runAt)
  KEYS[3]  types set
  KEYS[4]  counts hash (d:<type>, c:<type>, f:<type>)
  ARGV[1]  key base 'prefix:{name}:' (job, wait and marker keys are built from it; same slot)
  ARGV[2]  now (epoch ms)
  ARGV[3]  number of jobs
  ARGV[4]  events stream max length (0 = global events off)
  ARGV[5]  number of shapes S: what jobs of a batch share is sent once (few bytes per job)
  then 6 per shape: type, opts JSON, priority, runAt (0 = now), trace carrier JSON ('' = none), group ('' = none)
  then 3 per job: jobId ('' = generate), shape index (1-based), data JSON

  Returns {id1, existed1 (0|1), id2, existed2, ...}
]]
local base = ARGV[1]
local now = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local maxLen = tonumber(ARGV[4])
local nshapes = tonumber(ARGV[5])
local shapes = {}
for k = 0, nshapes - 1 do
  local o = 6 + k * 6
  -- Numbers are kept as sent too: HSET takes the text without a number-to-string conversion.
  shapes[k + 1] = {ARGV[o], ARGV[o + 1], tonumber(ARGV[o + 2]), tonumber(ARGV[o + 3]), ARGV[o + 4], ARGV[o + 5], ARGV[o + 2], ARGV[o + 3]}
end
local jobsAt = 6 + nshapes * 6
-- One INCRBY numbers the whole batch (a duplicate jobId leaves a gap, which nothing relies on).
local nextSeq = redis.call('INCRBY', KEYS[1], n) - n + 1
local out = {}
local woken = {}
local types = {}
local waitKeys = {}
-- The head of delayed is read only when this call delays a job (most calls delay none).
local earliest
local earliestRead = false

for i = 0, n - 1 do
  local o = jobsAt + i * 3
  local id = ARGV[o]
  local shape = shapes[tonumber(ARGV[o + 1])]
  local jtype = shape[1]
  local pri = shape[3]
  local runAt = shape[4]
  local jobKey
  local existed = 0
  if id ~= '' then
    jobKey = base .. 'job:' .. id
    if redis.call('EXISTS', jobKey) == 1 then existed = 1 end
  end
  if existed == 0 then
    local seq = nextSeq
    local seqText = tostring(seq)
    nextSeq = nextSeq + 1
    if id == '' then
      id = seqText
      jobKey = base .. 'job:' .. id
    end
    local st = 'waiting'
    if runAt > now then st = 'delayed' end
    redis.call('HSET', jobKey, 'type', jtype, 'data', ARGV[o + 2], 'opts', shape[2], 'ts', ARGV[2], 'seq', seqText,
      'pri', shape[7], 'st', st, 'run', shape[8])
    if shape[5] ~= '' then redis.call('HSET', jobKey, 'tc', shape[5]) end
    if shape[6] ~= '' then redis.call('HSET', jobKey, 'grp', shape[6]) end
    if not types[jtype] then
      types[jtype] = true
      redis.call('SADD', KEYS[3], jtype)
    end
    if st == 'delayed' then
      if not earliestRead then
        earliestRead = true
        earliest = tonumber(redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')[2])
      end
      redis.call('ZADD', KEYS[2], runAt, id)
      redis.call('HINCRBY', KEYS[4], 'd:' .. jtype, 1)
      if earliest == nil or runAt < earliest then
        earliest = runAt
        redis.call('ZADD', base .. 'marker:' .. jtype, runAt, '0')
      end
      if maxLen > 0 then emitEvent(maxLen, base, 'delayed', id, jtype, 'runAt', runAt) end
    else
      local waitKey = waitKeys[jtype]
      if not waitKey then
        waitKey = base .. 'wait:' .. jtype
        waitKeys[jtype] = waitKey
      end
      redis.call('ZADD', waitKey, pri * 1000000000000 + seq, id)
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
