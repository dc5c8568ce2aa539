-- One fetch round on one queue: reclaim expired leases, promote due delayed tasks, claim,
-- and (with stamp '1') record STARTED for each claimed task that may start at once.
-- KEYS: msg, ready, delayed, inflight, claim, seq, dead, dedup, dedup_of, wake,
--       task record prefix, done prefix, revoked, revoked_exp (all of the queue's slot)
-- ARGV: max, lease ms, max deliveries, batch (bound of the reclaim and promote steps),
--       stamp ('1'/'0'), result ttl ms, worker (JSON), at (JSON)
-- Returns {now ms, ms until something may change (-1: nothing scheduled), {ids dead-lettered},
--          then per claimed task: id, fence, attempt, stored body, started (1/0),
--          revoke reason ('' = none)}.
local msg, ready, delayed, inflight, claim, seq, dead, dedup, dedup_of, wake_key =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8], KEYS[9], KEYS[10]
local task_prefix, done_prefix, revoked, revoked_exp = KEYS[11], KEYS[12], KEYS[13], KEYS[14]
local max, lease, max_deliveries, batch = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local stamp, ttl, worker, at = ARGV[5] == '1', ARGV[6], ARGV[7], ARGV[8]
local now = now_ms()
local more = false
local buried = {}

-- 1. Expired leases: the task is delivered again (front of its priority), or dead-lettered
--    once it has been delivered max_deliveries times.
local expired = redis.call('ZRANGEBYSCORE', inflight, '-inf', now, 'LIMIT', 0, batch)
if #expired == batch then more = true end
-- One block of front numbers, so that the reclaimed keep their order among themselves.
local front = 0
if #expired > 0 then front = redis.call('HINCRBY', seq, 'front', -#expired) - 1 end
for _, id in ipairs(expired) do
  front = front + 1
  redis.call('ZREM', inflight, id)
  local _, deliveries = parse_claim(redis.call('HGET', claim, id))
  local body = redis.call('HGET', msg, id)
  if not body then
    redis.call('HDEL', claim, id)
  elseif deliveries >= max_deliveries then
    local failure = '{"kind":"DeliveryLimitExceeded","message":"delivered ' .. deliveries ..
      ' times without being acknowledged","retryable":false}'
    bury(msg, claim, dead, dedup, dedup_of, id, body, failure)
    buried[#buried + 1] = id
  else
    redis.call('HSET', claim, id, '0:' .. deliveries)
    redis.call('ZADD', ready, ready_score(body, front), id)
  end
end

-- 2. Due delayed tasks become ready (back of their priority).
local due = redis.call('ZRANGEBYSCORE', delayed, '-inf', now, 'LIMIT', 0, batch)
if #due == batch then more = true end
if #due > 0 then
  redis.call('ZREM', delayed, unpack(due))
  local bodies = redis.call('HMGET', msg, unpack(due))
  local back = redis.call('HINCRBY', seq, 'back', #due) - #due
  for i, id in ipairs(due) do
    if bodies[i] then
      back = back + 1
      redis.call('ZADD', ready, ready_score(bodies[i], back), id)
    end
  end
end

-- Records STARTED on the task's record (its key built from the queue's prefix: same slot)
-- with TaskRecord::apply's guard; 0 if there is no record (the worker creates it), or it is
-- final, or a newer delivery's.
local function record_started(id, fence, attempt, retries)
  local rec = task_prefix .. id
  local h = redis.call('HMGET', rec, 'state', 'fence', 'received_at')
  if not h[1] then return 0 end
  if h[1] == '"SUCCESS"' or h[1] == '"FAILURE"' or h[1] == '"REVOKED"' then return 0 end
  if h[2] and tonumber(fence) < tonumber(h[2]) then return 0 end
  local fields = {'state', '"STARTED"', 'updated_at', at, 'fence', fence, 'worker', worker,
    'attempts', attempt, 'started_at', at}
  if retries ~= '' then
    fields[#fields + 1] = 'retries'
    fields[#fields + 1] = retries
  end
  if not h[3] then
    fields[#fields + 1] = 'received_at'
    fields[#fields + 1] = at
  end
  redis.call('HSET', rec, unpack(fields))
  redis.call('HDEL', rec, 'error')
  redis.call('PEXPIRE', rec, ttl)
  return 1
end

-- 3. Claim: each task goes in flight under a new fence with its delivery count raised.
local out = {now, -1, buried}
local popped = redis.call('ZPOPMIN', ready, max)
local n = #popped / 2
if n > 0 then
  local ids = {}
  for i = 1, n do ids[i] = popped[2 * i - 1] end
  local bodies = redis.call('HMGET', msg, unpack(ids))
  local claims = redis.call('HMGET', claim, unpack(ids))
  local fence = redis.call('HINCRBY', seq, 'fence', n) - n
  local deadline = now + lease
  local reasons, expiries = {}, {}
  if redis.call('EXISTS', revoked) == 1 then
    reasons = redis.call('HMGET', revoked, unpack(ids))
    expiries = redis.call('ZMSCORE', revoked_exp, unpack(ids))
  end
  local zadd, hset = {}, {}
  for i = 1, n do
    local id, body = ids[i], bodies[i]
    if body then
      fence = fence + 1
      local _, deliveries = parse_claim(claims[i])
      local f = string.format('%d', fence)
      zadd[#zadd + 1] = deadline
      zadd[#zadd + 1] = id
      hset[#hset + 1] = id
      hset[#hset + 1] = f .. ':' .. (deliveries + 1)
      local reason = ''
      if reasons[i] and expiries[i] and tonumber(expiries[i]) > now then reason = reasons[i] end
      local started = 0
      if stamp and reason == '' then
        local flag, retries = string.match(body, '^%d([SL])(%d*)')
        if flag == 'S' then started = record_started(id, f, deliveries + 1, retries) end
      end
      out[#out + 1] = id
      out[#out + 1] = f
      out[#out + 1] = deliveries + 1
      out[#out + 1] = body
      out[#out + 1] = started
      out[#out + 1] = reason
    else
      redis.call('HDEL', claim, id)
    end
  end
  if #zadd > 0 then
    redis.call('ZADD', inflight, unpack(zadd))
    redis.call('HSET', claim, unpack(hset))
  end
  -- More is ready: pass the baton to another blocked fetch.
  if redis.call('ZCARD', ready) > 0 then wake(wake_key) end
elseif more then
  out[2] = 0
else
  local next_at = nil
  local d = redis.call('ZRANGE', delayed, 0, 0, 'WITHSCORES')
  if d[2] then next_at = tonumber(d[2]) end
  local l = redis.call('ZRANGE', inflight, 0, 0, 'WITHSCORES')
  if l[2] and (not next_at or tonumber(l[2]) < next_at) then next_at = tonumber(l[2]) end
  if next_at then out[2] = math.max(next_at - now, 0) end
end
return out
