// The store contract, on MemoryStore and RedisStore alike: check-and-mark, count-and-lock,
// reservations that stop parallel guesses overshooting the limit, expiry, and (Redis) a TTL on
// every key. Time-dependent cases run on MemoryStore's injectable clock; on Redis (server
// time) they use short real durations and wait for them.

import { execFileSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryStore } from '../src/store/memory.js';
import { RedisStore } from '../src/store/redis.js';
import {
  type AttemptLimits, type Store, BEGIN_GO, BEGIN_LOCKED, DONE_COMMITTED, DONE_FAILED, DONE_LOCKED, DONE_RELEASED,
  DONE_REPLAYED, OP_FAILURE, OP_RELEASE, OP_SUCCESS,
} from '../src/store/types.js';
import { REDIS_URL, deleteKeys, haveRedis, testPrefix } from './helpers/redis.js';

const LIMITS: AttemptLimits = {
  maxFailures: 3, lockoutMs: 60_000, failureMemoryMs: 60_000, reservationMs: 60_000, replayMs: 120_000,
  driftMemoryMs: 3_600_000,
};

type Op = { op: number; step?: number; drift?: number };

async function finish(store: Store, accounts: string[], ops: Op[], limits = LIMITS): Promise<number[]> {
  return Array.from(await store.finish(accounts, {
    op: Uint8Array.from(ops.map((o) => o.op)),
    step: Float64Array.from(ops.map((o) => o.step ?? 0)),
    drift: Float64Array.from(ops.map((o) => o.drift ?? Number.NaN)),
  }, limits));
}

/** One attempt: begin, then finish with `op` if it may go; the begin state otherwise. */
async function attempt(store: Store, account: string, op: Op, limits = LIMITS): Promise<string> {
  const b = await store.begin([account], limits);
  if (b.state[0] !== BEGIN_GO) return b.state[0] === BEGIN_LOCKED ? 'locked' : 'error';
  const [done] = await finish(store, [account], [op], limits);
  return ['committed', 'replayed', 'failed', 'locked-now', 'released'][done!]!;
}

const redisOk = await haveRedis('RedisStore contract');
let counter = 0;
const fresh = (): string => `user-${process.pid}-${++counter}@example.com`;

interface Subject {
  name: string;
  make(): Store;
}

const subjects: Subject[] = [
  { name: 'MemoryStore', make: () => new MemoryStore() },
  // Its memory made and written at construction (four record pages): the same contract.
  { name: 'MemoryStore (preTouch)', make: () => new MemoryStore({ maxCredentials: 200_000, preTouch: true }) },
];
const prefix = testPrefix();
if (redisOk) subjects.push({ name: 'RedisStore', make: () => new RedisStore({ url: REDIS_URL, prefix }) });

afterAll(async () => {
  if (redisOk) await deleteKeys(prefix);
});

