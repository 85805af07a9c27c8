// RedisStore's Lua scripts. Each call handles a list of credentials (KEYS), one hash per
// credential, atomically and in order; the rules are MemoryStore's (memory.ts), field for field:
//
//   h   high-water mark: the last accepted step (kept as the decimal text the client sent)
//   f   consecutive failures, meaningful while fu (ms) is in the future
//   l   locked until (ms)
//   p   attempts in flight, meaningful while pu (ms) is in the future
//   d   learned drift, in steps
//   x   when the key expires (ms): the key's PEXPIREAT, kept in a field so that a script knows
//       whether a write must push it later without asking PTTL
//
// Time is the Redis server's (TIME), so every verifier process in a fleet agrees on when a
// lock ends even if their clocks do not. Every write leaves the key with an expiry.

const PRELUDE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function fmt(n) return string.format('%.0f', n) end
local function num(s) return tonumber(s) or 0 end
`;

/**
 * begin. ARGV: maxFailures, reservationMs, lockoutMs. Returns, per key, three values:
 * 0, last step ('-1' if none), drift  |  1, retry-after ms, ''.
 */
export const BEGIN = `${PRELUDE}
local maxF, resMs, lockMs = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {}
for i = 1, #KEYS do
  local k = KEYS[i]
  local v = redis.call('HMGET', k, 'h', 'f', 'fu', 'l', 'p', 'pu', 'd', 'x')
  local l = num(v[4])
  local f = 0
  if num(v[3]) > now then f = num(v[2]) end
  local pu = num(v[6])
  local p = 0
  if pu > now then p = num(v[5]) end
  if l > now then
    out[#out + 1] = 1; out[#out + 1] = fmt(l - now); out[#out + 1] = ''
  elseif f + p >= maxF then
    local retry = lockMs
    if p > 0 then retry = pu - now end
    out[#out + 1] = 1; out[#out + 1] = fmt(retry); out[#out + 1] = ''
  else
    pu = now + resMs
    if num(v[8]) < pu then
      redis.call('HSET', k, 'p', p + 1, 'pu', fmt(pu), 'x', fmt(pu))
      redis.call('PEXPIREAT', k, fmt(pu))
    else
      redis.call('HSET', k, 'p', p + 1, 'pu', fmt(pu))
    end
    out[#out + 1] = 0; out[#out + 1] = v[1] or '-1'; out[#out + 1] = v[7] or '0'
  end
end
return out
`;

/**
 * finish. ARGV: maxFailures, lockoutMs, failureMemoryMs, replayMs, driftMemoryMs, then per key:
 * op (0 success, 1 failure, 2 release, 3 reset: a success without a step), step, drift ('' keeps the stored one). Returns one
 * DONE_* code per key (0 committed, 1 replayed, 2 failed, 3 locked, 4 released).
 */
export const FINISH = `${PRELUDE}
local maxF, lockMs, failMs = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local replayMs, driftMs = tonumber(ARGV[4]), tonumber(ARGV[5])
local out = {}
for i = 1, #KEYS do
  local k = KEYS[i]
  local b = 5 + (i - 1) * 3
  local op, step, drift = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3]
  local v = redis.call('HMGET', k, 'h', 'f', 'fu', 'p', 'pu', 'x')
  local exists = v[6] ~= false
  local p = 0
  if num(v[5]) > now then p = math.max(0, num(v[4]) - 1) end
  local need = 0
  if op == '0' then
    if v[1] and tonumber(v[1]) >= tonumber(step) then
      if exists then redis.call('HSET', k, 'p', p) end
      out[i] = 1
    else
      need = now + replayMs
      redis.call('HSET', k, 'h', step, 'f', 0, 'fu', 0, 'l', 0, 'p', p)
      if drift ~= '' then
        redis.call('HSET', k, 'd', drift)
        if now + driftMs > need then need = now + driftMs end
      end
      out[i] = 0
    end
  elseif op == '1' then
    local f = 1
    if num(v[3]) > now then f = num(v[2]) + 1 end
    if f >= maxF then
      need = now + lockMs
      redis.call('HSET', k, 'l', fmt(need), 'f', 0, 'fu', 0, 'p', p)
      out[i] = 3
    else
      need = now + failMs
      redis.call('HSET', k, 'f', f, 'fu', fmt(need), 'p', p)
      out[i] = 2
    end
  elseif op == '3' then
    if exists then redis.call('HSET', k, 'f', 0, 'fu', 0, 'l', 0, 'p', p) end
    out[i] = 0
  else
    if exists then redis.call('HSET', k, 'p', p) end
    out[i] = 4
  end
  if need > num(v[6]) then
    redis.call('HSET', k, 'x', fmt(need))
    redis.call('PEXPIREAT', k, fmt(need))
  end
end
return out
`;

/** health: a write and a read through the scripting engine. KEYS[1]: a probe key. */
export const HEALTH = `${PRELUDE}
redis.call('SET', KEYS[1], fmt(now), 'PX', 60000)
return redis.call('GET', KEYS[1])
`;

// Backup codes (backup.ts): one hash per account, `<credential key>:backup` (the credential's
// hash tag, so one Cluster slot), fields
//
//   s      the set's salt (hex)          t   when the set was made (ms)
//   c:<h>  one per unused code: its salted hash (hex); never a code
//
// A code is consumed by deleting its field: HDEL is atomic, so of any number of concurrent
// submissions of one code across the fleet exactly one finds it.

/** Replaces the set. KEYS[1]: the set's key. ARGV: keepMs, salt, createdAt, hashes... */
export const BACKUP_PUT = `
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 's', ARGV[2], 't', ARGV[3])
for i = 4, #ARGV do redis.call('HSET', KEYS[1], 'c:' .. ARGV[i], '1') end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`;

/** The set's salt, creation time and codes left; nil without a set. KEYS[1]: the set's key. */
export const BACKUP_INFO = `
local v = redis.call('HMGET', KEYS[1], 's', 't')
if not v[1] then return false end
return {v[1], v[2], redis.call('HLEN', KEYS[1]) - 2}
`;

/** Consumes a code. KEYS[1]: the set's key; ARGV[1]: the hash. The codes left, or -1. */
export const BACKUP_CONSUME = `
if redis.call('HDEL', KEYS[1], 'c:' .. ARGV[1]) == 1 then return redis.call('HLEN', KEYS[1]) - 2 end
return -1
`;
