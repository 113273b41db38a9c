-- lib.lua: the functions every ACD script shares. Not a script by itself: store.py loads
-- each script as  <transition tables rendered from acd/model.py> .. lib.lua .. <script>,
-- keeping of the first two only the top-level `local` definitions the script reaches (every
-- definition here starts with `local` at column 0, its comment lines just above it).
--
-- Every script takes the same first key and argument:
--   KEYS[1]  the tenant's key prefix, "fscc:{<tenant>}:" (the hash tag keeps every key of a
--            tenant in one cluster slot; all other keys are built from it)
--   ARGV[1]  now: simulated epoch seconds from fs_scripts/clock.py (never Redis TIME)
--
-- Invariants the functions keep (checked by tests/acd/invariants.py):
--   * a pending task is in exactly one pending set, scored by its order score;
--   * a worker is in the available set of (queue, channel) iff it is eligible for the queue
--     and offerable on the channel (activity, registration, free capacity, no delay);
--   * used:<ch> of a worker equals the number of its live tasks on that channel;
--   * a task has at most one accepted reservation; pending reservations only while reserved.
-- No function here walks all workers or all tasks: only one worker's queues, one queue's
-- head, or one task's reservations.

local P = KEYS[1]
local NOW = tonumber(ARGV[1])
local PRIORITY_MAX = 1000
local SPAN = 1e10
local PHONE = {voice = true, callback = true}
local OFFERABLE = {["available"] = true, ["on-demand"] = true}
local CREATED = {}      -- reservation ids this call created (returned to the caller)

-- the transition tables are strings " from>to from>to ... " (constants: nothing is built per call)
local function allowed(transitions, cur, new)
  return string.find(transitions, " " .. tostring(cur) .. ">" .. tostring(new) .. " ", 1, true) ~= nil
end

local function num(x) return string.format("%.17g", x) end
local function die(msg) error("ACD " .. msg) end

local function k_task(id) return P .. "task:" .. id end
local function k_taskres(id) return P .. "task:" .. id .. ":res" end
local function k_worker(id) return P .. "w:" .. id end
local function k_wqueues(id) return P .. "w:" .. id .. ":queues" end
local function k_wtasks(id) return P .. "w:" .. id .. ":tasks" end
local function k_pending(rq, ch) return P .. "q:" .. rq .. ":pending:" .. ch end
local function k_avail(rq, ch) return P .. "q:" .. rq .. ":avail:" .. ch end
local function k_cfg(rq) return P .. "q:" .. rq .. ":cfg" end
local function k_since(rq) return P .. "q:" .. rq .. ":since" end
local function k_res(id) return P .. "res:" .. id end
local function k_noderes(n) return P .. "node:" .. n .. ":res" end
local function k_nodetasks(n) return P .. "node:" .. n .. ":tasks" end
local function k_inbox(n) return P .. "node:" .. n .. ":inbox" end
local K_COUNTERS = P .. "counters"
local K_DEADLINES = P .. "deadlines"     -- reservation id -> ring timeout
local K_ESCALATIONS = P .. "escalations" -- task id -> when it moves to its next workflow target
local K_DELAYED = P .. "delayed"         -- worker id -> end of a busy/reject/no-answer delay
local K_WRAPUPS = P .. "wrapups"         -- task id -> end of after-call work
local K_NODES = P .. "nodes"             -- node id -> heartbeat deadline
local K_ABANDONED = P .. "abandoned"     -- resume key -> task place (JSON)
local K_ABANDONED_EXP = P .. "abandoned:exp"

local function count(field, by) redis.call("HINCRBY", K_COUNTERS, field, by or 1) end

local function hget(key, field) local v = redis.call("HGET", key, field); if v then return v end; return nil end
local function hnum(key, field, default)
  local v = redis.call("HGET", key, field)
  if v then return tonumber(v) end
  return default or 0
end

local function task_state_change(id, cur, new)
  if not allowed(TASK_NEXT, cur, new) then die("ILLEGAL task " .. id .. " " .. cur .. " " .. new) end
  redis.call("HSET", k_task(id), "state", new)
  count("tasks:" .. cur, -1)
  count("tasks:" .. new, 1)
end

-- sorted-set score of a task in its routing queue (mirrors acd.model.order_score)
local function order_score(priority, enqueued_at, rq)
  local rank = (PRIORITY_MAX - priority) * SPAN
  if hget(k_cfg(rq), "order") == "lifo" then return rank + (SPAN - 1 - enqueued_at) end
  return rank + enqueued_at
