"""Lua for waiting calls and for recovering a dead controller (shares scripts.PRELUDE)."""

from __future__ import annotations

# KEYS[1] call hash, KEYS[2] queue's waiting zset; ARGV call, queue, controller, vip,
# priority, enqueued_at, score. Reply {1, position}.
ENQUEUE = r"""
local ck, call, ctl = KEYS[1], ARGV[1], ARGV[3]
local q = redis.call('HGET', ck, 'queue')
if q then return no('already_waiting', q) end
redis.call('HSET', ck, 'queue', ARGV[2], 'ctl', ctl, 'vip', ARGV[4], 'prio', ARGV[5],
           'at', ARGV[6])
redis.call('ZADD', KEYS[2], ARGV[7], call)
redis.call('SADD', ccalls(ctl), call)
redis.call('SADD', CTLS, ctl)
return {1, redis.call('ZRANK', KEYS[2], call) + 1}
"""

# KEYS[1] call hash; ARGV call. Reply {1, HGETALL of the entry removed}.
DEQUEUE = r"""
local ck, call = KEYS[1], ARGV[1]
local entry = redis.call('HGETALL', ck)
if #entry == 0 then return no('unknown_call') end
local q, ctl = unpack(redis.call('HMGET', ck, 'queue', 'ctl'))
redis.call('ZREM', qwaiting(q), call)
redis.call('SREM', ccalls(ctl), call)
redis.call('DEL', ck)
return {1, entry}
"""

# KEYS[1] call hash; ARGV call. Reply {1, position (1 = next), waiting in that queue}.
POSITION = r"""
local q = redis.call('HGET', KEYS[1], 'queue')
if not q then return no('unknown_call') end
local rank = redis.call('ZRANK', qwaiting(q), ARGV[1])
if not rank then return no('unknown_call') end
return {1, rank + 1, redis.call('ZCARD', qwaiting(q))}
"""

# KEYS[1] dead's agents index, KEYS[2] dead's calls index; ARGV dead, heir ('' = none),
# now. Reservations it held are released (not counted as missed: the agent did nothing
# wrong); agents on its calls are reported, not touched (only the switch knows whether
# those calls are still up); waiting calls go to the heir with their score, so their
# place in line is kept, or stay for the controller's own restart.
RECOVER = r"""
local dead, heir, now = ARGV[1], ARGV[2], ARGV[3]
local released, oncall, reowned, kept = {}, {}, {}, {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local k = AGENT .. id
  local b = before(k)
  if redis.call('HGET', k, 'ctl') ~= dead then
    redis.call('SREM', KEYS[1], id)
  elseif b[1] == 'reserved' then
    unreserve(k, id, now, false, 0)
    released[#released + 1] = ok(k, id, 'recover', b)
  elseif b[1] == 'on_call' then
    oncall[#oncall + 1] = id
  else
    redis.call('SREM', KEYS[1], id)
  end
end
for _, call in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local ck = CALL .. call
  if redis.call('HGET', ck, 'ctl') ~= dead then
    redis.call('SREM', KEYS[2], call)
  elseif heir ~= '' then
    redis.call('HSET', ck, 'ctl', heir)
    redis.call('SADD', ccalls(heir), call)
    redis.call('SREM', KEYS[2], call)
    reowned[#reowned + 1] = call
  else
    kept[#kept + 1] = call
  end
end
if heir ~= '' and #reowned > 0 then redis.call('SADD', CTLS, heir) end
if redis.call('SCARD', KEYS[1]) == 0 and redis.call('SCARD', KEYS[2]) == 0 then
  redis.call('SREM', CTLS, dead)
end
return {released, oncall, reowned, kept}
"""
