-- heartbeat.lua: a node says it is alive until now + ttl (simulated time).
-- KEYS[1]  tenant prefix
-- ARGV[1]  now            ARGV[2]  node id            ARGV[3]  ttl s
-- Returns  the deadline
redis.call("ZADD", K_NODES, num(NOW + tonumber(ARGV[3])), ARGV[2])
return num(NOW + tonumber(ARGV[3]))
