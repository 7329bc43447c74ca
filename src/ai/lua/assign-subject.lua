--[[
  Sticky assignment: the first arm stored for a subject wins, on every instance, as long as that
  arm is still active (a retired arm's subjects are reassigned).

  KEYS[1]  assignments hash of the experiment: field = subject id, value = arm id
  ARGV[1]  subject id
  ARGV[2]  proposed arm id
  ARGV[3]  time to live of the hash in ms, renewed on each assignment (0 = none)
  ARGV[4..] active arm ids (none given: any stored arm stands)

  Returns the arm in force for the subject.
]]
local existing = redis.call('HGET', KEYS[1], ARGV[1])
if existing then
  if #ARGV < 4 then
    return existing
  end
  for i = 4, #ARGV do
    if ARGV[i] == existing then
      return existing
    end
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return ARGV[2]