describe.each(subjects)('$name', ({ make }) => {
  let store: Store;
  beforeAll(() => {
    store = make();
  });
  afterAll(async () => {
    await store.close();
  });

  it('a new credential may go, with no mark and no drift', async () => {
    const b = await store.begin([fresh(), fresh()], LIMITS);
    expect(Array.from(b.state)).toEqual([BEGIN_GO, BEGIN_GO]);
    expect(Array.from(b.lastStep)).toEqual([-1, -1]);
    expect(Array.from(b.drift)).toEqual([0, 0]);
  });

  it('check-and-mark: a step is accepted once; an older step after a newer one is refused', async () => {
    const a = fresh();
    expect(await attempt(store, a, { op: OP_SUCCESS, step: 100 })).toBe('committed');
    expect(await attempt(store, a, { op: OP_SUCCESS, step: 100 })).toBe('replayed');
    expect(await attempt(store, a, { op: OP_SUCCESS, step: 99 })).toBe('replayed');
    expect(await attempt(store, a, { op: OP_SUCCESS, step: 101 })).toBe('committed');
    const b = await store.begin([a], LIMITS);
    expect(b.lastStep[0]).toBe(101);
    await finish(store, [a], [{ op: OP_RELEASE }]);
  });

  it('keeps steps beyond 2^32 exactly', async () => {
    const a = fresh();
    const step = 2 ** 52 + 7;
    expect(await attempt(store, a, { op: OP_SUCCESS, step })).toBe('committed');
    const b = await store.begin([a], LIMITS);
    expect(b.lastStep[0]).toBe(step);
    expect(Array.from(await finish(store, [a], [{ op: OP_SUCCESS, step: step - 1 }]))).toEqual([DONE_REPLAYED]);
  });

  it('count-and-lock: the limit-th consecutive failure locks; a locked credential may not go', async () => {
    const a = fresh();
    expect(await attempt(store, a, { op: OP_FAILURE })).toBe('failed');
    expect(await attempt(store, a, { op: OP_FAILURE })).toBe('failed');
    expect(await attempt(store, a, { op: OP_FAILURE })).toBe('locked-now');
    const b = await store.begin([a], LIMITS);
    expect(b.state[0]).toBe(BEGIN_LOCKED);
    expect(b.retryAfterMs[0]).toBeGreaterThan(50_000);
    expect(b.retryAfterMs[0]).toBeLessThanOrEqual(60_000);
  });

  it('a success resets the failure count', async () => {
    const a = fresh();
    expect(await attempt(store, a, { op: OP_FAILURE })).toBe('failed');
    expect(await attempt(store, a, { op: OP_FAILURE })).toBe('failed');
    expect(await attempt(store, a, { op: OP_SUCCESS, step: 5 })).toBe('committed');
    expect(await attempt(store, a, { op: OP_FAILURE })).toBe('failed');
    expect(await attempt(store, a, { op: OP_FAILURE })).toBe('failed');
    expect(await attempt(store, a, { op: OP_FAILURE })).toBe('locked-now');
  });

  it('reservations: attempts in flight count toward the limit, so parallel guesses cannot overshoot it', async () => {
    const a = fresh();
    const begins = await Promise.all(Array.from({ length: 20 }, () => store.begin([a], LIMITS)));
    const going = begins.filter((b) => b.state[0] === BEGIN_GO).length;
    expect(going).toBe(LIMITS.maxFailures);
    // Releasing one (a replayed code, an error) lets one more go; failing them all locks.
    expect(await finish(store, [a], [{ op: OP_RELEASE }])).toEqual([DONE_RELEASED]);
    expect((await store.begin([a], LIMITS)).state[0]).toBe(BEGIN_GO);
    const outcomes = await Promise.all(Array.from({ length: 3 }, () => finish(store, [a], [{ op: OP_FAILURE }])));
    expect(outcomes.flat().sort()).toEqual([DONE_FAILED, DONE_FAILED, DONE_LOCKED]);
    expect((await store.begin([a], LIMITS)).state[0]).toBe(BEGIN_LOCKED);
  });

  it('learned drift is stored with a success and returned by begin', async () => {
    const a = fresh();
    await store.begin([a], LIMITS);
    expect(await finish(store, [a], [{ op: OP_SUCCESS, step: 10, drift: -2 }])).toEqual([DONE_COMMITTED]);
    const b = await store.begin([a], LIMITS);
    expect(b.drift[0]).toBe(-2);
    expect(await finish(store, [a], [{ op: OP_SUCCESS, step: 11 }])).toEqual([DONE_COMMITTED]);
    expect((await store.begin([a], LIMITS)).drift[0]).toBe(-2); // NaN keeps it
  });

  it('answers a batch of many credentials in order, in one call', async () => {
    const accounts = Array.from({ length: 1234 }, fresh);
    const b = await store.begin(accounts, LIMITS);
    expect(b.state.every((s) => s === BEGIN_GO)).toBe(true);
    const ops: Op[] = accounts.map((_, i) => (i % 3 === 0 ? { op: OP_SUCCESS, step: i } : i % 3 === 1 ? { op: OP_FAILURE } : { op: OP_RELEASE }));
    const done = await finish(store, accounts, ops);
    expect(done).toEqual(ops.map((o) => (o.op === OP_SUCCESS ? DONE_COMMITTED : o.op === OP_FAILURE ? DONE_FAILED : DONE_RELEASED)));
    const again = await store.begin(accounts, LIMITS);
    expect(Array.from(again.lastStep)).toEqual(accounts.map((_, i) => (i % 3 === 0 ? i : -1)));
    await finish(store, accounts, accounts.map(() => ({ op: OP_RELEASE })));
  });

  it('lockout and reservations expire', async () => {
    const short: AttemptLimits = { ...LIMITS, maxFailures: 1, lockoutMs: 300, reservationMs: 300 };
    const a = fresh();
    expect(await attempt(store, a, { op: OP_FAILURE }, short)).toBe('locked-now');
    expect((await store.begin([a], short)).state[0]).toBe(BEGIN_LOCKED);
    const b = fresh();
    expect((await store.begin([b], short)).state[0]).toBe(BEGIN_GO); // reserved, never finished
    expect((await store.begin([b], short)).state[0]).toBe(BEGIN_LOCKED);
    await expect.poll(async () => (await store.begin([a], short)).state[0], { timeout: 3000, interval: 100 }).toBe(BEGIN_GO);
    await expect.poll(async () => (await store.begin([b], short)).state[0], { timeout: 3000, interval: 100 }).toBe(BEGIN_GO);
  });

  it('health() resolves while the store works', async () => {
    await expect(store.health()).resolves.toBeUndefined();
  });
});

