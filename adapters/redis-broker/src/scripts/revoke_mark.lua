-- Records a revocation until now + ttl, and prunes up to 100 expired ones.
-- KEYS: reasons, expiry
-- ARGV: id, reason, ttl ms
local now = now_ms()
prune_revoked(KEYS[1], KEYS[2], now)
mark_revoked(KEYS[1], KEYS[2], now, ARGV[1], ARGV[2], tonumber(ARGV[3]))
return 1
