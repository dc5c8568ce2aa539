-- Enqueues messages of one queue (a batch costs a few calls, whatever its size).
-- KEYS: msg, ready, delayed, seq, dedup, dedup_of, wake
-- ARGV: n, then per message: id, stored body, due ms ('' = due now), dedup key ('' = none)
-- Returns per message: 1 (queued) or the id of the task it duplicates.
local msg, ready, delayed, seq, dedup, dedup_of, wake_key = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]
local n = tonumber(ARGV[1])
local now = now_ms()

local ids, keys = {}, {}
for i = 1, n do
  local a = 2 + (i - 1) * 4
  ids[i] = ARGV[a]
  if ARGV[a + 3] ~= '' then keys[#keys + 1] = ARGV[a + 3] end
end
local present = redis.call('HMGET', msg, unpack(ids))
local holder = {}
if #keys > 0 then
  local held = redis.call('HMGET', dedup, unpack(keys))
  for i, k in ipairs(keys) do
    if held[i] then holder[k] = held[i] end
  end
end

local back = redis.call('HINCRBY', seq, 'back', n) - n
local out, seen = {}, {}
local bodies, ready_args, delayed_args, dedup_args, dedup_of_args = {}, {}, {}, {}, {}
for i = 1, n do
  local a = 2 + (i - 1) * 4
  local id, body, due, key = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2]), ARGV[a + 3]
  if key ~= '' and holder[key] then
    out[i] = holder[key]
  elseif present[i] or seen[id] then
    out[i] = id
  else
    seen[id] = true
    bodies[#bodies + 1] = id
    bodies[#bodies + 1] = body
    if key ~= '' then
      holder[key] = id
      dedup_args[#dedup_args + 1] = key
      dedup_args[#dedup_args + 1] = id
      dedup_of_args[#dedup_of_args + 1] = id
      dedup_of_args[#dedup_of_args + 1] = key
    end
    if due and due > now then
      delayed_args[#delayed_args + 1] = ARGV[a + 2]
      delayed_args[#delayed_args + 1] = id
    else
      back = back + 1
      ready_args[#ready_args + 1] = ready_score(body, back)
      ready_args[#ready_args + 1] = id
    end
    out[i] = 1
  end
end
if #bodies > 0 then redis.call('HSET', msg, unpack(bodies)) end
if #ready_args > 0 then redis.call('ZADD', ready, unpack(ready_args)) end
if #delayed_args > 0 then redis.call('ZADD', delayed, unpack(delayed_args)) end
if #dedup_args > 0 then
  redis.call('HSET', dedup, unpack(dedup_args))
  redis.call('HSET', dedup_of, unpack(dedup_of_args))
end
wake(wake_key)
return out
