-- The task is done for good: message, claim, lease and dedup key go.
-- KEYS: msg, inflight, claim, dedup, dedup_of
-- ARGV: id, fence
-- Returns 1, or 0 if the fence is not the current claim (lease lost).
local msg, inflight, claim, dedup, dedup_of = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local id = ARGV[1]
local held = parse_claim(redis.call('HGET', claim, id))
if held == 0 or held ~= tonumber(ARGV[2]) then return 0 end
do_ack(msg, inflight, claim, dedup, dedup_of, id)
return 1
