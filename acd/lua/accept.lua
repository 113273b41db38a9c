-- accept.lua: the worker answered; the task is assigned, other ring-all offers are rescinded.
-- KEYS[1]  tenant prefix
-- ARGV[1]  now            ARGV[2]  reservation id
-- Returns  {task id, worker id, rescinded reservation ids...}
local rid = ARGV[2]
local rk = k_res(rid)
local f = redis.call("HMGET", rk, "state", "task", "worker")
if not f[1] then die("UNKNOWN reservation " .. rid) end
if f[1] ~= "pending" then die("ILLEGAL reservation " .. rid .. " " .. f[1] .. " accepted") end
local tid, wid = f[2], f[3]
local tk = k_task(tid)
local state = hget(tk, "state")
if state ~= "reserved" then die("ILLEGAL task " .. tid .. " " .. tostring(state) .. " assigned") end
redis.call("HSET", rk, "state", "accepted", "ended", num(NOW))
redis.call("ZREM", K_DEADLINES, rid)
redis.call("SREM", k_taskres(tid), rid)
redis.call("SREM", k_noderes(hget(rk, "node")), rid)
count("reservations:accepted")
local out = {tid, wid}
local freed = {}
for _, other in ipairs(redis.call("SMEMBERS", k_taskres(tid))) do
  freed[#freed + 1] = hget(k_res(other), "worker")
  end_reservation(other, "rescinded")
  out[#out + 1] = other
end
task_state_change(tid, "reserved", "assigned")
local wait = NOW - tonumber(hget(tk, "enqueued_at"))
redis.call("HSET", tk, "worker", wid, "answered_at", num(NOW), "reservation", rid)
redis.call("HSET", k_worker(wid), "noanswer", 0)
local rq = hget(tk, "queue")
local sl = hnum(k_cfg(rq), "service_level_s", 20)
if wait <= sl then record_sl(tid, "a", wait) else record_sl(tid, "l", wait) end
redis.call("ZREM", k_since(rq), tid)
redis.call("ZREM", K_ESCALATIONS, tid)
for _, w in ipairs(freed) do match_worker(w) end
return out
