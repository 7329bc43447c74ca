--[[
  Included at the top of the transition scripts. Appends one global event to the queue's bounded
  stream (`<base>events`, XADD MAXLEN ~ maxLen) when global events are on (maxLen > 0); costs
  nothing when they are off. Extra field/value pairs follow the job id and type.
]]
local function emitEvent(maxLen, base, name, id, jtype, ...)
  if maxLen > 0 then
    redis.call('XADD', base .. 'events', 'MAXLEN', '~', maxLen, '*', 'event', name, 'jobId', id, 'type', jtype, ...)
  end
end

