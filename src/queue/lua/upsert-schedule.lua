--[[
  Creates or updates a repeatable-job schedule and makes sure the job of its next tick exists.
  Upserting the same repeat options again keeps the pending tick (many processes may upsert the
  same schedule at start-up); new repeat options drop the pending job if it has not started and
  plan the given first tick. The template (type, data, opts, priority, group) applies to the
  ticks produced from now on.

  Schedule hash fields: repeat (JSON), type, data, opts, pri, grp, lim (0 = none), next (-1 = none),
  cnt (jobs produced), ts (created).

  KEYS[1]  schedule hash
  KEYS[2]  schedules set
  KEYS[3]  id counter
  KEYS[4]  delayed zset
  KEYS[5]  types set
  KEYS[6]  counts hash
  ARGV[1]  key base
  ARGV[2]  now (epoch ms)
  ARGV[3]  events stream max length (0 = events off)
  ARGV[4]  schedule id
  ARGV[5]  repeat JSON
  ARGV[6..10]  type, data JSON, opts JSON, priority, group ('' = none)
  ARGV[11] limit (0 = none)
  ARGV[12] first tick (-1 = none)

  Returns {next tick (-1 none), jobs produced}
]]
local base = ARGV[1]
local now = tonumber(ARGV[2])
local maxLen = tonumber(ARGV[3])
local sid = ARGV[4]
local limit = tonumber(ARGV[11])
local first = tonumber(ARGV[12])
local old = redis.call('HMGET', KEYS[1], 'repeat', 'next', 'cnt')
local count = tonumber(old[3]) or 0
local next = tonumber(old[2]) or -1
redis.call('HSET', KEYS[1], 'repeat', ARGV[5], 'type', ARGV[6], 'data', ARGV[7], 'opts', ARGV[8], 'pri', ARGV[9], 'grp', ARGV[10],
  'lim', limit)
if not old[1] then redis.call('HSET', KEYS[1], 'ts', now, 'cnt', 0) end
redis.call('SADD', KEYS[2], sid)
if old[1] == ARGV[5] and next >= 0 then return {next, count} end
if next >= 0 and dropPendingJob(base, 'repeat:' .. sid .. ':' .. next, KEYS[4], KEYS[6]) == 1 then count = count - 1 end
next = -1
if first >= 0 and (limit == 0 or count < limit) then
  next = first
  count = count + produceScheduledJob(base, now, KEYS[1], sid, first, KEYS[3], KEYS[4], KEYS[5], KEYS[6], maxLen)
end
redis.call('HSET', KEYS[1], 'next', next, 'cnt', count)
return {next, count}
