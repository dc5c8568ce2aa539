-- Applies a state change to a task record with TaskRecord::apply's guard: a terminal record
-- changes only back to PENDING; a write fenced below the record's fence is refused. The
-- field changes themselves are computed in Rust (each field holds JSON written by serde, a
-- null field is absent), so Lua never decodes JSON. Every call sets the TTL anew.
-- Prepended to the scripts that write records (result_apply.lua, settle.lua).
--
-- read_patch(pos) reads a patch from ARGV starting at pos:
--   ttl ms, new state (JSON), new state terminal ('1'/'0'), fence ('' = none),
--   n set, (field, JSON)*, n set-if-absent, (field, JSON)*, n delete, field*,
--   n create, (field, JSON)*
-- apply_patch(rec, done, read_back, p) applies it. With read_back false only the fields the
-- guard needs are read (HMGET, not HGETALL). Returns nil if there is no record (and nothing
-- to create it from), else applied (1/0) and the record's fields afterwards as a table (all
-- of them with read_back, else the guard's).

local function read_patch(pos)
  local p = {ttl = ARGV[pos], state = ARGV[pos + 1], terminal = ARGV[pos + 2] == '1', fence = ARGV[pos + 3]}
  pos = pos + 4
  local function list(width)
    local n = tonumber(ARGV[pos])
    local out = {}
    for i = pos + 1, pos + width * n do out[#out + 1] = ARGV[i] end
    pos = pos + 1 + width * n
    return out
  end
  p.set, p.set_if_absent, p.delete, p.create = list(2), list(2), list(1), list(2)
  return p
end

local function is_terminal(s)
  return s == '"SUCCESS"' or s == '"FAILURE"' or s == '"REVOKED"'
end

local function apply_patch(rec, done, read_back, p)
  local set = p.set
  local wanted = {'state', 'fence'}
  for i = 1, #p.set_if_absent, 2 do wanted[#wanted + 1] = p.set_if_absent[i] end
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
    if #p.create == 0 then return nil end
    redis.call('HSET', rec, unpack(p.create))
    redis.call('DEL', done)
    h = load()
  end

  local was_terminal = is_terminal(h.state)
  local applied = 1
  if was_terminal and p.state ~= '"PENDING"' then applied = 0 end
  if applied == 1 and p.fence ~= '' and h.fence and tonumber(p.fence) < tonumber(h.fence) then applied = 0 end
  if applied == 1 then
    for i = 1, #p.set_if_absent, 2 do
      if not h[p.set_if_absent[i]] then
        set[#set + 1] = p.set_if_absent[i]
        set[#set + 1] = p.set_if_absent[i + 1]
      end
    end
    if #set > 0 then redis.call('HSET', rec, unpack(set)) end
    for i = 1, #set, 2 do h[set[i]] = set[i + 1] end
    if #p.delete > 0 then redis.call('HDEL', rec, unpack(p.delete)) end
    for _, f in ipairs(p.delete) do h[f] = nil end
    if p.terminal then
      redis.call('RPUSH', done, '1')
    elseif was_terminal then
      redis.call('DEL', done)
    end
  end
  redis.call('PEXPIRE', rec, p.ttl)
  if (applied == 1 and p.terminal) or (applied == 0 and was_terminal) then redis.call('PEXPIRE', done, p.ttl) end
  return applied, h
end
