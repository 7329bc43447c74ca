--[[
  Replaces the experiment only if it is still the one the caller read (same id, still running),
  so two instances cannot both promote, or undo each other's retirements.

  KEYS[1]  experiment key (JSON)
  ARGV[1]  expected experiment id
  ARGV[2]  new experiment JSON

  Returns 1 when replaced, 0 when the stored experiment changed meanwhile.
]]
local raw = redis.call('GET', KEYS[1])
if not raw then
  return 0
end
local current = cjson.decode(raw)
if current['id'] ~= ARGV[1] or current['status'] ~= 'running' then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2])
return 1
