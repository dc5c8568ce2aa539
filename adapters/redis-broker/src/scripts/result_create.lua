-- Stores a new task record unless one exists.
-- KEYS: rec, done
-- ARGV: ttl ms, terminal ('1'/'0'), then field, JSON pairs (fields holding null are absent)
-- Returns 1 if stored, 0 if a record was there.
local rec, done = KEYS[1], KEYS[2]
if redis.call('EXISTS', rec) == 1 then return 0 end
redis.call('HSET', rec, unpack(ARGV, 3))
redis.call('PEXPIRE', rec, ARGV[1])
redis.call('DEL', done)
if ARGV[2] == '1' then
  redis.call('RPUSH', done, '1')
  redis.call('PEXPIRE', done, ARGV[1])
end
return 1
