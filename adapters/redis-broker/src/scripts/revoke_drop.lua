-- A revoke's effect on one queue: a waiting task is removed and its dedup key freed; a task
-- of this queue in flight is marked revoked in the queue's own slot until now + ttl, so
-- that its next claim (after a lost lease, a retry, a release) sees the revocation and
-- records no STARTED (its worker is told with the delivery). Prunes up to 100 expired marks.
-- KEYS: msg, ready, delayed, claim, dedup, dedup_of, revoked, revoked_exp
-- ARGV: id, reason, ttl ms
-- Returns 1 if the task was in this queue, else 0.
local msg, ready, delayed, claim, dedup, dedup_of, revoked, revoked_exp =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local id, reason, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now = now_ms()
prune_revoked(revoked, revoked_exp, now)
if redis.call('HEXISTS', msg, id) == 0 then return 0 end
if redis.call('ZREM', ready, id) + redis.call('ZREM', delayed, id) > 0 then
  redis.call('HDEL', msg, id)
  redis.call('HDEL', claim, id)
else
  mark_revoked(revoked, revoked_exp, now, id, reason, ttl)
end
free_dedup(dedup, dedup_of, id)
return 1
