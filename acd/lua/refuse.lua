-- refuse.lua: a reservation is rejected, the agent is busy, or it rang out (timeout).
-- The task goes back to the head of its place (its original score) and is offered again;
-- the worker gets the delay of that outcome; N consecutive no-answers put it on break
-- with reason "no-answer".
-- KEYS[1]  tenant prefix
-- ARGV[1]  now            ARGV[2]  reservation id      ARGV[3]  rejected | busy | timeout
-- ARGV[4]  reject delay s ARGV[5]  busy delay s        ARGV[6]  no-answer delay s
-- ARGV[7]  no-answer limit
-- Returns  {task id, reservation ids created by the re-match...}
local rid, kind = ARGV[2], ARGV[3]
if kind ~= "rejected" and kind ~= "busy" and kind ~= "timeout" then die("BAD outcome " .. kind) end
if redis.call("EXISTS", k_res(rid)) == 0 then die("UNKNOWN reservation " .. rid) end
local tid = refuse(rid, kind, tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7]))
local out = {tid}
for _, r in ipairs(CREATED) do out[#out + 1] = r end
return out
