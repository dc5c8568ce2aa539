-- A state change of one task record (record_patch.lua is prepended).
-- KEYS: rec, done
-- ARGV: read_back ('1'/'0'), then the patch (see read_patch)
-- Returns, with read_back: {0} if there is no record (and nothing to create it from), else
--         {1, applied (1/0), {field, JSON…} of the record afterwards};
--         without: -1 if there is no record (and nothing to create it from), else applied.
local read_back = ARGV[1] == '1'
local applied, h = apply_patch(KEYS[1], KEYS[2], read_back, read_patch(2))
if applied == nil then
  if read_back then return {0} end
  return -1
end
if not read_back then return applied end
local out = {}
for f, v in pairs(h) do
  out[#out + 1] = f
  out[#out + 1] = v
end
return {1, applied, out}
