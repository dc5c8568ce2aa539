-- Records a session hash in its user's set and keeps the set alive at least as long as it.
-- KEYS[1]  the user's set of session hashes
-- ARGV[1]  the session hash (hex)
-- ARGV[2]  the session's TTL in milliseconds
-- Returns the set's size.
redis.call('SADD', KEYS[1], ARGV[1])
local ttl = tonumber(ARGV[2])
local left = redis.call('PTTL', KEYS[1])
if left < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return redis.call('SCARD', KEYS[1])
