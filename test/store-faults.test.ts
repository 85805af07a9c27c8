// The stores' rarer faults, against SECURITY.md R7, R8 and R11: a RedisStore call that fails for
// one credential (a key of another layout, a value of another length, one call of a split batch)
// answers `error` for it alone and leaves nothing reserved for the others; a store error carries
// no argument of the command that failed; MemoryStore pairs of begin and finish across sweeps,
// reuse and forget; a finish whose answer is lost gives nothing back twice; a streak past a
// lowered maxFailures is locked for lockoutMs. The RedisStore, lost-finish and lowered-limit cases
// failed on the code before their fixes (2026-11-24).

import { inspect } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryStore, RedisStore, TotpVerifier, totp } from '../src/index.js';
import {
  type AttemptLimits, BEGIN_GO, BEGIN_LOCKED, DONE_ERROR, DONE_RELEASED, OP_FAILURE, OP_RELEASE,
} from '../src/store/types.js';
import { KEY } from './helpers/fixtures.js';
import { REDIS_URL, deleteKeys, haveRedis, testPrefix } from './helpers/redis.js';

const LIMITS: AttemptLimits = {
  maxFailures: 3, lockoutMs: 60_000, failureMemoryMs: 60_000, reservationMs: 60_000, replayMs: 120_000,
  driftMemoryMs: 3_600_000,
};

const redisOk = await haveRedis('store faults: RedisStore');
const prefix = testPrefix();
afterAll(async () => {
  if (redisOk) await deleteKeys(prefix);
});

