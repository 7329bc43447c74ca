--[[
  Moves a schedule from the tick whose job just started to the following one and produces that
  tick's job. Only the caller that sees the schedule still at `tick` wins; every other worker that
  races for the same tick changes nothing. This is what makes a schedule fire once per tick.

  KEYS[1]  schedule hash
  KEYS[2]  id counter
  KEYS[3]  delayed zset
  KEYS[4]  types set
  KEYS[5]  counts hash
  ARGV[1]  key base
  ARGV[2]  now (epoch ms)
  ARGV[3]  events stream max length (0 = events off)
  ARGV[4]  schedule id
  ARGV[5]  the tick that started
  ARGV[6]  the following tick (-1 = none: past endDate)

  Returns 1 when this call advanced the schedule, 0 otherwise.
]]
local base = ARGV[1]
local now = tonumber(ARGV[2])
local f = redis.call('HMGET', KEYS[1], 'next', 'cnt', 'lim')
if not f[1] or f[1] ~= ARGV[5] then return 0 end
local count = tonumber(f[2]) or 0
local limit = tonumber(f[3]) or 0
local following = tonumber(ARGV[6])
local next = -1
if following >= 0 and (limit == 0 or count < limit) then
  next = following
  count = count + produceScheduledJob(base, now, KEYS[1], ARGV[4], following, KEYS[2], KEYS[3], KEYS[4], KEYS[5], tonumber(ARGV[3]))
end
redis.call('HSET', KEYS[1], 'next', next, 'cnt', count)
return 1
