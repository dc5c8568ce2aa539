-- Appends a child id to an existing record's children, once.
-- KEYS: rec, children, done
-- ARGV: ttl ms, child id
-- Returns 1 if the parent record exists, else 0.
local rec, children, done = KEYS[1], KEYS[2], KEYS[3]
if redis.call('EXISTS', rec) == 0 then return 0 end
if not redis.call('LPOS', children, ARGV[2]) then redis.call('RPUSH', children, ARGV[2]) end
for _, k in ipairs({rec, children, done}) do redis.call('PEXPIRE', k, ARGV[1]) end
return 1
