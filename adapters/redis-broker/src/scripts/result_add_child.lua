-- Appends a child id to an existing record's children (a JSON array of ids), once.
-- KEYS: rec, done
-- ARGV: ttl ms, child id
-- Returns 1 if the parent record exists, else 0.
local rec, done = KEYS[1], KEYS[2]
local children = redis.call('HMGET', rec, 'state', 'children')
if not children[1] then return 0 end
local quoted = '"' .. ARGV[2] .. '"'
local list = children[2]
if not list or list == '[]' then
  redis.call('HSET', rec, 'children', '[' .. quoted .. ']')
elseif not string.find(list, quoted, 1, true) then
  redis.call('HSET', rec, 'children', string.sub(list, 1, -2) .. ',' .. quoted .. ']')
end
redis.call('PEXPIRE', rec, ARGV[1])
redis.call('PEXPIRE', done, ARGV[1])
return 1
