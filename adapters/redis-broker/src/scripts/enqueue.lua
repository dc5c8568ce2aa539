-- Enqueues messages of one queue.
-- KEYS: msg, ready, delayed, seq, dedup, dedup_of, wake
-- ARGV: n, then per message: id, stored body, due ms ('' = due now), dedup key ('' = none)
-- Returns per message: 1 (queued) or the id of the task it duplicates.
local msg, ready, delayed, seq, dedup, dedup_of, wake_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local n = tonumber(ARGV[1])
local now = now_ms()
local back = redis.call('HINCRBY', seq, 'back', n) - n
local out = {}
for i = 0, n - 1 do
  local a = 2 + i * 4
  local id, body, due, key = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2]), ARGV[a + 3]
  local first = false
  if key ~= '' then first = redis.call('HGET', dedup, key) end
  if first then
    out[i + 1] = first
  elseif redis.call('HEXISTS', msg, id) == 1 then
    out[i + 1] = id
  else
    redis.call('HSET', msg, id, body)
    if key ~= '' then
      redis.call('HSET', dedup, key, id)
      redis.call('HSET', dedup_of, id, key)
    end
    if due and due > now then
      redis.call('ZADD', delayed, ARGV[a + 2], id)
    else
      back = back + 1
      redis.call('ZADD', ready, ready_score(body, back), id)
    end
    out[i + 1] = 1
  end
end
wake(wake_key)
return out