describe.skipIf(!redisOk)('RedisStore keys', () => {
  it('every key it writes has a TTL, and all of one credential is one hash-tagged key', async () => {
    const own = testPrefix();
    const store = new RedisStore({ url: REDIS_URL, prefix: own });
    const redis = new Redis(REDIS_URL);
    try {
      const accounts = ['a@example.com', 'b:{x}', 'ünïcødé', 'c'];
      await store.begin(accounts, LIMITS);
      await finish(store, accounts, [{ op: OP_SUCCESS, step: 1, drift: 1 }, { op: OP_FAILURE }, { op: OP_RELEASE }, { op: OP_FAILURE }]);
      await store.begin(['d'], LIMITS); // reserved only
      await store.health();
      const keys = await redis.keys(`${own}*`);
      expect(keys.sort()).toEqual([
        `${own}{cred:a@example.com}`, `${own}{cred:b:{x}}`, `${own}{cred:c}`, `${own}{cred:d}`, `${own}{cred:ünïcødé}`,
        `${own}{health}`,
      ].sort());
      for (const key of keys) expect(await redis.pttl(key), key).toBeGreaterThan(0);
    } finally {
      await deleteKeys(own);
      await redis.quit();
      await store.close();
    }
  });

  it('a key lives as long as its state needs: begin covers a success, a longer need moves the expiry, nothing shortens it', async () => {
    const own = testPrefix();
    const store = new RedisStore({ url: REDIS_URL, prefix: own });
    const redis = new Redis(REDIS_URL);
    // Durations far apart, so that the few ms between the calls and PTTL cannot blur them.
    const limits: AttemptLimits = { ...LIMITS, reservationMs: 60_000, replayMs: 600_000, failureMemoryMs: 6_000_000, lockoutMs: 60_000_000 };
    const ttl = async (account: string): Promise<number> => redis.pttl(store.keyOf(account));
    const near = (ms: number, want: number): void => {
      expect(ms).toBeLessThanOrEqual(want);
      expect(ms).toBeGreaterThan(want - 5_000);
    };
    try {
      const [ok, bad, gone] = ['ok', 'bad', 'gone'];
      await store.begin([ok, bad, gone], limits);
      for (const a of [ok, bad, gone]) near(await ttl(a), 660_000); // reservation + a success's mark
      await finish(store, [ok, bad, gone], [{ op: OP_SUCCESS, step: 7 }, { op: OP_FAILURE }, { op: OP_RELEASE }], limits);
      near(await ttl(ok), 660_000); // the mark fits in what begin gave it
      near(await ttl(bad), 6_000_000); // the failure memory does not: moved
      near(await ttl(gone), 660_000);
      // A success after the failure keeps the longer expiry (its fields still say what they say).
      await store.begin([bad], limits);
      await finish(store, [bad], [{ op: OP_SUCCESS, step: 9 }], limits);
      near(await ttl(bad), 6_000_000);
      // Locking moves it to the lock's end.
      const lock: AttemptLimits = { ...limits, maxFailures: 1 };
      await store.begin([ok], lock);
      expect(await finish(store, [ok], [{ op: OP_FAILURE }], lock)).toEqual([DONE_LOCKED]);
      near(await ttl(ok), 60_000_000);
      expect((await store.begin([ok], lock)).state[0]).toBe(BEGIN_LOCKED);
    } finally {
      await deleteKeys(own);
      await redis.quit();
      await store.close();
    }
  });

  it('many calls made while the first connection is being made share one wait (no listener leak)', async () => {
    const store = new RedisStore({ url: REDIS_URL, prefix });
    const warnings: string[] = [];
    const onWarning = (w: Error): void => void warnings.push(w.name);
    process.on('warning', onWarning);
    try {
      const accounts = Array.from({ length: 40 }, () => [fresh()]);
      const answers = await Promise.all(accounts.map((a) => store.begin(a, LIMITS)));
      expect(answers.map((b) => b.state[0])).toEqual(accounts.map(() => BEGIN_GO));
      await new Promise((r) => setImmediate(r));
      expect(warnings).not.toContain('MaxListenersExceededWarning');
    } finally {
      process.off('warning', onWarning);
      await store.close();
    }
  });

  it('a call to an unreachable Redis rejects with ERR_STORE_UNAVAILABLE, quickly', async () => {
    const store = new RedisStore({ url: 'redis://127.0.0.1:1', commandTimeoutMs: 200 });
    const started = Date.now();
    await expect(store.begin(['a'], LIMITS)).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
    await expect(store.health()).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
    expect(Date.now() - started).toBeLessThan(3000);
    await store.close();
  });
});

