-- queue.lua: create or update a routing queue's settings (strategy, order, timeouts).
-- KEYS[1]  tenant prefix
-- ARGV[1]  now            ARGV[2]  routing queue key  ARGV[3]  configured (base) queue name
-- ARGV[4]  settings JSON {strategy, order, ranking_skill, ring_all_max, wrapup_s,
--          reservation_timeout_s, service_level_s}
-- Returns  "ok"
local rq = ARGV[2]
local cfg = cjson.decode(ARGV[4])
local ck = k_cfg(rq)
redis.call("HSET", ck, "base", ARGV[3])
for name, value in pairs(cfg) do redis.call("HSET", ck, name, tostring(value)) end
redis.call("SADD", P .. "queues", rq)
return "ok"
