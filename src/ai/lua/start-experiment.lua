--[[
  Makes an experiment the template's current one, unless another one is still running: the
  check and the write are one step, so two instances starting experiments at once cannot both
  win (the loser is told, and nothing it sent is stored).

  KEYS[1]  experiment key (JSON)
  ARGV[1]  new experiment JSON

  Returns 1 when stored, 0 when a running experiment is in the way.
]]
local raw = redis.call('GET', KEYS[1])
if raw then
  local current = cjson.decode(raw)
  if current['status'] == 'running' then
    return 0
  end
end
redis.call('SET', KEYS[1], ARGV[1])
return 1
