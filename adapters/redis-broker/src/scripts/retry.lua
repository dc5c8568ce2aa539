-- Reschedules a claimed task as a new message (a fresh run: deliveries start again).
-- KEYS: msg, ready, delayed, inflight, claim, seq, dedup, dedup_of, wake
-- ARGV: id, fence, stored body, due ms, dedup key ('' = none)
-- Returns 1, or 0 if the fence is not the current claim.
local msg, ready, delayed, inflight, claim, seq, dedup, dedup_of, wake_key =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9]
local id = ARGV[1]
local held = parse_claim(redis.call('HGET', claim, id))
if held == 0 or held ~= tonumber(ARGV[2]) then return 0 end
do_retry(msg, ready, delayed, inflight, claim, seq, dedup, dedup_of, wake_key, id, ARGV[3], tonumber(ARGV[4]), ARGV[5])
return 1
