-- The live revocations among the given ids.
-- KEYS: reasons, expiry
-- ARGV: ids
-- Returns id, reason pairs of the revoked ones.
local reasons, expiry = KEYS[1], KEYS[2]
if redis.call('EXISTS', reasons) == 0 then return {} end
local now = now_ms()
local found = redis.call('HMGET', reasons, unpack(ARGV))
local out = {}
for i, id in ipairs(ARGV) do
  if found[i] then
    local until_ms = tonumber(redis.call('ZSCORE', expiry, id))
    if until_ms and until_ms > now then
      out[#out + 1] = id
      out[#out + 1] = found[i]
    end
  end
end
return out
