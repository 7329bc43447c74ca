--[[
  Stores a new immutable template version and moves labels to it, atomically.

  KEYS[1]  versions hash: field = version number, value = version JSON (without its number)
  KEYS[2]  labels hash: field = label, value = version number
  ARGV[1]  version JSON
  ARGV[2..] labels to point at the new version (besides `latest`, always moved)

  Returns the new version number (1 for the first).
]]
local version = redis.call('HLEN', KEYS[1]) + 1
while redis.call('HSETNX', KEYS[1], version, ARGV[1]) == 0 do
  version = version + 1
end
redis.call('HSET', KEYS[2], 'latest', version)
for i = 2, #ARGV do
  redis.call('HSET', KEYS[2], ARGV[i], version)
end
return version
