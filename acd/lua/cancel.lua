-- cancel.lua: a waiting task goes away (caller hung up, max wait, exit key, ...).
-- KEYS[1]  tenant prefix
-- ARGV[1]  now            ARGV[2]  task id            ARGV[3]  reason
-- ARGV[4]  resume key ("" for none)                   ARGV[5]  resume window s (0: no resume)
-- Returns  {"canceled", reservation ids created for freed workers...}
local tid = ARGV[2]
if redis.call("EXISTS", k_task(tid)) == 0 then die("UNKNOWN task " .. tid) end
cancel_task(tid, ARGV[3], ARGV[4], tonumber(ARGV[5]))
local out = {"canceled"}
for _, r in ipairs(CREATED) do out[#out + 1] = r end
return out
