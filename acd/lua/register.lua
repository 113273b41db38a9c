-- register.lua: the agent's phone registered, unregistered or its registration expired.
-- KEYS[1]  tenant prefix
-- ARGV[1]  now            ARGV[2]  worker id          ARGV[3]  1 registered / 0 not
-- Returns  {reservation ids created...}
local wid = ARGV[2]
if redis.call("EXISTS", k_worker(wid)) == 0 then die("UNKNOWN worker " .. wid) end
redis.call("HSET", k_worker(wid), "registered", ARGV[3], "registered_at", num(NOW))
match_worker(wid)
return CREATED
