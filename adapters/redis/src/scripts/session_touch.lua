-- Sliding expiry: a live session now ends TTL from now.
-- KEYS[1]  the session hash (fields: user, created, expires — ms since the epoch)
-- ARGV[1]  TTL in milliseconds
-- ARGV[2]  the new `expires` (ms since the epoch)
-- Returns the session's fields, or nil if it is gone (nothing is created).
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
redis.call('HSET', KEYS[1], 'expires', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return redis.call('HGETALL', KEYS[1])
