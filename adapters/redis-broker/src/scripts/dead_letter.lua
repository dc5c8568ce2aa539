-- Moves a claimed task to the dead letters with its failure.
-- KEYS: msg, inflight, claim, dead, dedup, dedup_of
-- ARGV: id, fence, failure JSON
-- Returns 1, or 0 if the fence is not the current claim.
local msg, inflight, claim, dead, dedup, dedup_of = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local id = ARGV[1]
local held = parse_claim(redis.call('HGET', claim, id))
if held == 0 or held ~= tonumber(ARGV[2]) then return 0 end
redis.call('ZREM', inflight, id)
local body = redis.call('HGET', msg, id)
if body then
  bury(msg, claim, dead, dedup, dedup_of, id, body, ARGV[3])
else
  redis.call('HDEL', claim, id)
end
return 1
