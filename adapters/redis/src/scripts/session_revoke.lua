-- Deletes a session and says whose it was.
-- KEYS[1]  the session hash
-- Returns the user id, or nil if there was no session.
local user = redis.call('HGET', KEYS[1], 'user')
if user then
  redis.call('UNLINK', KEYS[1])
end
return user
