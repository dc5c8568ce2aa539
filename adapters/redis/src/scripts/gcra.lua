-- GCRA rate limiting: check and count one action in a single atomic step.
-- KEYS[1]  the key's theoretical arrival time (TAT), µs since the epoch on Redis's clock
-- ARGV[1]  limit (actions per period, > 0)
-- ARGV[2]  emission interval in µs (period / limit, >= 1)
-- Returns {allowed (1|0), remaining, reset_after in µs}.
--
-- Each allowed action moves the TAT one interval on; an action is allowed while the TAT
-- would stay at most limit * interval (one period) ahead of now. The key expires when its
-- TAT is reached, which is exactly when an absent key means the same thing.
redis.replicate_commands() -- Redis 5/6: replicate effects (TIME is not deterministic); no-op on 7+
local limit = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local burst = limit * interval
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then
  tat = now
end
local ahead = tat - now + interval
if ahead > burst then
  return {0, 0, ahead - burst}
end
redis.call('SET', KEYS[1], string.format('%d', now + ahead), 'PX', math.ceil(ahead / 1000))
local remaining = math.floor((burst - ahead) / interval)
local reset_after = ahead + interval - burst
if reset_after < 0 then
  reset_after = 0
end
return {1, remaining, reset_after}
