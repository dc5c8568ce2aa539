-- Extends the leases still held by the given claims.
-- KEYS: inflight, claim
-- ARGV: lease ms, then id, fence pairs
-- Returns {lease deadline ms, then 1 (held) or 0 (lost) per pair}.
local inflight, claim = KEYS[1], KEYS[2]
local deadline = now_ms() + tonumber(ARGV[1])
local out = {deadline}
for i = 2, #ARGV, 2 do
  local id, fence = ARGV[i], tonumber(ARGV[i + 1])
  local held = parse_claim(redis.call('HGET', claim, id))
  if held ~= 0 and held == fence then
    redis.call('ZADD', inflight, 'XX', deadline, id)
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
return out