describe.skipIf(!redisOk)('RedisStore: a call that fails for one credential', () => {
  /** A key of the old layout (a hash) under `account`'s name: its scripts fail with WRONGTYPE. */
  async function poison(store: RedisStore, account: string): Promise<void> {
    const redis = new Redis(REDIS_URL);
    try {
      await redis.hset(store.keyOf(account), 'h', '1');
      await redis.pexpire(store.keyOf(account), 600_000);
    } finally {
      await redis.quit();
    }
  }

  const release = (n: number) => ({
    op: new Uint8Array(n).fill(OP_RELEASE), step: new Float64Array(n), drift: new Float64Array(n).fill(Number.NaN),
  });

  /**
   * begin([victim, bad]) as the verifier would use it: a rejection answers both `error`; a
   * victim let go is finished (released). Returns the victim's begin state, or -1 on rejection.
   */
  async function beginBoth(store: RedisStore, victim: string, bad: string): Promise<number> {
    let b;
    try {
      b = await store.begin([victim, bad], LIMITS);
    } catch (error) {
      expect(error).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
      return -1;
    }
    expect(b.state[1]).not.toBe(BEGIN_GO); // the broken one never goes
    if (b.state[0] === BEGIN_GO) await store.finish([victim], release(1), LIMITS);
    return b.state[0]!;
  }

  it('a begin that fails for one credential leaves no attempt reserved for the others of its call', async () => {
    const store = new RedisStore({ url: REDIS_URL, prefix });
    try {
      const victim = `victim-${process.pid}-1`;
      const bad = `bad-${process.pid}-1`;
      await poison(store, bad);
      for (let k = 0; k < LIMITS.maxFailures; k++) await beginBoth(store, victim, bad);
      // None of the victim's attempts was evaluated and failed: it must not be locked.
      const b = await store.begin([victim], LIMITS);
      expect(b.state[0]).toBe(BEGIN_GO);
    } finally {
      await store.close();
    }
  });

  it('a value that is not a record (a string of another length) is error for its credential alone', async () => {
    const store = new RedisStore({ url: REDIS_URL, prefix });
    const redis = new Redis(REDIS_URL);
    try {
      const victim = `victim-${process.pid}-5`;
      const bad = `bad-${process.pid}-5`;
      await redis.set(store.keyOf(bad), 'x', 'PX', 600_000);
      for (let k = 0; k < LIMITS.maxFailures; k++) await beginBoth(store, victim, bad);
      expect((await store.begin([victim], LIMITS)).state[0]).toBe(BEGIN_GO);
      // Nothing was written to it: still the same value, still with its TTL.
      expect(await redis.get(store.keyOf(bad))).toBe('x');
      expect(await redis.pttl(store.keyOf(bad))).toBeGreaterThan(0);
    } finally {
      await redis.quit();
      await store.close();
    }
  });

  it('a begin split into several calls, one failing: nothing is left reserved by the others', async () => {
    const store = new RedisStore({ url: REDIS_URL, prefix, accountsPerCall: 1 });
    try {
      const victim = `victim-${process.pid}-2`;
      const bad = `bad-${process.pid}-2`;
      await poison(store, bad);
      for (let k = 0; k < LIMITS.maxFailures; k++) await beginBoth(store, victim, bad);
      expect((await store.begin([victim], LIMITS)).state[0]).toBe(BEGIN_GO);
    } finally {
      await store.close();
    }
  });

  it('through the verifier: an account batched with a broken one is never locked by the broken one', async () => {
    const store = new RedisStore({ url: REDIS_URL, prefix });
    const v = await TotpVerifier.create({ threads: 0, store, policy: { maxFailures: 3 } });
    try {
      const victim = `victim-${process.pid}-3`;
      const bad = `bad-${process.pid}-3`;
      await poison(store, bad);
      const now = Date.now();
      const code = totp.generate(KEY, { timestamp: now });
      const victimSaw: string[] = [];
      for (let k = 0; k < 3; k++) {
        const r = await v.verifyBatch([
          { account: victim, secret: KEY, code, timestamp: now },
          { account: bad, secret: KEY, code, timestamp: now },
        ]);
        expect(r[1]!.status).toBe('error');
        victimSaw.push(r[0]!.status);
      }
      // Its next code, alone in its batch: accepted (main: 'locked', by three reservations
      // the failed batches left behind).
      const next = now + 30_000;
      const alone = await v.verify({ account: victim, secret: KEY, code: totp.generate(KEY, { timestamp: next }), timestamp: next });
      expect({ victimSaw, alone: alone.status }).toMatchObject({ alone: 'valid' });
    } finally {
      await v.close();
      await store.close();
    }
  });

  it('a finish that fails for one credential leaves no attempt reserved for the others of its call', async () => {
    const store = new RedisStore({ url: REDIS_URL, prefix });
    try {
      const victim = `victim-${process.pid}-4`;
      const bad = `bad-${process.pid}-4`;
      for (let k = 0; k < LIMITS.maxFailures; k++) {
        const b = await store.begin([bad, victim], LIMITS);
        expect(Array.from(b.state)).toEqual([BEGIN_GO, BEGIN_GO]);
        // The bad one's key turns into the old layout between begin and finish.
        await deleteKeys(store.keyOf(bad));
        await poison(store, bad);
        let done: number[] | undefined;
        try {
          done = Array.from(await store.finish([bad, victim], release(2), LIMITS));
        } catch (error) {
          expect(error).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
        }
        if (done !== undefined) expect(done).toEqual([DONE_ERROR, DONE_RELEASED]);
        await deleteKeys(store.keyOf(bad));
      }
      expect((await store.begin([victim], LIMITS)).state[0]).toBe(BEGIN_GO);
    } finally {
      await store.close();
    }
  });
});

