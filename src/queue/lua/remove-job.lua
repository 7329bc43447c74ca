--[[
  Removes one job that is not active (an active job is owned by its worker).

  KEYS[1]  the job hash
  KEYS[2]  delayed zset
  KEYS[3]  completed zset
  KEYS[4]  failed zset
  KEYS[5]  counts hash
  ARGV[1]  key base
  ARGV[2]  job id

  Returns 1 removed, 0 no such job, -1 active (not removed).
]]
local base = ARGV[1]
local id = ARGV[2]
local f = redis.call('HMGET', KEYS[1], 'st', 'type')
if not f[1] then return 0 end
if f[1] == 'active' then return -1 end
local jtype = f[2]
if f[1] == 'waiting' then
  redis.call('ZREM', base .. 'wait:' .. jtype, id)
elseif f[1] == 'delayed' then
  redis.call('ZREM', KEYS[2], id)
  redis.call('HINCRBY', KEYS[5], 'd:' .. jtype, -1)
elseif f[1] == 'completed' then
  redis.call('ZREM', KEYS[3], id)
  redis.call('HINCRBY', KEYS[5], 'c:' .. jtype, -1)
elseif f[1] == 'failed' then
  redis.call('ZREM', KEYS[4], id)
  redis.call('HINCRBY', KEYS[5], 'f:' .. jtype, -1)
end
redis.call('DEL', KEYS[1], KEYS[1] .. ':logs')
return 1
