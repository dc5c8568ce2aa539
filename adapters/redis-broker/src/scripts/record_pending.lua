-- Stores the PENDING records of messages just enqueued in the same round trip (queue's slot):
-- a record is written only for a task whose message is in the queue (not one that a dedup
-- key turned into a duplicate) and that has no record yet.
-- KEYS: msg, task record prefix
-- ARGV: ttl ms, n, then per record: id, n fields, (field, JSON)*
-- Returns how many records were written.
local msg, prefix = KEYS[1], KEYS[2]
local ttl, n = ARGV[1], tonumber(ARGV[2])
local pos, written = 3, 0
for _ = 1, n do
  local id, count = ARGV[pos], tonumber(ARGV[pos + 1])
  local rec = prefix .. id
  if redis.call('HEXISTS', msg, id) == 1 and redis.call('EXISTS', rec) == 0 then
    redis.call('HSET', rec, unpack(ARGV, pos + 2, pos + 1 + 2 * count))
    redis.call('PEXPIRE', rec, ttl)
    written = written + 1
  end
  pos = pos + 2 + 2 * count
end
return written
