-- Applies a state change to a task record with TaskRecord::apply's guard: a terminal record
-- changes only back to PENDING; a write fenced below the record's fence is refused. The
-- field changes themselves are computed in Rust (each field holds JSON written by serde, so
-- Lua never decodes JSON). Every call sets the TTL of the task's keys anew.
-- KEYS: rec, children, done
-- ARGV: ttl ms, new state (JSON), new state terminal ('1'/'0'), fence ('' = none),
--       n set, (field, JSON)*, n set-if-null, (field, JSON)*, n create, (field, JSON)*
-- Returns {0} if there is no record (and nothing to create it from), else
--         {1, applied (1/0), {field, JSON…}, {child ids}}.
local rec, children, done = KEYS[1], KEYS[2], KEYS[3]
local ttl, state, terminal, fence = ARGV[1], ARGV[2], ARGV[3] == '1', ARGV[4]

local pos = 5
local function pairs_at()
  local n = tonumber(ARGV[pos])
  local list = {}
  for i = pos + 1, pos + 2 * n do list[#list + 1] = ARGV[i] end
  pos = pos + 1 + 2 * n
  return list
end
local set, set_if_null, create = pairs_at(), pairs_at(), pairs_at()

if redis.call('EXISTS', rec) == 0 then
  if #create == 0 then return {0} end
  redis.call('HSET', rec, unpack(create))
  redis.call('DEL', children, done)
end

local function is_terminal(s)
  return s == '"SUCCESS"' or s == '"FAILURE"' or s == '"REVOKED"'
end

local cur = redis.call('HMGET', rec, 'state', 'fence')
local applied = 1
if is_terminal(cur[1]) and state ~= '"PENDING"' then applied = 0 end
if applied == 1 and fence ~= '' and cur[2] and cur[2] ~= 'null' and tonumber(fence) < tonumber(cur[2]) then
  applied = 0
end
if applied == 1 then
  if #set > 0 then redis.call('HSET', rec, unpack(set)) end
  for i = 1, #set_if_null, 2 do
    local v = redis.call('HGET', rec, set_if_null[i])
    if not v or v == 'null' then redis.call('HSET', rec, set_if_null[i], set_if_null[i + 1]) end
  end
  redis.call('DEL', done)
  if terminal then redis.call('RPUSH', done, '1') end
end
for _, k in ipairs({rec, children, done}) do redis.call('PEXPIRE', k, ttl) end
return {1, applied, redis.call('HGETALL', rec), redis.call('LRANGE', children, 0, -1)}
