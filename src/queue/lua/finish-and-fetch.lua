--[[
  Finishes a batch of jobs and fetches the next ones in one call (one round trip, one script run,
  atomic as a whole). Composed in the driver: this driver follows the bodies of
  move-to-finished.lua and move-to-active.lua, each wrapped as a function of (KEYS, ARGV), so
  both keep their own documented KEYS/ARGV.

  KEYS[1]  active zset
  KEYS[2]  completed zset
  KEYS[3]  failed zset
  KEYS[4]  delayed zset
  KEYS[5]  counts hash
  KEYS[6]  metrics hash
  KEYS[7]  meta hash
  ARGV[1]  number F of move-to-finished arguments
  then F move-to-finished arguments, then the move-to-active arguments

  Returns {move-to-finished reply, move-to-active reply}
]]
local nf = tonumber(ARGV[1])
local finishArgs, fetchArgs = {}, {}
for i = 2, nf + 1 do finishArgs[#finishArgs + 1] = ARGV[i] end
for i = nf + 2, #ARGV do fetchArgs[#fetchArgs + 1] = ARGV[i] end
local acked = finishJobs({KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]}, finishArgs)
local fetched = fetchJobs({KEYS[4], KEYS[1], KEYS[7], KEYS[5]}, fetchArgs)
return {acked, fetched}
