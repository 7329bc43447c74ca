--[[
  Stores a job's progress, only while the caller still holds its lock.

  KEYS[1]  the job hash
  ARGV[1]  lock token
  ARGV[2]  progress JSON
  ARGV[3]  key base
  ARGV[4]  events stream max length (0 = global events off)
  ARGV[5]  job id

  Returns 1 stored, 0 lock lost.
]]
if redis.call('HGET', KEYS[1], 'tok') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'prog', ARGV[2])
if tonumber(ARGV[4]) > 0 then
  emitEvent(tonumber(ARGV[4]), ARGV[3], 'progress', ARGV[5], redis.call('HGET', KEYS[1], 'type'), 'progress', ARGV[2])
end
return 1
