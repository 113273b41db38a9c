-- wrapup_done.lua: the agent finished after-call work before the timer did.
-- KEYS[1]  tenant prefix
-- ARGV[1]  now            ARGV[2]  task id
-- Returns  {"completed", reservation ids created for the freed worker...}
local tid = ARGV[2]
local state = hget(k_task(tid), "state")
if not state then die("UNKNOWN task " .. tid) end
if state ~= "wrapping" then die("ILLEGAL task " .. tid .. " " .. state .. " completed") end
redis.call("HSET", k_task(tid), "wrapup_end_at", num(NOW))
finish_task(tid, "completed", "wrapup-done")
local out = {"completed"}
for _, r in ipairs(CREATED) do out[#out + 1] = r end
return out
