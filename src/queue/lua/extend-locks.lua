--[[
  Renews the locks of one worker's active jobs in one call.

  KEYS[1]  active zset (score lock expiry)
  ARGV[1]  key base
  ARGV[2]  new lock expiry (epoch ms)
  then 2 per job: id, lock token

  Returns the ids whose lock was lost (token changed or job no longer active).
]]
local base = ARGV[1]
local lost = {}
for i = 3, #ARGV, 2 do
  local id = ARGV[i]
  if redis.call('HGET', base .. 'job:' .. id, 'tok') == ARGV[i + 1] and redis.call('ZSCORE', KEYS[1], id) then
    redis.call('ZADD', KEYS[1], 'XX', ARGV[2], id)
  else
    lost[#lost + 1] = id
  end
end
return lost
