-- complete.lua: the conversation ended; after-call work starts (or the task completes).
-- KEYS[1]  tenant prefix
-- ARGV[1]  now            ARGV[2]  task id
-- ARGV[3]  wrap-up seconds (negative: the queue's wrapup_s)
-- Returns  {task state, reservation ids created for the freed worker...}
local tid = ARGV[2]
local tk = k_task(tid)
local f = redis.call("HMGET", tk, "state", "worker", "queue", "answered_at")
if not f[1] then die("UNKNOWN task " .. tid) end
if f[1] ~= "assigned" then die("ILLEGAL task " .. tid .. " " .. f[1] .. " completed") end
local wid, rq = f[2], f[3]
local wk = k_worker(wid)
local base = hget(k_cfg(rq), "base") or rq
local aht_key = P .. "q:" .. base .. ":aht"
redis.call("LPUSH", aht_key, string.format("%.3f", NOW - tonumber(f[4])))
redis.call("LTRIM", aht_key, 0, 99)
local wrap = tonumber(ARGV[3])
if wrap < 0 then wrap = hnum(k_cfg(rq), "wrapup_s", 0) end
local act = hget(wk, "activity")
if wrap > 0 then
  task_state_change(tid, "assigned", "wrapping")
  redis.call("HSET", tk, "wrapup_end_at", num(NOW + wrap), "talk_end_at", num(NOW))
  redis.call("ZADD", K_WRAPUPS, num(NOW + wrap), tid)
  redis.call("HINCRBY", wk, "wrapping", 1)
  if act == "available" or act == "on-demand" then
    if act == "on-demand" then
      redis.call("HSET", wk, "after_wrap", "break", "after_wrap_reason", "on-demand")
    else
      redis.call("HSET", wk, "after_wrap", act, "after_wrap_reason", "")
    end
    set_activity(wid, "wrap-up", "")
  end
  sync_avail(wid)
else
  if act == "on-demand" then set_activity(wid, "break", "on-demand") end
  redis.call("HSET", tk, "talk_end_at", num(NOW), "wrapup_end_at", num(NOW))
  finish_task(tid, "completed", "completed")
end
local out = {hget(tk, "state")}
for _, r in ipairs(CREATED) do out[#out + 1] = r end
return out