describe.skipIf(!redisOk)('RedisStore: a database Redis refuses (R8)', () => {
  // ioredis reports a refused SELECT only as an 'error' event and serves every command from
  // database 0 after it: the store must fail closed instead of keeping its state there.
  const url = (db: number): string => `${REDIS_URL.replace(/\/\d*$/, '')}/${db}`;

  it('a database past the server\'s last: every call ERR_STORE_UNAVAILABLE, naming the refusal; items error', async () => {
    const store = new RedisStore({ url: url(100_000), prefix });
    try {
      const failure = await store.health().then(() => undefined, (error: unknown) => error);
      expect(failure).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
      expect(String((failure as Error).cause)).toMatch(/refused the database of the URL: ERR DB index is out of range/);
      await expect(store.begin(['a'], LIMITS)).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
      await expect(store.namespace('hotp').begin(['a'], LIMITS)).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
      await expect(store.forget('a')).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
      const v = await TotpVerifier.create({ threads: 0, store });
      try {
        const now = Date.now();
        const code = totp.generate(KEY, { timestamp: now });
        expect(await v.verify({ account: 'a', secret: KEY, code, timestamp: now })).toEqual({ status: 'error', reason: 'store' });
      } finally {
        await v.close();
      }
    } finally {
      await store.close();
    }
  });

  it('a database it has (not 0): served from there', async () => {
    const store = new RedisStore({ url: url(1), prefix });
    const redis = new Redis(url(1));
    try {
      await store.health();
      const begun = await store.begin(['db1-account'], LIMITS);
      expect(begun.state[0]).toBe(BEGIN_GO);
      expect(await redis.exists(store.keyOf('db1-account'))).toBe(1);
      await redis.del(store.keyOf('db1-account'), `${prefix}{health}`);
    } finally {
      await redis.quit();
      await store.close();
    }
  });
});

describe('MemoryStore: begin/finish pairs against sweeps, forget and reuse', () => {
  it('a record swept and reused by other accounts while a pair is open: the mark lands on the right account', async () => {
    let now = 50_000_000;
    const store = new MemoryStore({ maxCredentials: 4, now: () => now });
    const a = ['a'];
    expect((await store.begin(a, LIMITS)).state[0]).toBe(BEGIN_GO);
    now += LIMITS.reservationMs + 1;
    // Full store, all expired: a's record is swept and reused.
    const others = ['b', 'c', 'd', 'e'];
    expect(Array.from((await store.begin(others, LIMITS)).state)).toEqual([0, 0, 0, 0]);
    const ops = (op: number, step = 0, k = 1) => ({
      op: new Uint8Array(k).fill(op), step: new Float64Array(k).fill(step), drift: new Float64Array(k).fill(Number.NaN),
    });
    // a's finish must not touch b..e's records.
    await store.finish(a, ops(0, 999), LIMITS);
    const again = await store.begin(others, LIMITS);
    expect(Array.from(again.lastStep)).toEqual([-1, -1, -1, -1]);
    await store.close();
  });

  it('forget between begin and finish: the finish counts nothing; a later streak starts from zero', async () => {
    // (test/forget-inflight.test.ts holds both stores to this, and more.)
    let now = 60_000_000;
    const store = new MemoryStore({ now: () => now });
    const a = ['f'];
    const fail = { op: Uint8Array.of(OP_FAILURE), step: Float64Array.of(0), drift: Float64Array.of(Number.NaN) };
    await store.begin(a, LIMITS);
    await store.forget('f');
    expect(Array.from(await store.finish(a, fail, LIMITS))).toEqual([DONE_ERROR]);
    // Three new failures lock (3).
    for (const want of [2, 2, 3]) {
      expect((await store.begin(['f'], LIMITS)).state[0]).toBe(BEGIN_GO);
      expect(Array.from(await store.finish(['f'], fail, LIMITS))).toEqual([want]);
    }
    await store.close();
  });
});

