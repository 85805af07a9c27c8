// RedisStore's Lua scripts. Each call handles a list of credentials (KEYS), one string per
// credential, atomically and in order; the rules are MemoryStore's (memory.ts), field for field.
// The string is a packed record, struct '<dddddddd' (64 bytes, little-endian doubles):
//
//   h   high-water mark: the last accepted step, -1 when none (steps are safe integers: exact)
//   f   consecutive failures, meaningful while fu (ms) is in the future
//   fu
//   l   locked until (ms)
//   p   attempts in flight, meaningful while pu (ms) is in the future
//   pu
//   d   learned drift, in steps
//   x   when the key expires (ms): the key's PXAT, kept in the record so that a script knows
//       the expiry without asking PTTL
//
// h = -2 (VOID) marks a credential forgotten (FORGET) while attempts were in flight: they were
// evaluated against the state forgotten, so their finishes write nothing of theirs (answered
// error) and give their reservations back; until the last ends or pu passes, no attempt may
// begin (a new one's finish could not be told from an old one's). Then it reads as no state.
//
// What a credential costs Redis, per script: one SET for a credential begun with no state
// (SET ... NX GET writes the fresh record and tells that there was none: most logins of a
// fleet, whose marks live minutes), otherwise one GET and one SET. The key's expiry is written
// only when it must move later (PXAT); otherwise SET keeps it (KEEPTTL), which costs Redis a
// third of a SET ... PXAT on a key that has one. To that end begin gives a key the life a
// success of the attempt needs (its reservation, then replayMs), so that finish of a success
// (and of a failure, when the failure memory is not longer) leaves the expiry alone. A key only
// begun (its process died) lives reservationMs + replayMs; after reservationMs it reads as no
// state at all. (Measured on the same loaded 2-core VM, Redis 7.0.15: a key per SET of
// 1,000 in one script, 64-byte values: new key GET + SET PXAT 4.0 us, SET NX GET PXAT 3.5 us;
// existing key GET + SET PXAT 3.2 us, GET + SET KEEPTTL 2.1 us. The layout before this one, a
// hash per credential, needed HMGET + HSET + PEXPIREAT and more.) Arguments and answers are
// packed binary: one ARGV string for a call's per-credential operations, one reply string for
// its answers, so that neither side encodes or parses thousands of RESP items.
//
// SET ... NX GET needs Redis 7.0 or later; the health script uses it too, so that an older
// Redis fails the health check rather than every begin.
//
// Time is the Redis server's (TIME), so every verifier process in a fleet agrees on when a
// lock ends even if their clocks do not. Every write leaves the key with an expiry: PXAT, or
// KEEPTTL on a key that exists (it has one: every key is made with PXAT).

const PRELUDE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local call = redis.call
local REC = '<dddddddd'
-- A value that is not a record (a key of another layout: WRONGTYPE, or a string of another
-- length) is answered as an error for its credential alone, and left as it is: a script that
-- raised would stop there, after the credentials before it in the call were written, and the
-- whole call would be answered error (their reservations left held for reservationMs).
local function broken(v)
  return type(v) == 'table' or (v and #v ~= 64)
end
-- nil when the key's value is not a record.
local function load(k)
  local v = redis.pcall('GET', k)
  if broken(v) then return nil end
  if v then return true, struct.unpack(REC, v) end
  return false, -1, 0, 0, 0, 0, 0, 0, 0
end
-- Writes a record that expires at x. was: the key's expiry now (false when the key may not
-- exist): the expiry is written only when it moves (a key never loses its TTL to KEEPTTL).
local function save(k, h, f, fu, l, p, pu, d, x, was)
  local v = struct.pack(REC, h, f, fu, l, p, pu, d, x)
  if was and x == was then call('SET', k, v, 'KEEPTTL')
  else call('SET', k, v, 'PXAT', string.format('%.0f', x)) end
