-- Applies a state change to a task record with TaskRecord::apply's guard: a terminal record
-- changes only back to PENDING; a write fenced below the record's fence is refused. The
-- field changes themselves are computed in Rust (each field holds JSON written by serde, a
-- null field is absent), so Lua never decodes JSON. Every call sets the TTL anew.
-- KEYS: rec, done
-- ARGV: ttl ms, new state (JSON), new state terminal ('1'/'0'), fence ('' = none),
--       n set, (field, JSON)*, n set-if-absent, (field, JSON)*, n delete, field*,
--       n create, (field, JSON)*
-- Returns {0} if there is no record (and nothing to create it from), else
--         {1, applied (1/0), {field, JSON…} of the record afterwards}.
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

local flat = redis.call('HGETALL', rec)
if #flat == 0 then
  if #create == 0 then return {0} end
  redis.call('HSET', rec, unpack(create))
  redis.call('DEL', done)
  flat = create
end
local h = {}
for i = 1, #flat, 2 do h[flat[i]] = flat[i + 1] end

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
  local gone = {}
  for _, f in ipairs(delete) do
    if h[f] then
      gone[#gone + 1] = f
      h[f] = nil
    end
  end
  if #gone > 0 then redis.call('HDEL', rec, unpack(gone)) end
  if terminal then
    redis.call('RPUSH', done, '1')
  elseif was_terminal then
    redis.call('DEL', done)
  end
end
redis.call('PEXPIRE', rec, ttl)
if (applied == 1 and terminal) or (applied == 0 and was_terminal) then redis.call('PEXPIRE', done, ttl) end

local out = {}
for f, v in pairs(h) do
  out[#out + 1] = f
  out[#out + 1] = v
end
return {1, applied, out}
