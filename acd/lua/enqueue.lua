-- enqueue.lua: a task arrives; it is placed at its first workflow target and matched at once.
-- KEYS[1]  tenant prefix "fscc:{<tenant>}:"
-- ARGV[1]  now (simulated epoch seconds)
-- ARGV[2]  task id                ARGV[3]  channel (voice, chat, ...)
-- ARGV[4]  node id owning the contact (its inbox receives the reservations)
-- ARGV[5]  base priority (0..1000, higher first)
-- ARGV[6]  steps, JSON [[routing_queue, timeout_s, skip_if_no_workers(0/1), priority|null], ...]
-- ARGV[7]  task attributes, JSON (opaque here; read back by the call side)
-- ARGV[8]  resume key ("" for none): a caller who abandoned within the window keeps their place
-- ARGV[9]  inherit task id ("" for none): that waiting task is canceled (reason "callback")
--          and this one inherits its enqueue time (a callback keeps the caller's place)
-- Returns  {state, enqueued_at, resumed(0/1), reservation ids...}
local tid, ch, node = ARGV[2], ARGV[3], ARGV[4]
local tk = k_task(tid)
if redis.call("EXISTS", tk) == 1 then die("EXISTS task " .. tid) end
local steps = cjson.decode(ARGV[6])
if #steps == 0 then die("BAD task " .. tid .. " has no workflow steps") end
for _, step in ipairs(steps) do
  if redis.call("SISMEMBER", P .. "queues", step[1]) == 0 then die("UNKNOWN queue " .. step[1]) end
end
local enqueued_at, resumed = NOW, 0
local inherit = ARGV[9]
if inherit ~= "" then
  local st = hget(k_task(inherit), "state")
  if st ~= "pending" and st ~= "reserved" then die("ILLEGAL task " .. inherit .. " " .. tostring(st) .. " canceled") end
  enqueued_at = tonumber(hget(k_task(inherit), "enqueued_at"))
  cancel_task(inherit, "callback", "", 0)
  redis.call("HSET", k_task(inherit), "callback_task", tid)
elseif ARGV[8] ~= "" then
  local place = redis.call("HGET", K_ABANDONED, ARGV[8])
  local until_ = redis.call("ZSCORE", K_ABANDONED_EXP, ARGV[8])
  if place and until_ and tonumber(until_) >= NOW then
    enqueued_at = cjson.decode(place)[2]
    resumed = 1
  end
  if place then
    redis.call("HDEL", K_ABANDONED, ARGV[8])
    redis.call("ZREM", K_ABANDONED_EXP, ARGV[8])
  end
end
redis.call("HSET", tk, "state", "pending", "channel", ch, "node", node, "base_priority", ARGV[5],
  "steps", ARGV[6], "attrs", ARGV[7], "enqueued_at", num(enqueued_at), "created", num(NOW),
  "resume_key", ARGV[8], "inherited_from", inherit)
redis.call("SADD", k_nodetasks(node), tid)
count("tasks:pending")
count("tasks:enqueued")
place_at_step(tid, 1)
-- offered at once when a worker is free; only a task left waiting enters its pending set
-- (most arrivals are answered at once: this spares them a ZADD and ZREM on that set)
redis.call("ZADD", k_since(hget(tk, "queue")), num(enqueued_at), tid)
match_task(tid)
if hget(tk, "state") == "pending" then enter_pending(tid, true) end
local out = {hget(tk, "state"), num(enqueued_at), resumed}
for _, rid in ipairs(CREATED) do out[#out + 1] = rid end
return out
