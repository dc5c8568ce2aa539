-- Shared helpers, prepended to every broker script.
-- A stored message is one priority digit, a start flag ('S': the claim may record STARTED,
-- 'L': the worker records it), its retries in decimal and the message's JSON (older
-- messages: the digit and the JSON).
-- A claim record is "<fence>:<deliveries>"; fence 0 means nobody holds the task.

-- Redis's own clock in ms, so that workers' clocks do not matter.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Ready score: lower is served first; priority 9 sorts before 0, then by sequence number
-- (back: growing counter; front: shrinking counter, for released and reclaimed tasks).
local function ready_score(body, seq)
  local p = tonumber(string.sub(body, 1, 1)) or 5
  return string.format('%.0f', (9 - p) * 10000000000000 + seq)
end

local function parse_claim(c)
  if not c then return 0, 0 end
  local f, d = string.match(c, '^(%d+):(%d+)$')
  return tonumber(f) or 0, tonumber(d) or 0
end

-- Frees the dedup key the task holds, if it still maps to this task.
local function free_dedup(dedup, dedup_of, id)
  local k = redis.call('HGET', dedup_of, id)
  if k then
    if redis.call('HGET', dedup, k) == id then redis.call('HDEL', dedup, k) end
    redis.call('HDEL', dedup_of, id)
  end
end

-- Leaves one wake token for a blocked fetch (never more than one; it expires unused).
local function wake(key)
  if redis.call('LLEN', key) == 0 then
    redis.call('LPUSH', key, '1')
    redis.call('PEXPIRE', key, 60000)
  end
end

-- The message's JSON of a stored message.
local function body_json(body)
  return string.sub(body, (string.find(body, '{', 1, true)))
end

-- A revocation store (the global one, or a queue's marks of tasks in flight) is a HASH of
-- reasons and a ZSET of expiries. Removes up to 100 expired entries.
local function prune_revoked(reasons, expiry, now)
  local old = redis.call('ZRANGEBYSCORE', expiry, '-inf', now, 'LIMIT', 0, 100)
  if #old > 0 then
    redis.call('HDEL', reasons, unpack(old))
    redis.call('ZREM', expiry, unpack(old))
  end
end

-- Records `id`'s reason until now + ttl and extends both keys' TTL to at least ttl.
local function mark_revoked(reasons, expiry, now, id, reason, ttl)
  redis.call('HSET', reasons, id, reason)
  redis.call('ZADD', expiry, now + ttl, id)
  for _, k in ipairs({reasons, expiry}) do
    if redis.call('PTTL', k) < ttl then redis.call('PEXPIRE', k, ttl) end
  end
end

-- Moves a task to the dead letters with its failure (JSON), keeping the message.
local function bury(msg, claim, dead, dedup, dedup_of, id, body, failure)
  redis.call('HSET', dead, id, '{"failure":' .. failure .. ',"message":' .. body_json(body) .. '}')
  redis.call('HDEL', msg, id)
  redis.call('HDEL', claim, id)
  free_dedup(dedup, dedup_of, id)
end

-- The settlements of a claimed task whose fence was checked by the caller.
-- Done for good: message, claim, lease and dedup key go.
local function do_ack(msg, inflight, claim, dedup, dedup_of, id)
  redis.call('ZREM', inflight, id)
  redis.call('HDEL', claim, id)
  redis.call('HDEL', msg, id)
  free_dedup(dedup, dedup_of, id)
end

-- Rescheduled as a new message (a fresh run: deliveries start again) due at `due` ms.
local function do_retry(msg, ready, delayed, inflight, claim, seq, dedup, dedup_of, wake_key, id, body, due, key)
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
    redis.call('ZADD', delayed, due, id)
  else
    local back = redis.call('HINCRBY', seq, 'back', 1)
    redis.call('ZADD', ready, ready_score(body, back), id)
  end
  wake(wake_key)
end

-- Moved to the dead letters with its failure (JSON).
local function do_dead(msg, inflight, claim, dead, dedup, dedup_of, id, failure)
  redis.call('ZREM', inflight, id)
  local body = redis.call('HGET', msg, id)
  if body then
    bury(msg, claim, dead, dedup, dedup_of, id, body, failure)
  else
    redis.call('HDEL', claim, id)
  end
end
