-- Stores a new task record unless one exists.
-- KEYS: rec, children, done
-- ARGV: ttl ms, terminal ('1'/'0'), field count, field, JSON pairs, then child ids
-- Returns 1 if stored, 0 if a record was there.
local rec, children, done = KEYS[1], KEYS[2], KEYS[3]
if redis.call('EXISTS', rec) == 1 then return 0 end
local n = tonumber(ARGV[3])
local fields = {}
for i = 4, 3 + 2 * n do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', rec, unpack(fields))
redis.call('DEL', children, done)
for i = 4 + 2 * n, #ARGV do redis.call('RPUSH', children, ARGV[i]) end
if ARGV[2] == '1' then redis.call('RPUSH', done, '1') end
for _, k in ipairs({rec, children, done}) do redis.call('PEXPIRE', k, ARGV[1]) end
return 1
