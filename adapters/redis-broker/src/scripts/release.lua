-- Hands a claimed task back: ready at the front of its priority, this delivery not counted.
-- KEYS: msg, ready, inflight, claim, seq, wake
-- ARGV: id, fence
-- Returns 1, or 0 if the fence is not the current claim.
local msg, ready, inflight, claim, seq, wake_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local id = ARGV[1]
local held, deliveries = parse_claim(redis.call('HGET', claim, id))
if held == 0 or held ~= tonumber(ARGV[2]) then return 0 end
redis.call('ZREM', inflight, id)
local body = redis.call('HGET', msg, id)
if not body then
  redis.call('HDEL', claim, id)
  return 1
end
redis.call('HSET', claim, id, '0:' .. math.max(deliveries - 1, 0))
local front = redis.call('HINCRBY', seq, 'front', -1)
redis.call('ZADD', ready, ready_score(body, front), id)
wake(wake_key)
return 1