end
`;

/**
 * begin. ARGV: maxFailures, reservationMs, lockoutMs, replayMs. Returns one string: per key,
 * struct '<Bdd': 0, last step (-1 if none), drift  |  1, retry-after ms, 0  |  2, 0, 0 (its
 * value is not a record: nothing written).
 */
export const BEGIN = `${PRELUDE}
local maxF, resMs, lockMs, replayMs = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local pu1 = now + resMs
-- The life a success of this attempt needs: finish comes within the reservation.
local x1 = pu1 + replayMs
local FRESH = struct.pack(REC, -1, 0, 0, 0, 1, pu1, 0, x1)
local FRESH_X = string.format('%.0f', x1)
local GO_FRESH = struct.pack('<Bdd', 0, -1, 0)
local ERROR = struct.pack('<Bdd', 2, 0, 0)
local out = {}
for i = 1, #KEYS do
  local k = KEYS[i]
  local v = redis.pcall('SET', k, FRESH, 'NX', 'GET', 'PXAT', FRESH_X)
  if broken(v) then
    out[i] = ERROR -- (SET ... GET writes nothing to a key of another type or an existing one)
  elseif not v then
    out[i] = GO_FRESH -- no state: the fresh record, one attempt reserved, is written
  else
    local h, f, fu, l, p, pu, d, x = struct.unpack(REC, v)
    if fu <= now then f = 0 end
    if pu <= now then p = 0 end
    if l > now then
      out[i] = struct.pack('<Bdd', 1, l - now, 0)
    elseif f >= maxF then
      -- A streak past a limit lowered since it was counted: locked now, for lockoutMs, as the
      -- failure that reached the limit would have locked it (not until the streak is forgotten).
      l = now + lockMs
      save(k, h, 0, 0, l, p, pu, d, math.max(x, l), x)
      out[i] = struct.pack('<Bdd', 1, lockMs, 0)
    elseif f + p >= maxF or (h == -2 and p > 0) then
      -- (the second: a forgotten credential's attempts still in flight; see VOID above)
      local retry = lockMs
      if p > 0 then retry = pu - now end
      out[i] = struct.pack('<Bdd', 1, retry, 0)
    else
      if h == -2 then h = -1 end
      save(k, h, f, fu, l, p + 1, pu1, d, math.max(x, x1), x)
      out[i] = struct.pack('<Bdd', 0, h, d)
    end
  end
end
return table.concat(out)
`;

/**
 * finish. ARGV: maxFailures, lockoutMs, failureMemoryMs, replayMs, driftMemoryMs, then one
 * string: per key, struct '<Bdd': op (0 success, 1 failure, 2 release, 3 reset: a success
 * without a step), step, drift (NaN keeps the stored one). Returns one string: a DONE_* byte per key (0 committed, 1 replayed,
 * 2 failed, 3 locked, 4 released, 5 error: its value is not a record, nothing done).
 */
export const FINISH = `${PRELUDE}
local maxF, lockMs, failMs = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local replayMs, driftMs = tonumber(ARGV[4]), tonumber(ARGV[5])
local ops, pos = ARGV[6], 1
local DONE = {[0] = '\\0', '\\1', '\\2', '\\3', '\\4', '\\5'}
local out = {}
for i = 1, #KEYS do
  local k = KEYS[i]
  local op, step, drift
  op, step, drift, pos = struct.unpack('<Bdd', ops, pos)
  local exists, h, f, fu, l, p, pu, d, x = load(k)
  local was = exists and x
  if exists == nil then
    out[i] = DONE[5]
  else
    if pu > now then p = math.max(0, p - 1) else p = 0 end
    if h == -2 then
      -- Begun before its credential was forgotten: only its reservation is given back.
      save(k, h, f, fu, l, p, pu, d, x, was)
      out[i] = DONE[5]
    elseif op == 0 then
      if exists and h >= step then
        save(k, h, f, fu, l, p, pu, d, x, was)
        out[i] = DONE[1]
      else
        x = math.max(x, now + replayMs)
        if drift == drift then
          d = drift
          x = math.max(x, now + driftMs)
        end
        save(k, step, 0, 0, 0, p, pu, d, x, was)
        out[i] = DONE[0]
      end
    elseif op == 1 then
      if fu > now then f = f + 1 else f = 1 end
      if f >= maxF then
        l = now + lockMs
        save(k, h, 0, 0, l, p, pu, d, math.max(x, l), was)
        out[i] = DONE[3]
      else
        fu = now + failMs
        save(k, h, f, fu, l, p, pu, d, math.max(x, fu), was)
        out[i] = DONE[2]
      end
    elseif op == 3 then
      if exists then save(k, h, 0, 0, 0, p, pu, d, x, was) end
      out[i] = DONE[0]
    else
      if exists then save(k, h, f, fu, l, p, pu, d, x, was) end
      out[i] = DONE[4]
    end
  end
end
return table.concat(out)
`;

/**
 * forget. KEYS[1]: the credential's key. With attempts in flight, the record is left VOID (no
 * mark, failures, lock or drift; its reservations kept) until its reservation ends; otherwise,
 * and for a key that holds something other than a record, the key is deleted.
 */
export const FORGET = `${PRELUDE}
local k = KEYS[1]
local exists, h, f, fu, l, p, pu, d, x = load(k)
if exists and p > 0 and pu > now then
  save(k, -2, 0, 0, 0, p, pu, 0, pu, x)
else
  call('DEL', k)
end
return 1
`;

/** health: a write and a read through the scripting engine. KEYS[1]: a probe key. */
export const HEALTH = `${PRELUDE}
call('SET', KEYS[1], string.format('%.0f', now), 'PX', 60000)
call('SET', KEYS[1], string.format('%.0f', now), 'NX', 'GET', 'PX', 60000)
return call('GET', KEYS[1])
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
