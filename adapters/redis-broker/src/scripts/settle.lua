-- The end of a delivery in one step: records the outcome on the task's record (with
-- record_patch.lua's guard), then, if the delivery still holds its lease (the fence is the
-- current claim), acknowledges it, schedules its retry, or dead-letters it.
-- (prelude.lua and record_patch.lua are prepended.)
-- KEYS: msg, ready, delayed, inflight, claim, seq, dead, dedup, dedup_of, wake, rec, done
-- ARGV: id, fence, how ('ack' | 'retry' | 'dead'), then for retry: stored body, due ms,
--       dedup key ('' = none); for dead: failure JSON; then the patch (see read_patch)
-- Returns {recorded (1/0, -1: no record), lease held (1/0)}.
local msg, ready, delayed, inflight, claim, seq, dead, dedup, dedup_of, wake_key =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local rec, done = KEYS[11], KEYS[12]
local id, fence, how = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local pos = 4
if how == 'retry' then pos = 7 elseif how == 'dead' then pos = 5 end

local recorded = apply_patch(rec, done, false, read_patch(pos))
if recorded == nil then recorded = -1 end

local held = parse_claim(redis.call('HGET', claim, id))
if held == 0 or held ~= fence then return {recorded, 0} end
if how == 'ack' then
  do_ack(msg, inflight, claim, dedup, dedup_of, id)
elseif how == 'retry' then
  do_retry(msg, ready, delayed, inflight, claim, seq, dedup, dedup_of, wake_key, id, ARGV[4], tonumber(ARGV[5]), ARGV[6])
else
  do_dead(msg, inflight, claim, dead, dedup, dedup_of, id, ARGV[4])
end
return {recorded, 1}