describe.skipIf(!redisOk)('RedisStore: an error carries no argument of the command that failed (R11)', () => {
  it('a backup-code set refused by Redis (ACL): the rejection holds no code\'s hash', async () => {
    // A user of this Redis that may run scripts but not HSET (what BACKUP_PUT writes with): the
    // script fails, and ioredis puts the command's arguments (the set's salt and every
    // code's hash) on its error.
    const user = `totp-fleet-test-${process.pid}`;
    const admin = new Redis(REDIS_URL);
    await admin.call('ACL', 'SETUSER', user, 'on', '>pw', '~*', '&*', '+@all', '-hset');
    const url = new URL(REDIS_URL);
    url.username = user;
    url.password = 'pw';
    const store = new RedisStore({ url: url.href, prefix });
    const v = await TotpVerifier.create({ threads: 0, store });
    try {
      let error: unknown;
      try {
        await v.backupCodes.generate(`acl-${process.pid}`);
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
      const text = inspect(error, { depth: 20 });
      expect(text).toMatch(/can't run this command/); // what went wrong is there ...
      expect(text.match(/[0-9a-f]{64}/g) ?? []).toEqual([]); // ... but no code's hash
    } finally {
      await v.close();
      await store.close();
      await admin.call('ACL', 'DELUSER', user);
      await admin.quit();
    }
  });
});

describe('a finish whose answer is lost gives nothing back twice (R7)', () => {
  /**
   * A MemoryStore whose next finish does its work and then fails, as a Redis call that timed out
   * after Redis ran it: the attempt it finished is no longer in flight.
   */
  class LostFinish extends MemoryStore {
    lose = false;
    override async finish(...args: Parameters<MemoryStore['finish']>): Promise<Uint8Array> {
      const done = await super.finish(...args);
      if (this.lose) {
        this.lose = false;
        throw new Error('the answer was lost');
      }
      return done;
    }
  }

  it('a wrong backup code whose finish is lost: another attempt in flight stays counted against the limit', async () => {
    const store = new LostFinish();
    const v = await TotpVerifier.create({ store, threads: 0, policy: { maxFailures: 2 } });
    try {
      const account = `lost-${process.pid}`;
      await v.backupCodes.generate(account);
      const limits: AttemptLimits = { ...LIMITS, maxFailures: 2 };
      // Another attempt of the account is in flight (reserved, not finished).
      expect((await store.begin([account], limits)).state[0]).toBe(BEGIN_GO);
      // A wrong backup code: counted (one failure), then its finish's answer is lost.
      store.lose = true;
      expect((await v.backupCodes.verify(account, 'aaaaa-aaaaa')).status).toBe('error');
      // One failure and one attempt in flight: at the limit of 2, a third attempt must wait.
      expect((await store.begin([account], limits)).state[0]).toBe(BEGIN_LOCKED);
    } finally {
      await v.close();
      await store.close();
    }
  });
});

describe.each([
  { name: 'MemoryStore', make: (): MemoryStore | RedisStore => new MemoryStore() },
  ...(redisOk ? [{ name: 'RedisStore', make: (): MemoryStore | RedisStore => new RedisStore({ url: REDIS_URL, prefix }) }] : []),
])('$name: maxFailures lowered below a streak already counted (R7)', ({ make }) => {
  it('the account is locked for lockoutMs, as it is told, not until its failure memory ends', async () => {
    const store = make();
    try {
      const account = `lowered-${process.pid}-${Math.random()}`;
      const before: AttemptLimits = { ...LIMITS, maxFailures: 10, lockoutMs: 300, failureMemoryMs: 86_400_000 };
      const after: AttemptLimits = { ...before, maxFailures: 3 };
      const fail = { op: Uint8Array.of(OP_FAILURE), step: Float64Array.of(0), drift: Float64Array.of(Number.NaN) };
      for (let k = 0; k < 5; k++) {
        expect((await store.begin([account], before)).state[0]).toBe(BEGIN_GO);
        await store.finish([account], fail, before);
      }
      // The limit is lowered (a new deployment): five failures are past it.
      const b = await store.begin([account], after);
      expect(b.state[0]).toBe(BEGIN_LOCKED);
      expect(b.retryAfterMs[0]).toBeLessThanOrEqual(300);
      await new Promise((resolve) => setTimeout(resolve, b.retryAfterMs[0]! + 50));
      expect((await store.begin([account], after)).state[0]).toBe(BEGIN_GO);
    } finally {
      await store.close();
    }
  });
});