end

-- mirrors acd.selection.worker_score
local function worker_score(rq, wid, ch, strategy)
  local wk = k_worker(wid)
  local idle = hnum(wk, "idle:" .. ch, 0)
  if strategy == "round-robin" then return hnum(wk, "rr:" .. rq, 0) end
  if strategy == "most-skilled" then
    local skill = hget(k_cfg(rq), "ranking_skill") or ""
    return -hnum(wk, "skill:" .. skill, 0) * SPAN + idle
  end
  if strategy == "least-occupied" then
    local cap_total = hnum(wk, "cap_total", 0)
    local occ = 100
    if cap_total > 0 then occ = math.floor(100 * hnum(wk, "used_total", 0) / cap_total) end
    return occ * SPAN + idle
  end
  if strategy == "random" then
    -- deterministic per (worker, offer count): Redis scripts must not call math.random freely
    -- (mirrors acd.selection.random_score; every product stays below 2^53, exact in doubles)
    local x = (hnum(wk, "rand_seed", 0) + hnum(wk, "offers", 0) * 7919) % 2147483647
    return (x * 48271) % 2147483647
  end
  return idle -- longest-idle, ring-all
end

local function channels_of(wid)
  local chans = redis.call("HGET", k_worker(wid), "channels")
  if not chans or chans == "" then return {} end
  local out = {}
  for ch in string.gmatch(chans, "[^,]+") do out[#out + 1] = ch end
  return out
end

local function offerable(wid, ch)
  local wk = k_worker(wid)
  local f = redis.call("HMGET", wk, "activity", "registered", "delayed", "used:" .. ch, "cap:" .. ch)
  if not OFFERABLE[f[1]] then return false end
  if PHONE[ch] and f[2] ~= "1" then return false end
  if f[3] == "1" then return false end
  return (tonumber(f[4]) or 0) < (tonumber(f[5]) or 0)
end

-- put the worker into / take it out of the available set of each of its queues, per channel
local function sync_avail(wid)
  local queues = redis.call("SMEMBERS", k_wqueues(wid))
  for _, ch in ipairs(channels_of(wid)) do
    local ok = offerable(wid, ch)
    for _, rq in ipairs(queues) do
      if ok then
        local strategy = hget(k_cfg(rq), "strategy") or "longest-idle"
        redis.call("ZADD", k_avail(rq, ch), num(worker_score(rq, wid, ch, strategy)), wid)
      else
        redis.call("ZREM", k_avail(rq, ch), wid)
      end
    end
  end
end

local function leave_avail(wid)
  local queues = redis.call("SMEMBERS", k_wqueues(wid))
  for _, ch in ipairs(channels_of(wid)) do
    for _, rq in ipairs(queues) do redis.call("ZREM", k_avail(rq, ch), wid) end
  end
end

-- Every activity change of every script goes through here, and each one is appended to the
-- tenant's activity stream (P.."activity"), the history fs_scripts/activity_log.py follows:
-- fields worker, from, to, reason, at (this script's NOW, never Redis TIME) and seq (1, 2, ...
-- per tenant, so a reader that fell behind the trimming can say how many it lost). The
-- stream is capped (MAXLEN ~): at least P.."activity:maxlen" entries (default 100000) are kept.
local function set_activity(wid, new, reason)
  local wk = k_worker(wid)
  local cur = hget(wk, "activity") or "offline"
  if not allowed(WORKER_NEXT, cur, new) then die("ILLEGAL worker " .. wid .. " " .. cur .. " " .. new) end
  redis.call("HSET", wk, "activity", new, "reason", reason or "", "activity_since", num(NOW))
  if cur ~= new then
    count("workers:" .. cur, -1)
    count("workers:" .. new, 1)
  end
  local cap = tonumber(redis.call("GET", P .. "activity:maxlen")) or 100000
  redis.call("XADD", P .. "activity", "MAXLEN", "~", cap, "*", "worker", wid, "from", cur, "to", new,
    "reason", reason or "", "at", num(NOW), "seq", redis.call("INCR", P .. "activity:seq"))
  return cur
end

-- place a pending task in its routing queue's pending set (its score is kept in the task);
-- `waiting_only`: the task is already listed by enqueue time (enqueue does that before matching)
local function enter_pending(tid, waiting_only)
  local tk = k_task(tid)
  local f = redis.call("HMGET", tk, "queue", "channel", "score", "enqueued_at")
  redis.call("ZADD", k_pending(f[1], f[2]), f[3], tid)
  if not waiting_only then redis.call("ZADD", k_since(f[1]), f[4], tid) end
end

local function leave_pending(tid)
  local f = redis.call("HMGET", k_task(tid), "queue", "channel")
  redis.call("ZREM", k_pending(f[1], f[2]), tid)
end

-- offer task tid to worker wid: one reservation, capacity taken, pushed to the call's node
local function reserve(tid, wid)
  local tk, wk = k_task(tid), k_worker(wid)
  local f = redis.call("HMGET", tk, "state", "channel", "queue", "node")
  local ch, rq, node = f[2], f[3], f[4]
  if f[1] == "pending" then
    task_state_change(tid, "pending", "reserved")
    redis.call("ZREM", k_pending(rq, ch), tid)
  end
  local rid = "r" .. redis.call("INCR", P .. "seq:res")
  local cfg = redis.call("HMGET", k_cfg(rq), "reservation_timeout_s", "strategy")
  local timeout = tonumber(cfg[1]) or 20
  redis.call("HSET", k_res(rid), "task", tid, "worker", wid, "state", "pending", "created", num(NOW),
    "expires", num(NOW + timeout), "node", node, "channel", ch, "queue", rq)
  redis.call("ZADD", K_DEADLINES, num(NOW + timeout), rid)
  redis.call("SADD", k_taskres(tid), rid)
  redis.call("SADD", k_noderes(node), rid)
  redis.call("HINCRBY", wk, "used:" .. ch, 1)
  redis.call("HINCRBY", wk, "used_total", 1)
  redis.call("HINCRBY", wk, "offers", 1)
  redis.call("SADD", k_wtasks(wid), tid)
  if cfg[2] == "round-robin" then  -- the turn counter only ranks workers of round-robin queues
    redis.call("HSET", wk, "rr:" .. rq, redis.call("HINCRBY", k_cfg(rq), "rr", 1))
  end
  redis.call("HSET", tk, "offered_at", num(NOW))
  count("reservations:created")
  sync_avail(wid)
  redis.call("RPUSH", k_inbox(node), cjson.encode({rid, tid, wid, hget(wk, "contact") or ""}))
  CREATED[#CREATED + 1] = rid
  return rid
end

-- a task just became pending (arrival, return, escalation): offer it to the best worker(s).
-- Reads at most want + 16 heads of one available set: O(log n), whatever the staff size.
-- A worker already holding this task is skipped (with chat capacity 3 a ring-all worker
-- stays at the head after its first reservation and must not be reserved the task twice).
local function match_task(tid)
  local f = redis.call("HMGET", k_task(tid), "queue", "channel", "state")
  if f[3] ~= "pending" then return end
  local rq, ch = f[1], f[2]
  local cfg = redis.call("HMGET", k_cfg(rq), "strategy", "ring_all_max")
  local want = 1
  if cfg[1] == "ring-all" then want = tonumber(cfg[2]) or 5 end
  local got = 0
  for _, wid in ipairs(redis.call("ZRANGE", k_avail(rq, ch), 0, want + 15)) do
    if got >= want then break end
    if redis.call("SISMEMBER", k_wtasks(wid), tid) == 0 then
      if offerable(wid, ch) then
        reserve(tid, wid)
        got = got + 1
      else
        redis.call("ZREM", k_avail(rq, ch), wid)  -- stale entry: repair, never offer
      end
    end
  end
end

-- a worker may have room: give it the best pending tasks of its queues, then list it as available
local function match_worker(wid)
  local queues = redis.call("SMEMBERS", k_wqueues(wid))
  for _, ch in ipairs(channels_of(wid)) do
    local guard = 0
    while offerable(wid, ch) and guard < 100 do
      guard = guard + 1
      local best_tid, best_score = nil, nil
      for _, rq in ipairs(queues) do
        local head = redis.call("ZRANGE", k_pending(rq, ch), 0, 0, "WITHSCORES")
        if #head > 0 then
          local s = tonumber(head[2])
          if best_score == nil or s < best_score then best_tid, best_score = head[1], s end
        end
      end
      if not best_tid then break end
      reserve(best_tid, wid)
    end
  end
  sync_avail(wid)
end

-- give back the capacity a live task held on a worker; the worker is idle on that channel from now
local function release(tid, wid)
  local wk = k_worker(wid)
  if redis.call("SREM", k_wtasks(wid), tid) == 1 then
    local ch = hget(k_task(tid), "channel")
    redis.call("HINCRBY", wk, "used:" .. ch, -1)
    redis.call("HINCRBY", wk, "used_total", -1)
    redis.call("HSET", wk, "idle:" .. ch, num(NOW))
  end
end

-- a reservation ends without being accepted; returns true when the task is left with none pending
local function end_reservation(rid, new_state)
  local rk = k_res(rid)
  local f = redis.call("HMGET", rk, "state", "task", "worker", "node")
  if not allowed(RES_NEXT, f[1], new_state) then die("ILLEGAL reservation " .. rid .. " " .. tostring(f[1]) .. " " .. new_state) end
  redis.call("HSET", rk, "state", new_state, "ended", num(NOW))
  redis.call("ZREM", K_DEADLINES, rid)
  redis.call("SREM", k_taskres(f[2]), rid)
  redis.call("SREM", k_noderes(f[4]), rid)
  count("reservations:" .. new_state)
  release(f[2], f[3])
  return redis.call("SCARD", k_taskres(f[2])) == 0
end

-- move a task to workflow step i (1-based), skipping targets without workers when asked to
local function place_at_step(tid, i)
  local tk = k_task(tid)
  local f = redis.call("HMGET", tk, "steps", "channel", "base_priority", "enqueued_at", "queue")
  local steps, ch = cjson.decode(f[1]), f[2]
  while i < #steps and steps[i][3] == 1 and redis.call("ZCARD", k_avail(steps[i][1], ch)) == 0 do
    i = i + 1
  end
  local step = steps[i]
  local priority = tonumber(f[3])
  if step[4] ~= cjson.null and step[4] ~= nil and step[4] ~= false then priority = tonumber(step[4]) end
  local score = order_score(priority, tonumber(f[4]), step[1])
  local old_q = f[5]
  if old_q and old_q ~= step[1] then redis.call("ZREM", k_since(old_q), tid) end
  redis.call("HSET", tk, "queue", step[1], "step", i, "priority", priority, "score", num(score))
  if step[2] > 0 and i < #steps then
    redis.call("ZADD", K_ESCALATIONS, num(NOW + step[2]), tid)
  else
    redis.call("ZREM", K_ESCALATIONS, tid)
  end
end

-- the task goes back to waiting with its original score (head of its place), then is offered again
local function return_to_pending(tid)
  task_state_change(tid, "reserved", "pending")
  enter_pending(tid)
  match_task(tid)
end

-- finish a task for good: capacity back, worker idle, activity after wrap-up restored
local function finish_task(tid, new_state, reason)
  local tk = k_task(tid)
  local f = redis.call("HMGET", tk, "state", "worker", "node", "queue")
  task_state_change(tid, f[1], new_state)
  redis.call("HSET", tk, "finished_at", num(NOW), "finish_reason", reason or "")
  redis.call("ZREM", K_WRAPUPS, tid)
  redis.call("ZREM", K_ESCALATIONS, tid)
  redis.call("ZREM", k_since(f[4]), tid)
  if f[3] then redis.call("SREM", k_nodetasks(f[3]), tid) end
  local wid = f[2]
  if wid then
    release(tid, wid)
    local wk = k_worker(wid)
    if f[1] == "wrapping" then
      local left = redis.call("HINCRBY", wk, "wrapping", -1)
      if left <= 0 and hget(wk, "activity") == "wrap-up" then
        set_activity(wid, hget(wk, "after_wrap") or "available", hget(wk, "after_wrap_reason") or "")
      end
    end
    match_worker(wid)
  end
end

-- service level: one entry per answered or abandoned task in the last hour, per configured queue
local function record_sl(tid, outcome, wait)
  local tk = k_task(tid)
  local rq = hget(tk, "queue")
  local base = hget(k_cfg(rq), "base") or rq
  local key = P .. "q:" .. base .. ":sl"
  redis.call("ZADD", key, num(NOW), tid .. "|" .. outcome .. "|" .. string.format("%.3f", wait))
  redis.call("ZREMRANGEBYSCORE", key, "-inf", num(NOW - 3600))
end

-- cancel a pending or reserved task (caller hung up, max wait, exit key, callback offer taken...)
local function cancel_task(tid, reason, resume_key, resume_window)
  local tk = k_task(tid)
  local f = redis.call("HMGET", tk, "state", "queue", "enqueued_at", "node", "steps", "step", "base_priority", "channel")
  local state = f[1]
  if state ~= "pending" and state ~= "reserved" then die("ILLEGAL task " .. tid .. " " .. tostring(state) .. " canceled") end
  local freed = {}
  if state == "pending" then
    leave_pending(tid)
  else
    for _, rid in ipairs(redis.call("SMEMBERS", k_taskres(tid))) do
      freed[#freed + 1] = hget(k_res(rid), "worker")
      end_reservation(rid, "canceled")
    end
  end
  task_state_change(tid, state, "canceled")
  redis.call("HSET", tk, "finished_at", num(NOW), "cancel_reason", reason)
  redis.call("ZREM", k_since(f[2]), tid)
  redis.call("ZREM", K_ESCALATIONS, tid)
  redis.call("SREM", k_nodetasks(f[4]), tid)
  if reason == "caller-hangup" then record_sl(tid, "x", NOW - tonumber(f[3])) end
  if resume_key and resume_key ~= "" and resume_window > 0 then
    redis.call("HSET", K_ABANDONED, resume_key, cjson.encode({tid, tonumber(f[3]), f[8]}))
    redis.call("ZADD", K_ABANDONED_EXP, num(NOW + resume_window), resume_key)
  end
  for _, wid in ipairs(freed) do match_worker(wid) end
end

-- a reservation was refused: rejected by the agent, the phone busy, or ring-no-answer (timeout)
local function refuse(rid, kind, reject_delay, busy_delay, noanswer_delay, noanswer_limit)
  local rk = k_res(rid)
  local f = redis.call("HMGET", rk, "state", "task", "worker")
  if f[1] ~= "pending" then die("ILLEGAL reservation " .. rid .. " " .. tostring(f[1]) .. " " .. kind) end
  local tid, wid = f[2], f[3]
  local wk = k_worker(wid)
  local last = end_reservation(rid, kind)
  local delay = reject_delay
  if kind == "busy" then delay = busy_delay end
  if kind == "timeout" then
    delay = noanswer_delay
    local n = redis.call("HINCRBY", wk, "noanswer", 1)
    local act = hget(wk, "activity")
    if n >= noanswer_limit and allowed(WORKER_NEXT, act, "break") then
      set_activity(wid, "break", "no-answer")
      delay = 0
    end
  end
  if delay > 0 then
    redis.call("HSET", wk, "delayed", "1")
    redis.call("ZADD", K_DELAYED, num(NOW + delay), wid)
    leave_avail(wid)
  end
  if last and hget(k_task(tid), "state") == "reserved" then return_to_pending(tid) end
  match_worker(wid)
  return tid
end

-- the node that owned these tasks stopped beating: adopt its waiting tasks, free its agents.
-- At most `limit` of its tasks per call (a node may own thousands): returns (done, tasks
-- handled); done once the node has nothing left, and only then is it forgotten.
local function recover_node(dead, me, limit)
  local set = k_nodetasks(dead)
  local batch = redis.call("SRANDMEMBER", set, limit)
  for _, tid in ipairs(batch) do
    local tk = k_task(tid)
    local state = hget(tk, "state")
    redis.call("SREM", set, tid)
    if state == "pending" or state == "reserved" then
      redis.call("HSET", tk, "node", me)
      redis.call("SADD", k_nodetasks(me), tid)
      if state == "reserved" then
        local freed = {}
        for _, rid in ipairs(redis.call("SMEMBERS", k_taskres(tid))) do
          freed[#freed + 1] = hget(k_res(rid), "worker")
          end_reservation(rid, "rescinded")
        end
        return_to_pending(tid)
        for _, wid in ipairs(freed) do match_worker(wid) end
      end
    elseif state == "assigned" then
      finish_task(tid, "completed", "node-lost")
    end
  end
  if redis.call("SCARD", set) > 0 then return false, #batch end
  redis.call("DEL", k_inbox(dead))
  redis.call("ZREM", K_NODES, dead)
  count("nodes:recovered")
  return true, #batch
end
