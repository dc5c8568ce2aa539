-- Records a revocation until now + ttl, and prunes up to 100 expired ones.
-- KEYS: reasons, expiry
-- ARGV: id, reason, ttl ms
local reasons, expiry = KEYS[1], KEYS[2]
local ttl = tonumber(ARGV[3])
local now = now_ms()
local old = redis.call('ZRANGEBYSCORE', expiry, '-inf', now, 'LIMIT', 0, 100)
if #old > 0 then
  redis.call('HDEL', reasons, unpack(old))
  redis.call('ZREM', expiry, unpack(old))
end
redis.call('HSET', reasons, ARGV[1], ARGV[2])
redis.call('ZADD', expiry, now + ttl, ARGV[1])
for _, k in ipairs({reasons, expiry}) do
  if redis.call('PTTL', k) < ttl then redis.call('PEXPIRE', k, ttl) end
end
return 1