describe('MemoryStore bounds', () => {
  it('holds at most maxCredentials live credentials; new ones fail closed; expired ones make room', async () => {
    let now = 1_000_000;
    const store = new MemoryStore({ maxCredentials: 3, now: () => now });
    const b = await store.begin(['a', 'b', 'c', 'd'], LIMITS);
    expect(Array.from(b.state)).toEqual([BEGIN_GO, BEGIN_GO, BEGIN_GO, 2 /* BEGIN_ERROR */]);
    now += LIMITS.reservationMs + 1; // the reservations lapse: nothing left to keep
    expect((await store.begin(['d'], LIMITS)).state[0]).toBe(BEGIN_GO);
    // Expired ones are swept as new ones come in (some, or all once full): never more than 3.
    expect(store.size).toBeLessThanOrEqual(3);
    await store.close();
    await expect(store.begin(['a'], LIMITS)).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
  });

  it.each([false, true])('its own hash table keeps every credential through growth, expiry sweeps and reuse (preTouch %s)', async (preTouch) => {
    // 6,000 credentials grow the table from 1,024 slots; half of them expire and are swept
    // (backward-shift deletion moves the others in the table), and their records are reused.
    let now = 10_000_000;
    const store = new MemoryStore({ maxCredentials: 6000, now: () => now, preTouch });
    const names = (tag: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${tag}-${i}`);
    const commit = async (accounts: string[], step: (i: number) => number): Promise<void> => {
      expect((await store.begin(accounts, LIMITS)).state.every((s) => s === BEGIN_GO)).toBe(true);
      expect(await finish(store, accounts, accounts.map((_, i) => ({ op: OP_SUCCESS, step: step(i) }))))
        .toEqual(accounts.map(() => DONE_COMMITTED));
    };
    const old = names('old', 3000);
    const kept = names('kept', 3000);
    await commit(old, (i) => i);
    now += LIMITS.replayMs / 2;
    await commit(kept, (i) => 10_000 + i);
    expect(store.size).toBe(6000);
    now += LIMITS.replayMs / 2 + 1; // the old ones have expired; the kept ones have not
    const added = names('new', 3000);
    // Full: the first new credential sweeps the expired ones away and takes a freed record.
    await commit(added, (i) => 20_000 + i);
    expect(store.size).toBe(6000);
    const keptBegin = await store.begin(kept, LIMITS);
    expect(Array.from(keptBegin.lastStep)).toEqual(kept.map((_, i) => 10_000 + i));
    const addedBegin = await store.begin(added, LIMITS);
    expect(Array.from(addedBegin.lastStep)).toEqual(added.map((_, i) => 20_000 + i));
    // The old ones are gone (no mark); the store is full of live state, so they fail closed.
    expect((await store.begin(old.slice(0, 10), LIMITS)).state.every((s) => s === 2 /* BEGIN_ERROR */)).toBe(true);
    await store.close();
  });

  it('sweeps expired credentials as new ones come in, far below maxCredentials', async () => {
    // 20,000 credentials over time, of which 2,000 are live at any moment: the store stays near
    // 4/3 of the live ones (each new record sweeps four further along), with no full sweep.
    let now = 20_000_000;
    const store = new MemoryStore({ maxCredentials: 1_000_000, now: () => now });
    for (let b = 0; b < 200; b++) {
      const accounts = Array.from({ length: 100 }, (_, i) => `s${b}-${i}`);
      await store.begin(accounts, LIMITS);
      await finish(store, accounts, accounts.map(() => ({ op: OP_SUCCESS, step: 1 })));
      now += LIMITS.replayMs / 20;
    }
    expect(store.size).toBeLessThanOrEqual(3000);
    await store.close();
  });

  it('keeps names of every kind apart: short, 40 and 41 characters, 512, beyond Latin-1, NUL, case', async () => {
    let now = 30_000_000;
    const store = new MemoryStore({ now: () => now });
    const accounts = ['a', 'A', 'ab', 'a\u0000', 'a\u0100', 'ü', 'u', '名前', '😀', 'a'.repeat(40), 'a'.repeat(41), 'b'.repeat(512),
      `${'a'.repeat(39)}b`, `${'a'.repeat(40)}b`];
    expect((await store.begin(accounts, LIMITS)).state.every((s) => s === BEGIN_GO)).toBe(true);
    expect(await finish(store, accounts, accounts.map((_, i) => ({ op: OP_SUCCESS, step: 100 + i }))))
      .toEqual(accounts.map(() => DONE_COMMITTED));
    expect(store.size).toBe(accounts.length);
    expect(Array.from((await store.begin(accounts, LIMITS)).lastStep)).toEqual(accounts.map((_, i) => 100 + i));
    await finish(store, accounts, accounts.map(() => ({ op: OP_RELEASE })));
    // Once expired, their records go to other names, long to short and short to long.
    now += LIMITS.replayMs + LIMITS.reservationMs + 1;
    const others = accounts.map((a) => `${a}'`).reverse();
    expect(Array.from((await store.begin(others, LIMITS)).lastStep)).toEqual(others.map(() => -1));
    await finish(store, others, others.map((_, i) => ({ op: OP_SUCCESS, step: 500 + i })));
    expect(Array.from((await store.begin(accounts, LIMITS)).lastStep)).toEqual(accounts.map(() => -1));
    expect(Array.from((await store.begin(others, LIMITS)).lastStep)).toEqual(others.map((_, i) => 500 + i));
    await store.close();
  });

  it("finish never writes to a record that was freed and given to another account after begin", async () => {
    let now = 40_000_000;
    const store = new MemoryStore({ maxCredentials: 1, now: () => now });
    const first = ['first'];
    expect((await store.begin(first, LIMITS)).state[0]).toBe(BEGIN_GO);
    // The reservation lapses; a new account takes the only record (the store is full).
    now += LIMITS.reservationMs + 1;
    expect(await attempt(store, 'second', { op: OP_SUCCESS, step: 77 })).toBe('committed');
    // finish of the first begin: its record is the second's now, so the failure is counted
    // for the first alone; the second keeps its mark and has no failure.
    expect(await finish(store, first, [{ op: OP_FAILURE }])).toEqual([DONE_FAILED]);
    const b = await store.begin(['second'], LIMITS);
    expect(b.lastStep[0]).toBe(77);
    await finish(store, ['second'], [{ op: OP_RELEASE }]);
    expect(await attempt(store, 'second', { op: OP_FAILURE })).toBe('failed');
    expect(await attempt(store, 'second', { op: OP_FAILURE })).toBe('failed');
    expect(await attempt(store, 'second', { op: OP_FAILURE })).toBe('locked-now'); // the third, not the second
    expect(await attempt(store, 'first', { op: OP_FAILURE })).toBe('failed'); // its second
    await store.close();
  });

  it.skipIf(process.platform !== 'linux')('preTouch takes the memory for maxCredentials at construction; without it, as accounts come', async () => {
    // Resident memory from /proc (Linux), in a fresh process of the built store: in this one,
    // memory other tests freed may be resident already and be handed out again. 500,000
    // accounts: record pages (~63 MB) and table (16 MB).
    const script = `
      import { readFileSync } from 'node:fs';
      const { MemoryStore } = await import(${JSON.stringify(new URL('../dist/store/memory.js', import.meta.url).href)});
      const rss = () => Number(readFileSync('/proc/self/statm', 'utf8').split(' ')[1]) * 4096;
      let before = rss();
      const lazy = new MemoryStore({ maxCredentials: 500000 });
      const lazyGrowth = rss() - before;
      before = rss();
      const touched = new MemoryStore({ maxCredentials: 500000, preTouch: true });
      console.log(JSON.stringify({ lazyGrowth, touchedGrowth: rss() - before }));
      await Promise.all([lazy.close(), touched.close()]);`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    const { lazyGrowth, touchedGrowth } = JSON.parse(out) as { lazyGrowth: number; touchedGrowth: number };
    const MB = 1 << 20;
    expect(lazyGrowth).toBeLessThan(16 * MB);
    expect(touchedGrowth).toBeGreaterThan(70 * MB);
    // And it works as a store (its records were made up front, not as accounts came).
    const touched = new MemoryStore({ maxCredentials: 100_000, preTouch: true });
    expect(await attempt(touched, 'p', { op: OP_SUCCESS, step: 9 })).toBe('committed');
    expect(await attempt(touched, 'p', { op: OP_SUCCESS, step: 9 })).toBe('replayed');
    await touched.close();
    expect(() => new MemoryStore({ preTouch: 'yes' as unknown as boolean })).toThrow(/"preTouch" expected a boolean/);
  });

  it('forgets a failure streak after failureMemoryMs, and a mark after replayMs', async () => {
    let now = 5_000_000;
    const store = new MemoryStore({ now: () => now });
    expect(await attempt(store, 'x', { op: OP_FAILURE })).toBe('failed');
    expect(await attempt(store, 'x', { op: OP_FAILURE })).toBe('failed');
    now += LIMITS.failureMemoryMs + 1;
    expect(await attempt(store, 'x', { op: OP_FAILURE })).toBe('failed'); // a new streak of 1
    expect(await attempt(store, 'y', { op: OP_SUCCESS, step: 7 })).toBe('committed');
    now += LIMITS.replayMs + 1;
    expect((await store.begin(['y'], LIMITS)).lastStep[0]).toBe(-1);
    await store.close();
  });
});
