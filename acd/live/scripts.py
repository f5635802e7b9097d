"""The Lua scripts of the live ACD state, one per operation, each sharing PRELUDE.

Every check and every write of one operation runs in one script, so Redis runs it as
one step: no other client (another controller included) sees half of it, and two
reservations of one agent are serialized by Redis itself (DESIGN "State that must
survive"). Times are passed in (ARGV), never read from Redis's clock, so a fake clock
drives them in tests. Replies: ``{1, ...}`` done, ``{0, code, detail}`` refused with
nothing written, ``{2}`` nothing to do.

An agent reply is ``{1, id, action, prev_state, prev_reason, prev_since, prev_queues,
HGETALL}``. Scripts name the agent/call hashes they start from in KEYS and derive the
rest (queue sets, controller indexes) from them: fine on one Redis, not Redis Cluster.
"""

from __future__ import annotations

PRELUDE = r"""
local AGENT, CALL = 'acd:agent:', 'acd:call:'
local RES, WRAP, CTLS = 'acd:reservations', 'acd:wrapups', 'acd:controllers'
local function qagents(q) return 'acd:queue:' .. q .. ':agents' end
local function qwaiting(q) return 'acd:queue:' .. q .. ':waiting' end
local function cagents(c) return 'acd:ctl:' .. c .. ':agents' end
local function ccalls(c) return 'acd:ctl:' .. c .. ':calls' end
local function before(k) return redis.call('HMGET', k, 'state', 'reason', 'since', 'queues') end
local function ok(k, id, action, b)
  return {1, id, action, b[1] or 'logged_out', b[2] or '', b[3] or '0', b[4] or '',
          redis.call('HGETALL', k)}
end
local function no(code, detail) return {0, code, detail or ''} end
-- today's counters restart on the first change of a new local day
local function rollover(k, now, off)
  local d = math.floor((tonumber(now) + tonumber(off)) / 86400)
  if tonumber(redis.call('HGET', k, 'day') or '-1') ~= d then
    redis.call('HSET', k, 'day', d, 'calls', 0, 'talk', 0)
  end
end
local function take(k, id, call, ctl, untl, now)
  redis.call('HSET', k, 'state', 'reserved', 'since', now, 'call', call, 'ctl', ctl,
             'until', untl)
  redis.call('ZADD', RES, untl, id)
  redis.call('SADD', cagents(ctl), id)
  redis.call('SADD', CTLS, ctl)
end
-- reserved -> ready, or not ready after max_missed offers missed in a row (0: never)
local function unreserve(k, id, now, missed, max_missed)
  local ctl = redis.call('HGET', k, 'ctl')
  if ctl then redis.call('SREM', cagents(ctl), id) end
  redis.call('ZREM', RES, id)
  redis.call('HDEL', k, 'call', 'ctl', 'until')
  local state, reason = 'ready', ''
  if missed then
    local n = redis.call('HINCRBY', k, 'missed', 1)
    if max_missed > 0 and n >= max_missed then state, reason = 'not_ready', 'missed_offers' end
  end
  redis.call('HSET', k, 'state', state, 'reason', reason, 'since', now)
end
-- the agent must hold this very call in this state
local function holds(k, b, state, call)
  if not b[1] then return no('unknown_agent') end
  if b[1] ~= state then return no('invalid_transition', b[1]) end
  local held = redis.call('HGET', k, 'call')
  if held ~= call then return no('wrong_call', held or '') end
  return nil
end
"""

# KEYS[1] agent; ARGV id, now, utc_offset, state, reason, queues (sorted, space-joined)
LOGIN = r"""
local k, id, now = KEYS[1], ARGV[1], ARGV[2]
local b = before(k)
if b[1] and b[1] ~= 'logged_out' then return no('invalid_transition', b[1]) end
if not b[1] then b = {false, false, now, false} end
rollover(k, now, ARGV[3])
redis.call('HDEL', k, 'call', 'ctl', 'until')
redis.call('HSET', k, 'state', ARGV[4], 'reason', ARGV[5], 'since', now, 'idle', now,
           'queues', ARGV[6], 'missed', 0)
for q in string.gmatch(ARGV[6], '%S+') do redis.call('SADD', qagents(q), id) end
return ok(k, id, 'login', b)
"""

# KEYS[1] agent; ARGV id, now
LOGOUT = r"""
local k, id = KEYS[1], ARGV[1]
local b = before(k)
if not b[1] then return no('unknown_agent') end
if b[1] == 'logged_out' then return ok(k, id, 'logout', b) end
if b[1] == 'reserved' or b[1] == 'on_call' then return no('invalid_transition', b[1]) end
for q in string.gmatch(b[4] or '', '%S+') do redis.call('SREM', qagents(q), id) end
redis.call('ZREM', WRAP, id)
redis.call('HDEL', k, 'until')
redis.call('HSET', k, 'state', 'logged_out', 'reason', '', 'since', ARGV[2], 'queues', '')
return ok(k, id, 'logout', b)
"""

# KEYS[1] agent; ARGV id, now, target (ready|not_ready), reason
SET_STATE = r"""
local k, id, now, target, reason = KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local b = before(k)
if not b[1] then return no('unknown_agent') end
local s = b[1]
if s == 'logged_out' or s == 'reserved' or s == 'on_call' then
  return no('invalid_transition', s)
end
if s == target and (b[2] or '') == reason then return ok(k, id, 'set_state', b) end
if s == 'wrap_up' then
  redis.call('ZREM', WRAP, id)
  redis.call('HDEL', k, 'until')
end
redis.call('HSET', k, 'state', target, 'reason', reason, 'since', now)
if target == 'ready' and s ~= 'ready' then redis.call('HSET', k, 'idle', now, 'missed', 0) end
return ok(k, id, 'set_state', b)
"""

