-- Applies a state change to a task record with TaskRecord::apply's guard: a terminal record
-- changes only back to PENDING; a write fenced below the record's fence is refused. The
-- field changes themselves are computed in Rust (each field holds JSON written by serde, a
-- null field is absent), so Lua never decodes JSON. Every call sets the TTL anew.
-- With read_back '0' (the worker's writes: it knows what it wrote) only the fields the guard
-- needs are read (HMGET, not HGETALL) and a number is returned, so neither Redis nor the
-- caller builds or parses the whole record.
-- KEYS: rec, done
-- ARGV: read_back ('1'/'0'), ttl ms, new state (JSON), new state terminal ('1'/'0'),
--       fence ('' = none), n set, (field, JSON)*, n set-if-absent, (field, JSON)*,
--       n delete, field*, n create, (field, JSON)*
-- Returns, with read_back: {0} if there is no record (and nothing to create it from), else
--         {1, applied (1/0), {field, JSON…} of the record afterwards};
--         without: -1 if there is no record (and nothing to create it from), else applied.
local rec, done = KEYS[1], KEYS[2]
local read_back, ttl, state, terminal, fence = ARGV[1] == '1', ARGV[2], ARGV[3], ARGV[4] == '1', ARGV[5]

local pos = 6
local function list(width)
  local n = tonumber(ARGV[pos])
  local out = {}
  for i = pos + 1, pos + width * n do out[#out + 1] = ARGV[i] end
  pos = pos + 1 + width * n
  return out
end
local set, set_if_absent, delete, create = list(2), list(2), list(1), list(2)

-- The record as far as it is read: all of it, or the guard's fields and set_if_absent's.
local wanted = {'state', 'fence'}
for i = 1, #set_if_absent, 2 do wanted[#wanted + 1] = set_if_absent[i] end
local function load()
  local h = {}
  if read_back then
    local flat = redis.call('HGETALL', rec)
    for i = 1, #flat, 2 do h[flat[i]] = flat[i + 1] end
  else
    local got = redis.call('HMGET', rec, unpack(wanted))
    for i, f in ipairs(wanted) do
      if got[i] then h[f] = got[i] end
    end
  end
  return h
end

local h = load()
if not h.state then
  if #create == 0 then
    if read_back then return {0} end
    return -1
  end
  redis.call('HSET', rec, unpack(create))
  redis.call('DEL', done)
  h = load()
end

local function is_terminal(s)
  return s == '"SUCCESS"' or s == '"FAILURE"' or s == '"REVOKED"'
end

local was_terminal = is_terminal(h.state)
local applied = 1
if was_terminal and state ~= '"PENDING"' then applied = 0 end
if applied == 1 and fence ~= '' and h.fence and tonumber(fence) < tonumber(h.fence) then applied = 0 end
if applied == 1 then
  for i = 1, #set_if_absent, 2 do
    if not h[set_if_absent[i]] then
      set[#set + 1] = set_if_absent[i]
      set[#set + 1] = set_if_absent[i + 1]
    end
  end
  if #set > 0 then redis.call('HSET', rec, unpack(set)) end
  for i = 1, #set, 2 do h[set[i]] = set[i + 1] end
  if #delete > 0 then redis.call('HDEL', rec, unpack(delete)) end
  for _, f in ipairs(delete) do h[f] = nil end
  if terminal then
    redis.call('RPUSH', done, '1')
  elseif was_terminal then
    redis.call('DEL', done)
  end
end
redis.call('PEXPIRE', rec, ttl)
if (applied == 1 and terminal) or (applied == 0 and was_terminal) then redis.call('PEXPIRE', done, ttl) end

if not read_back then return applied end
local out = {}
for f, v in pairs(h) do
  out[#out + 1] = f
  out[#out + 1] = v
end
return {1, applied, out}
