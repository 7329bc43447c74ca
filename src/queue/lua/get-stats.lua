--[[
  Reads a consistent snapshot for getStats().

  KEYS[1]  active zset
  KEYS[2]  delayed zset
  KEYS[3]  completed zset
  KEYS[4]  failed zset
  KEYS[5]  types set
  KEYS[6]  counts hash
  KEYS[7]  metrics hash
  KEYS[8]  meta hash
  ARGV[1]  key base

  Returns {paused, active, delayed, completed, failed, types, counts (flat hash),
           metrics (flat hash)} where types is {type, waiting, headCreatedAt (-1 none), active}...
]]
local base = ARGV[1]
local activeByType = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local jtype = redis.call('HGET', base .. 'job:' .. id, 'type')
  if jtype then activeByType[jtype] = (activeByType[jtype] or 0) + 1 end
end
local types = {}
for _, jtype in ipairs(redis.call('SMEMBERS', KEYS[5])) do
  local waitKey = base .. 'wait:' .. jtype
  local head = redis.call('ZRANGE', waitKey, 0, 0)
  local headTs = -1
  if head[1] then headTs = tonumber(redis.call('HGET', base .. 'job:' .. head[1], 'ts')) or -1 end
  types[#types + 1] = {jtype, redis.call('ZCARD', waitKey), headTs, activeByType[jtype] or 0}
end
local paused = 0
if redis.call('HGET', KEYS[8], 'paused') then paused = 1 end
return {paused, redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2]), redis.call('ZCARD', KEYS[3]),
  redis.call('ZCARD', KEYS[4]), types, redis.call('HGETALL', KEYS[6]), redis.call('HGETALL', KEYS[7])}
