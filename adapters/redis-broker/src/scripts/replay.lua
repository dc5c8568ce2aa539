-- Takes a task out of the dead letters and makes it ready as the given message, provided
-- the dead letter is still the one the caller read.
-- KEYS: msg, ready, claim, seq, dead, dedup, dedup_of, wake
-- ARGV: id, dead letter as read, stored body, dedup key ('' = none)
-- Returns 1 (queued), 0 (taken out; the id is already waiting or running) or -1 (changed).
local msg, ready, claim, seq, dead, dedup, dedup_of, wake_key =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
local id, body, key = ARGV[1], ARGV[3], ARGV[4]
if redis.call('HGET', dead, id) ~= ARGV[2] then return -1 end
redis.call('HDEL', dead, id)
if redis.call('HEXISTS', msg, id) == 1 then return 0 end
if key ~= '' and redis.call('HEXISTS', dedup, key) == 0 then
  redis.call('HSET', dedup, key, id)
  redis.call('HSET', dedup_of, id, key)
end
redis.call('HSET', msg, id, body)
redis.call('HDEL', claim, id)
local back = redis.call('HINCRBY', seq, 'back', 1)
redis.call('ZADD', ready, ready_score(body, back), id)
wake(wake_key)
return 1
