-- Purges up to `limit` waiting tasks of one queue (ready first, then delayed): each loses
-- its message, claim and dedup key. Running and dead-lettered tasks stay.
-- KEYS: msg, ready, delayed, claim, dedup, dedup_of
-- ARGV: limit
-- Returns how many were removed (less than `limit`: the queue has no waiting task left).
local msg, ready, delayed, claim, dedup, dedup_of = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local limit = tonumber(ARGV[1])
local n = 0
for _, set in ipairs({ready, delayed}) do
  if n < limit then
    local ids = redis.call('ZRANGE', set, 0, limit - n - 1)
    for _, id in ipairs(ids) do
      redis.call('ZREM', set, id)
      redis.call('HDEL', msg, id)
      redis.call('HDEL', claim, id)
      free_dedup(dedup, dedup_of, id)
      n = n + 1
    end
  end
end
return n
