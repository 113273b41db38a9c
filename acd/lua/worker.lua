-- worker.lua: create or update a worker's profile and its precomputed queue eligibility.
-- Eligibility is computed in Python from the queues' target expressions when attributes
-- change, so that no match ever evaluates an expression or scans workers.
-- KEYS[1]  tenant prefix
-- ARGV[1]  now            ARGV[2]  worker id          ARGV[3]  contact (dial string endpoint)
-- ARGV[4]  capacity JSON {"voice":1,"chat":3}         ARGV[5]  skills JSON {"billing":4}
-- ARGV[6]  eligible routing queues JSON ["billing", ...]
-- ARGV[7]  attributes JSON (for display)              ARGV[8]  random seed (random strategy)
-- Returns  {"created"|"updated", reservation ids created...}
local wid = ARGV[2]
local wk = k_worker(wid)
local created = redis.call("EXISTS", wk) == 0
local caps = cjson.decode(ARGV[4])
local skills = cjson.decode(ARGV[5])
local queues = cjson.decode(ARGV[6])
for _, rq in ipairs(queues) do
  if redis.call("SISMEMBER", P .. "queues", rq) == 0 then die("UNKNOWN queue " .. rq) end
end
if created then
  redis.call("HSET", wk, "activity", "offline", "reason", "", "registered", "0", "used_total", 0)
  redis.call("SADD", P .. "workers", wid)
  count("workers:offline")
else
  leave_avail(wid)
  local old = redis.call("HGET", wk, "skills")
  if old then
    for name, _ in pairs(cjson.decode(old)) do redis.call("HDEL", wk, "skill:" .. name) end
  end
end
local chans, total = {}, 0
for ch, n in pairs(caps) do
  chans[#chans + 1] = ch
  total = total + n
  redis.call("HSET", wk, "cap:" .. ch, n)
  if not redis.call("HGET", wk, "used:" .. ch) then redis.call("HSET", wk, "used:" .. ch, 0) end
end
table.sort(chans)
for name, level in pairs(skills) do redis.call("HSET", wk, "skill:" .. name, level) end
redis.call("HSET", wk, "contact", ARGV[3], "channels", table.concat(chans, ","), "cap_total", total,
  "skills", ARGV[5], "attrs", ARGV[7], "rand_seed", ARGV[8])
redis.call("DEL", k_wqueues(wid))
if #queues > 0 then redis.call("SADD", k_wqueues(wid), unpack(queues)) end
match_worker(wid)
local out = {created and "created" or "updated"}
for _, r in ipairs(CREATED) do out[#out + 1] = r end
return out