# KEYS[1] agent; ARGV id, queue, 'in'|'out'
SIGN = r"""
local k, id, queue = KEYS[1], ARGV[1], ARGV[2]
local b = before(k)
if not b[1] then return no('unknown_agent') end
if b[1] == 'logged_out' then return no('invalid_transition', b[1]) end
local set, list = {}, {}
for q in string.gmatch(b[4] or '', '%S+') do set[q] = true end
if ARGV[3] == 'in' then
  set[queue] = true
  redis.call('SADD', qagents(queue), id)
else
  set[queue] = nil
  redis.call('SREM', qagents(queue), id)
end
for q in pairs(set) do list[#list + 1] = q end
table.sort(list)
redis.call('HSET', k, 'queues', table.concat(list, ' '))
return ok(k, id, 'sign_' .. ARGV[3], b)
"""

# KEYS[1] agent; ARGV id, call, controller, until, now
RESERVE = r"""
local k, id = KEYS[1], ARGV[1]
local b = before(k)
if not b[1] then return no('unknown_agent') end
if b[1] ~= 'ready' or redis.call('HEXISTS', k, 'call') == 1 then
  return no('not_available', b[1])
end
take(k, id, ARGV[2], ARGV[3], ARGV[4], ARGV[5])
return ok(k, id, 'reserve', b)
"""

# KEYS agent hashes in rank order; ARGV call, controller, until, now, then the ids
RESERVE_FIRST = r"""
for i = 1, #KEYS do
  local k = KEYS[i]
  if redis.call('HGET', k, 'state') == 'ready' and redis.call('HEXISTS', k, 'call') == 0 then
    local b = before(k)
    take(k, ARGV[4 + i], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
    return ok(k, ARGV[4 + i], 'reserve', b)
  end
end
return {2}
"""

# KEYS[1] agent; ARGV id, call, now, missed (0|1), max_missed
RELEASE = r"""
local k, id = KEYS[1], ARGV[1]
local b = before(k)
local refused = holds(k, b, 'reserved', ARGV[2])
if refused then return refused end
unreserve(k, id, ARGV[3], ARGV[4] == '1', tonumber(ARGV[5]))
return ok(k, id, ARGV[4] == '1' and 'missed' or 'release', b)
"""

# KEYS[1] agent; ARGV id, call, now, utc_offset. Also takes the call out of its queue.
CONFIRM = r"""
local k, id, call, now = KEYS[1], ARGV[1], ARGV[2], ARGV[3]
local b = before(k)
local refused = holds(k, b, 'reserved', call)
if refused then return refused end
rollover(k, now, ARGV[4])
redis.call('ZREM', RES, id)
redis.call('HDEL', k, 'until')
redis.call('HSET', k, 'state', 'on_call', 'reason', '', 'since', now, 'missed', 0)
redis.call('HINCRBY', k, 'calls', 1)
local ck = CALL .. call
local entry = redis.call('HGETALL', ck)
local q, ctl = unpack(redis.call('HMGET', ck, 'queue', 'ctl'))
if q then
  redis.call('ZREM', qwaiting(q), call)
  redis.call('SREM', ccalls(ctl), call)
  redis.call('DEL', ck)
end
local r = ok(k, id, 'confirm', b)
r[#r + 1] = entry
return r
"""

# KEYS[1] agent; ARGV id, call, now, wrap_up seconds, utc_offset
END_CALL = r"""
local k, id, now = KEYS[1], ARGV[1], ARGV[3]
local b = before(k)
local refused = holds(k, b, 'on_call', ARGV[2])
if refused then return refused end
rollover(k, now, ARGV[5])
local talk = tonumber(now) - tonumber(b[3])
if talk > 0 then redis.call('HINCRBYFLOAT', k, 'talk', tostring(talk)) end
local ctl = redis.call('HGET', k, 'ctl')
if ctl then redis.call('SREM', cagents(ctl), id) end
redis.call('HDEL', k, 'call', 'ctl')
local w = tonumber(ARGV[4])
if w > 0 then
  local untl = tostring(tonumber(now) + w)
  redis.call('HSET', k, 'state', 'wrap_up', 'reason', '', 'since', now, 'until', untl)
  redis.call('ZADD', WRAP, untl, id)
else
  redis.call('HDEL', k, 'until')
  redis.call('HSET', k, 'state', 'ready', 'reason', '', 'since', now, 'idle', now)
end
return ok(k, id, 'end_call', b)
"""

# KEYS[1] acd:reservations; ARGV now, limit
EXPIRE = r"""
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])) do
  local k = AGENT .. id
  local b = before(k)
  if b[1] == 'reserved' then
    unreserve(k, id, ARGV[1], false, 0)
    out[#out + 1] = ok(k, id, 'expire', b)
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
"""

# KEYS[1] acd:wrapups; ARGV now, limit. Ready from the wrap-up's own end time, so a
# timer that fires late does not stretch the wrap-up in the agent's history.
END_WRAP_UPS = r"""
local out = {}
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[2])
for i = 1, #due, 2 do
  local id, at = due[i], due[i + 1]
  local k = AGENT .. id
  local b = before(k)
  redis.call('ZREM', KEYS[1], id)
  if b[1] == 'wrap_up' then
    redis.call('HDEL', k, 'until')
    redis.call('HSET', k, 'state', 'ready', 'reason', '', 'since', at, 'idle', at)
    out[#out + 1] = ok(k, id, 'wrap_up_end', b)
  end
end
return out
"""
