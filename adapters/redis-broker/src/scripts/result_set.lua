-- result_apply without reading the record back: the same guard (a terminal record changes
-- only back to PENDING; a write fenced below the record's fence is refused) and the same
-- writes, but it reads only the fields the guard needs (HMGET, not HGETALL) and returns a
-- number, so neither Redis nor the caller builds or parses the whole record.
-- KEYS: rec, done
-- ARGV: as result_apply's.
-- Returns -1 if there is no record (and nothing to create it from), else 1 if the change
-- applied, 0 if the guard refused it.
local rec, done = KEYS[1], KEYS[2]
local ttl, state, terminal, fence = ARGV[1], ARGV[2], ARGV[3] == '1', ARGV[4]

local pos = 5
local function list(width)
  local n = tonumber(ARGV[pos])
  local out = {}
  for i = pos + 1, pos + width * n do out[#out + 1] = ARGV[i] end
  pos = pos + 1 + width * n
  return out
end
local set, set_if_absent, delete, create = list(2), list(2), list(1), list(2)

local wanted = {'state', 'fence'}
for i = 1, #set_if_absent, 2 do wanted[#wanted + 1] = set_if_absent[i] end
local cur = redis.call('HMGET', rec, unpack(wanted))
if not cur[1] then
  if #create == 0 then return -1 end
  redis.call('HSET', rec, unpack(create))
  redis.call('DEL', done)
  cur = redis.call('HMGET', rec, unpack(wanted))
end

local function is_terminal(s)
  return s == '"SUCCESS"' or s == '"FAILURE"' or s == '"REVOKED"'
end

local was_terminal = is_terminal(cur[1])
local applied = 1
if was_terminal and state ~= '"PENDING"' then applied = 0 end
if applied == 1 and fence ~= '' and cur[2] and tonumber(fence) < tonumber(cur[2]) then applied = 0 end
if applied == 1 then
  for i = 1, #set_if_absent, 2 do
    if not cur[2 + (i + 1) / 2] then
      set[#set + 1] = set_if_absent[i]
      set[#set + 1] = set_if_absent[i + 1]
    end
  end
  if #set > 0 then redis.call('HSET', rec, unpack(set)) end
  if #delete > 0 then redis.call('HDEL', rec, unpack(delete)) end
  if terminal then
    redis.call('RPUSH', done, '1')
  elseif was_terminal then
    redis.call('DEL', done)
  end
end
redis.call('PEXPIRE', rec, ttl)
if (applied == 1 and terminal) or (applied == 0 and was_terminal) then redis.call('PEXPIRE', done, ttl) end
return applied
