--[[
  Points a label at an existing version.

  KEYS[1]  versions hash
  KEYS[2]  labels hash
  ARGV[1]  label
  ARGV[2]  version number

  Returns 1 when moved, 0 when the version does not exist.
]]
if redis.call('HEXISTS', KEYS[1], ARGV[2]) == 0 then
  return 0
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
