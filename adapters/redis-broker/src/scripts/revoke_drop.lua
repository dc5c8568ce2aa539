-- A revoke's effect on one queue: a waiting task is removed, and the task's dedup key is
-- freed (a running task is left to its worker, which sees the revocation).
-- KEYS: msg, ready, delayed, claim, dedup, dedup_of
-- ARGV: id
-- Returns 1 if the task was in this queue, else 0.
local msg, ready, delayed, claim, dedup, dedup_of = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local id = ARGV[1]
if redis.call('HEXISTS', msg, id) == 0 then return 0 end
if redis.call('ZREM', ready, id) + redis.call('ZREM', delayed, id) > 0 then
  redis.call('HDEL', msg, id)
  redis.call('HDEL', claim, id)
end
free_dedup(dedup, dedup_of, id)
return 1
