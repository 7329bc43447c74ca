--[[
  Records one sent message in a single round trip: its metadata (for later webhook and tracking
  events) and the day's counters.

  KEYS[1]  message metadata hash   prefix:{email}:msg:<messageId>
  KEYS[2]  day counters hash       prefix:{email}:stats:<YYYY-MM-DD>
  ARGV[1]  template name, or ''
  ARGV[2]  tags joined with ','
  ARGV[3]  sent-at epoch ms
  ARGV[4]  metadata TTL in ms
  ARGV[5]  counters TTL in seconds
  ARGV[6..] counter fields to increment by 1 (e.g. 'all:sent', 'template:welcome:sent')
  Returns 1.
]]
redis.call('HSET', KEYS[1], 'template', ARGV[1], 'tags', ARGV[2], 'status', 'sent', 'at', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
for i = 6, #ARGV do
  redis.call('HINCRBY', KEYS[2], ARGV[i], 1)
end
if redis.call('TTL', KEYS[2]) < 0 then
  redis.call('EXPIRE', KEYS[2], ARGV[5])
end
return 1
