-- Reschedules a claimed task as a new message (a fresh run: deliveries start again).
-- KEYS: msg, ready, delayed, inflight, claim, seq, dedup, dedup_of, wake
-- ARGV: id, fence, stored body, due ms, dedup key ('' = none)
-- Returns 1, or 0 if the fence is not the current claim.
local msg, ready, delayed, inflight, claim, seq, dedup, dedup_of, wake_key =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local id, body, due, key = ARGV[1], ARGV[3], tonumber(ARGV[4]), ARGV[5]
local held = parse_claim(redis.call('HGET', claim, id))
if held == 0 or held ~= tonumber(ARGV[2]) then return 0 end
redis.call('ZREM', inflight, id)
redis.call('HDEL', claim, id)
local old = redis.call('HGET', dedup_of, id) or ''
if old ~= key then
  free_dedup(dedup, dedup_of, id)
  if key ~= '' then
    redis.call('HSET', dedup, key, id)
    redis.call('HSET', dedup_of, id, key)
  end
end
redis.call('HSET', msg, id, body)
if due > now_ms() then
  redis.call('ZADD', delayed, ARGV[4], id)
else
  local back = redis.call('HINCRBY', seq, 'back', 1)
  redis.call('ZADD', ready, ready_score(body, back), id)
end
wake(wake_key)
return 1
