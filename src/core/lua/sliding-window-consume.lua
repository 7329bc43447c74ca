--[[
  Sliding-window counter for one or more rules, checked and consumed atomically.

  Each rule keeps a hash {w = index of the current fixed window, c = count in it, p = count in
  the previous window}. The estimate over the sliding window ending now is
    p * (windowMs - elapsed) / windowMs + c
  A request of `cost` is allowed only if every rule stays within its limit; then every rule is
  charged. Nothing is written on refusal, so refused attempts do not extend a ban.

  KEYS[i]  one hash per rule (all share a hash tag, so one Cluster slot)
  ARGV[1]  now, epoch ms (the caller's clock, so tests can inject time)
  ARGV[2]  cost (>= 1); 0 only peeks
  ARGV[2 + 2i - 1], ARGV[2 + 2i]  windowMs and limit of rule i

  Returns {allowed (1|0), remaining (of the tightest rule), retryAfterMs, resetMs}
]]
local now = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local rules = {}
local allowed = 1
local remaining = nil
local retry_after = 0
local reset = 0

for i = 1, #KEYS do
  local window = tonumber(ARGV[1 + 2 * i])
  local limit = tonumber(ARGV[2 + 2 * i])
  local index = math.floor(now / window)
  local stored = redis.call('HMGET', KEYS[i], 'w', 'c', 'p')
  local w, c, p = tonumber(stored[1]), tonumber(stored[2]) or 0, tonumber(stored[3]) or 0
  local current, previous = 0, 0
  if w == index then
    current, previous = c, p
  elseif w == index - 1 then
    previous = c
  end
  local elapsed = now - index * window
  -- Everything scaled by the window length so the arithmetic stays in exact integers.
  local used = previous * (window - elapsed) + current * window
  local capacity = limit * window
  local left = math.floor((capacity - used) / window)
  if cost > 0 and used + cost * window > capacity then
    allowed = 0
    local wait
    if cost > limit then
      wait = -1
    elseif current + cost > limit then
      -- Not before the next window, where the current count becomes the weighted previous one.
      wait = (window - elapsed) + (window - math.floor((limit - cost) * window / current))
    else
      wait = (window - math.floor((limit - cost - current) * window / previous)) - elapsed
    end
    if wait < 0 or retry_after < 0 then
      retry_after = -1
    elseif wait > retry_after then
      retry_after = wait
    end
  end
  rules[i] = { index, current, previous, window, w }
  if remaining == nil or left < remaining then remaining = left end
  local until_reset = (index + 1) * window - now
  if until_reset > reset then reset = until_reset end
end

if allowed == 1 and cost > 0 then
  for i = 1, #KEYS do
    local rule = rules[i]
    if rule[5] == rule[1] then
      redis.call('HINCRBY', KEYS[i], 'c', cost)
    else
      -- A window starts: store it, and set a TTL that covers this window and the next, where
      -- this count is still read as the previous one.
      redis.call('HSET', KEYS[i], 'w', rule[1], 'c', rule[2] + cost, 'p', rule[3])
      redis.call('PEXPIRE', KEYS[i], rule[4] * 2)
    end
  end
  remaining = remaining - cost
end
if remaining < 0 then remaining = 0 end

return { allowed, remaining, retry_after, reset }
