--[[
  Stores a job's progress, only while the caller still holds its lock.

  KEYS[1]  the job hash
  ARGV[1]  lock token
  ARGV[2]  progress JSON

  Returns 1 stored, 0 lock lost.
]]
if redis.call('HGET', KEYS[1], 'tok') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'prog', ARGV[2])
return 1
