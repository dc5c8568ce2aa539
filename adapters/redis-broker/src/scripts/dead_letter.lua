-- Moves a claimed task to the dead letters with its failure.
-- KEYS: msg, inflight, claim, dead, dedup, dedup_of
-- ARGV: id, fence, failure JSON
-- Returns 1, or 0 if the fence is not the current claim.
local msg, inflight, claim, dead, dedup, dedup_of = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local id = ARGV[1]
local held = parse_claim(redis.call('HGET', claim, id))
if held == 0 or held ~= tonumber(ARGV[2]) then return 0 end
do_dead(msg, inflight, claim, dead, dedup, dedup_of, id, ARGV[3])
return 1
