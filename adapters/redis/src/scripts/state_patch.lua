-- Merges data keys into a user's state hash, atomically.
-- KEYS[1]  the state hash (fields: step, updated_at, d:<data key> = JSON value)
-- ARGV[1]  TTL in milliseconds
-- ARGV[2]  updated_at (RFC 3339)
-- ARGV[3..] field, value pairs; an empty value deletes the field (JSON is never empty)
-- Returns the whole hash after the merge, or nil (and changes nothing) if there is no state.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
for i = 3, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[1], ARGV[i])
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
redis.call('HSET', KEYS[1], 'updated_at', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return redis.call('HGETALL', KEYS[1])
