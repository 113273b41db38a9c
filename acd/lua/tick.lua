-- tick.lua: everything that happens because time passed, each list bounded by ARGV[2]:
-- ring timeouts, ends of worker delays, workflow escalations, ends of wrap-up, dead nodes,
-- expired resume places. Any node may run it (each step is idempotent and atomic).
-- KEYS[1]  tenant prefix
-- ARGV[1]  now            ARGV[2]  at most this many items per kind
-- ARGV[3]  reject delay s ARGV[4]  busy delay s       ARGV[5]  no-answer delay s
-- ARGV[6]  no-answer limit                            ARGV[7]  this node (adopts a dead node's tasks)
-- Returns  {timeouts, delays ended, escalations, wrap-ups ended, nodes recovered, resumes expired,
--           tasks of dead nodes handled (at most ARGV[2] per node and call)}
local limit = tonumber(ARGV[2])
local stats = {0, 0, 0, 0, 0, 0, 0}
for _, rid in ipairs(redis.call("ZRANGEBYSCORE", K_DEADLINES, "-inf", num(NOW), "LIMIT", 0, limit)) do
  if hget(k_res(rid), "state") == "pending" then
    refuse(rid, "timeout", tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6]))
    stats[1] = stats[1] + 1
  else
    redis.call("ZREM", K_DEADLINES, rid)
  end
end
for _, wid in ipairs(redis.call("ZRANGEBYSCORE", K_DELAYED, "-inf", num(NOW), "LIMIT", 0, limit)) do
  redis.call("ZREM", K_DELAYED, wid)
  redis.call("HSET", k_worker(wid), "delayed", "0")
  match_worker(wid)
  stats[2] = stats[2] + 1
end
for _, tid in ipairs(redis.call("ZRANGEBYSCORE", K_ESCALATIONS, "-inf", num(NOW), "LIMIT", 0, limit)) do
  local tk = k_task(tid)
  local state = hget(tk, "state")
  if state == "pending" then
    leave_pending(tid)
    place_at_step(tid, tonumber(hget(tk, "step")) + 1)
    enter_pending(tid)
    count("tasks:escalated")
    match_task(tid)
    stats[3] = stats[3] + 1
  elseif state == "reserved" then
    redis.call("ZADD", K_ESCALATIONS, num(NOW + 1), tid) -- decide when the offer ends
  else
    redis.call("ZREM", K_ESCALATIONS, tid)
  end
end
for _, tid in ipairs(redis.call("ZRANGEBYSCORE", K_WRAPUPS, "-inf", num(NOW), "LIMIT", 0, limit)) do
  if hget(k_task(tid), "state") == "wrapping" then
    finish_task(tid, "completed", "wrapup-timer")
    stats[4] = stats[4] + 1
  else
    redis.call("ZREM", K_WRAPUPS, tid)
  end
end
for _, node in ipairs(redis.call("ZRANGEBYSCORE", K_NODES, "-inf", num(NOW), "LIMIT", 0, limit)) do
  if node ~= ARGV[7] then
    local done, handled = recover_node(node, ARGV[7], limit)
    if done then stats[5] = stats[5] + 1 end
    stats[7] = stats[7] + handled
  end
end
for _, key in ipairs(redis.call("ZRANGEBYSCORE", K_ABANDONED_EXP, "-inf", num(NOW), "LIMIT", 0, limit)) do
  redis.call("ZREM", K_ABANDONED_EXP, key)
  redis.call("HDEL", K_ABANDONED, key)
  stats[6] = stats[6] + 1
end
return stats
