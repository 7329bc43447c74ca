--[[
  Adds one outcome to an arm's statistics, overall and in its context, atomically, so every
  service instance learns from the same counts.

  KEYS[1]  statistics hash of the scope: field = arm|context|stat (context empty = overall)
  KEYS[2]  latency list of the arm (newest first)
  KEYS[3]  best examples sorted set of the scope (score = quality)
  ARGV[1]  arm id
  ARGV[2]  context value ('' for none)
  ARGV[3]  latency in ms ('' for none)
  ARGV[4]  latencies kept
  ARGV[5]  example JSON ('' for none)
  ARGV[6]  example score (quality)
  ARGV[7]  examples kept
  ARGV[8], ARGV[9], …  stat name and increment pairs

  Returns the arm's overall outcome count after the update.
]]
local arm, context = ARGV[1], ARGV[2]
for i = 8, #ARGV, 2 do
  local field, value = ARGV[i], ARGV[i + 1]
  redis.call('HINCRBYFLOAT', KEYS[1], arm .. '||' .. field, value)
  if context ~= '' then
    redis.call('HINCRBYFLOAT', KEYS[1], arm .. '|' .. context .. '|' .. field, value)
  end
end
if ARGV[3] ~= '' then
  redis.call('LPUSH', KEYS[2], ARGV[3])
  redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[4]) - 1)
end
if ARGV[5] ~= '' then
  redis.call('ZADD', KEYS[3], ARGV[6], ARGV[5])
  local extra = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[7])
  if extra > 0 then
    redis.call('ZREMRANGEBYRANK', KEYS[3], 0, extra - 1)
  end
end
return redis.call('HGET', KEYS[1], arm .. '||n')
