--[[
  Deletes a schedule and the job of its pending tick when that job has not started yet.

  KEYS[1]  schedule hash
  KEYS[2]  schedules set
  KEYS[3]  delayed zset
  KEYS[4]  counts hash
  ARGV[1]  key base
  ARGV[2]  schedule id

  Returns 1 removed, 0 no such schedule.
]]
local next = redis.call('HGET', KEYS[1], 'next')
redis.call('SREM', KEYS[2], ARGV[2])
if not next then return 0 end
if tonumber(next) >= 0 then dropPendingJob(ARGV[1], 'repeat:' .. ARGV[2] .. ':' .. next, KEYS[3], KEYS[4]) end
redis.call('DEL', KEYS[1])
return 1
