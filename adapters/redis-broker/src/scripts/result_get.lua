-- A task record as it is: {{field, JSON…}, {child ids}}.
-- KEYS: rec, children
return {redis.call('HGETALL', KEYS[1]), redis.call('LRANGE', KEYS[2], 0, -1)}
