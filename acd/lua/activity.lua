-- activity.lua: an agent changes activity (login, ready, break with a reason, logout).
-- Wrap-up is not an agent's choice: the engine enters it when a task completes.
-- Going offerable makes the worker idle from now and matches it against waiting tasks;
-- leaving takes it out of every available set. Ready during wrap-up ends the wrap-up.
-- KEYS[1]  tenant prefix
-- ARGV[1]  now            ARGV[2]  worker id          ARGV[3]  activity      ARGV[4]  reason
-- Returns  {previous activity, reservation ids created...}
local wid, new, reason = ARGV[2], ARGV[3], ARGV[4]
local wk = k_worker(wid)
if redis.call("EXISTS", wk) == 0 then die("UNKNOWN worker " .. wid) end
if new == "wrap-up" then  -- only complete.lua puts a worker into after-call work (it needs a task and a timer)
  die("ILLEGAL worker " .. wid .. " " .. (hget(wk, "activity") or "offline") .. " wrap-up")
end
local prev = set_activity(wid, new, reason)
if OFFERABLE[new] and not OFFERABLE[prev] then
  for _, ch in ipairs(channels_of(wid)) do redis.call("HSET", wk, "idle:" .. ch, num(NOW)) end
  redis.call("HSET", wk, "noanswer", 0)
end
if prev == "wrap-up" and new ~= "wrap-up" then
  redis.call("HDEL", wk, "after_wrap", "after_wrap_reason")
  if OFFERABLE[new] then
    for _, tid in ipairs(redis.call("SMEMBERS", k_wtasks(wid))) do
      if hget(k_task(tid), "state") == "wrapping" then
        redis.call("HSET", k_task(tid), "wrapup_end_at", num(NOW))
        finish_task(tid, "completed", "ready")
      end
    end
  end
end
match_worker(wid)
local out = {prev}
for _, r in ipairs(CREATED) do out[#out + 1] = r end
return out
