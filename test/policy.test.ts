// Replay protection, failure limits, lockout, drift, fail-closed and audit events, through the
// verifier, on MemoryStore and RedisStore (one suite for both).

import diagnostics_channel from 'node:diagnostics_channel';
import { afterAll, describe, expect, it } from 'vitest';
import {
  AUDIT_CHANNEL, type AuditEvent, MemoryStore, RedisStore, type Store, TotpVerifier, type VerifierOptions, totp,
} from '../src/index.js';
import { KEY, KEY_B32 } from './helpers/fixtures.js';
import { REDIS_URL, deleteKeys, haveRedis, testPrefix } from './helpers/redis.js';
import { ascii } from './helpers/vectors.js';

const redisOk = await haveRedis('policy through the verifier on RedisStore');
const prefix = testPrefix();
const stores: { name: string; make: () => Store }[] = [{ name: 'MemoryStore', make: () => new MemoryStore() }];
if (redisOk) stores.push({ name: 'RedisStore', make: () => new RedisStore({ url: REDIS_URL, prefix }) });

afterAll(async () => {
  if (redisOk) await deleteKeys(prefix);
});

const NOW = Date.now();
const codeAt = (ms: number, secret: Uint8Array = KEY): string => totp.generate(secret, { timestamp: ms });
const wrong = (code: string): string => String((Number(code) + 500_000) % 1_000_000).padStart(6, '0');
let n = 0;
const fresh = (): string => `acct-${process.pid}-${++n}`;

/** Audit events published while `fn` runs. */
async function audited<T>(fn: () => Promise<T>): Promise<{ value: T; events: AuditEvent[] }> {
  const events: AuditEvent[] = [];
  const listener = (e: unknown): void => { events.push(e as AuditEvent); };
  diagnostics_channel.subscribe(AUDIT_CHANNEL, listener);
  try {
    return { value: await fn(), events };
  } finally {
    diagnostics_channel.unsubscribe(AUDIT_CHANNEL, listener);
  }
}

describe.each(stores)('policy on $name', ({ make }) => {
  async function withVerifier(opts: VerifierOptions, fn: (v: TotpVerifier) => Promise<void>): Promise<void> {
    const store = make();
    const v = await TotpVerifier.create({ threads: 0, ...opts, store });
    try {
      await fn(v);
    } finally {
      await v.close();
      await store.close();
    }
  }

  it('accepts a code once: the same code again is replayed, in later batches and single calls', () =>
    withVerifier({}, async (v) => {
      const account = fresh();
      const code = codeAt(NOW);
      const req = { account, secret: KEY, code, timestamp: NOW };
      expect((await v.verifyBatch([req]))[0]).toMatchObject({ status: 'valid', delta: 0 });
      expect((await v.verifyBatch([req]))[0]).toEqual({ status: 'replayed' });
      expect(await v.verify(req)).toEqual({ status: 'replayed' });
      // An older step after a newer one is refused too (R6).
      expect(await v.verify({ ...req, code: codeAt(NOW - 30_000) })).toEqual({ status: 'replayed' });
      // The next step's code is new.
      expect(await v.verify({ ...req, code: codeAt(NOW + 30_000) })).toMatchObject({ status: 'valid', delta: 1 });
      // Another account with the same secret has its own marks.
      expect(await v.verify({ ...req, account: fresh() })).toMatchObject({ status: 'valid' });
      expect(v.stats().policy).toMatchObject({ valid: 3, replayed: 3 });
    }));

  it('two requests of one account in one batch act as if sequential', () =>
    withVerifier({}, async (v) => {
      const a = fresh();
      const b = fresh();
      const code = codeAt(NOW);
      const results = await v.verifyBatch([
        { account: a, secret: KEY, code, timestamp: NOW },
        { account: b, secret: KEY, code: wrong(code), timestamp: NOW },
        { account: a, secret: KEY, code, timestamp: NOW },
        { account: b, secret: KEY, code, timestamp: NOW },
        { secret: KEY, code, timestamp: NOW }, // no account: stateless, valid every time
        { secret: KEY, code, timestamp: NOW },
        { account: a, secret: KEY, code: codeAt(NOW + 30_000), timestamp: NOW },
      ]);
      expect(results.map((r) => r.status)).toEqual(['valid', 'invalid', 'replayed', 'valid', 'valid', 'valid', 'valid']);
    }));

  it('R5: a used step does not hide an unused step with the same code', () => {
    // HOTP(910737) = HOTP(910738) = 911617 for the RFC secret (test/core-abi.test.ts); the
    // verifier's clock is that time, so that the request's timestamp is near it.
    const timestamp = 910_737 * 30_000 + 1000;
    return withVerifier({ now: () => timestamp }, async (v) => {
      const rfc = ascii('12345678901234567890');
      const req = { account: fresh(), secret: rfc, code: '911617', timestamp };
      expect(totp.generate(rfc, { timestamp })).toBe('911617');
      expect(totp.generate(rfc, { timestamp: timestamp + 30_000 })).toBe('911617');
      expect(await v.verify(req)).toMatchObject({ status: 'valid', delta: 0, step: 910_737 });
      expect(await v.verify(req)).toMatchObject({ status: 'valid', delta: 1, step: 910_738 });
      expect(await v.verify(req)).toEqual({ status: 'replayed' });
    });
  });

  it('locks after maxFailures consecutive failures; a locked account is refused even with its right code', () =>
    withVerifier({ policy: { maxFailures: 3 } }, async (v) => {
      const account = fresh();
      const code = codeAt(NOW);
      const bad = { account, secret: KEY, code: wrong(code), timestamp: NOW };
      const { value, events } = await audited(async () => [
        await v.verify(bad), await v.verify(bad), await v.verify(bad),
        await v.verify({ ...bad, code }),
      ]);
      expect(value.map((r) => r.status)).toEqual(['invalid', 'invalid', 'invalid', 'locked']);
      expect(value[3]!.retryAfterMs).toBeGreaterThan(800_000);
      expect(events.map((e) => [e.type, e.lockedNow ?? null])).toEqual([
        ['invalid', false], ['invalid', false], ['invalid', true], ['locked', null],
      ]);
      expect(v.stats().policy).toMatchObject({ invalid: 3, locked: 1, lockouts: 1 });
      // The right code was not used up by the refused attempt: another account is unaffected,
      // and nothing about this account changed.
      expect((await v.verify({ ...bad, code })).status).toBe('locked');
    }));

  it('a success resets the failure count', () =>
    withVerifier({ policy: { maxFailures: 3 } }, async (v) => {
      const account = fresh();
      const at = (k: number): number => NOW + k * 30_000;
      const statuses: string[] = [];
      for (let k = 0; k < 3; k++) {
        statuses.push((await v.verify({ account, secret: KEY, code: wrong(codeAt(at(k))), timestamp: at(k) })).status);
        statuses.push((await v.verify({ account, secret: KEY, code: wrong(codeAt(at(k))), timestamp: at(k) })).status);
        statuses.push((await v.verify({ account, secret: KEY, code: codeAt(at(k)), timestamp: at(k) })).status);
      }
      expect(statuses).toEqual(['invalid', 'invalid', 'valid', 'invalid', 'invalid', 'valid', 'invalid', 'invalid', 'valid']);
    }));

  it('parallel wrong guesses for one account: at most maxFailures are evaluated', () =>
    withVerifier({ policy: { maxFailures: 5 } }, async (v) => {
      const account = fresh();
      const code = codeAt(NOW);
      const guesses = Array.from({ length: 200 }, (_, i) => ({
        account, secret: KEY, code: String((Number(code) + 1 + i) % 1_000_000).padStart(6, '0'), timestamp: NOW,
      }));
      const results = await Promise.all(guesses.map((g) => v.verify(g)));
      expect(results.filter((r) => r.status === 'invalid')).toHaveLength(5);
      expect(results.filter((r) => r.status === 'locked')).toHaveLength(195);
    }));

  it('learned drift: a phone that runs a step behind is followed, within bounds', () => {
    let t = NOW;
    // The verifier's clock moves with the requests' time.
    return withVerifier({ window: 1, policy: { drift: { maxSteps: 2 } }, now: () => t }, async (v) => {
      const account = fresh();
      const at = (phoneSteps: number): { account: string; secret: Uint8Array; code: string; timestamp: number } =>
        ({ account, secret: KEY, code: codeAt(t + phoneSteps * 30_000), timestamp: t });
      // (Each attempt is 5 steps after the last, so that no step is used twice.)
      // Two steps behind is outside ±1 until drift of -1 has been learned from a success.
      expect((await v.verify(at(-2))).status).toBe('invalid');
      t += 150_000;
      expect(await v.verify(at(-1))).toMatchObject({ status: 'valid', delta: -1 });
      t += 150_000;
      expect(await v.verify(at(-2))).toMatchObject({ status: 'valid', delta: -2 });
      t += 150_000;
      expect(await v.verify(at(-3))).toMatchObject({ status: 'valid', delta: -3 });
      // Bounded: drift stops at -2, so -4 is outside the window (-2 - 1 = -3 is the furthest).
      t += 150_000;
      expect((await v.verify(at(-4))).status).toBe('invalid');
      // Learned from successes only: the failure did not move it; -3 still works.
      t += 150_000;
      expect(await v.verify(at(-3))).toMatchObject({ status: 'valid', delta: -3 });
    });
  });

  it('without drift learning the window stays centred', () =>
    withVerifier({ window: 1 }, async (v) => {
      const account = fresh();
      expect(await v.verify({ account, secret: KEY, code: codeAt(NOW - 30_000), timestamp: NOW })).toMatchObject({ status: 'valid', delta: -1 });
      expect((await v.verify({ account, secret: KEY, code: codeAt(NOW - 30_000), timestamp: NOW + 30_000 })).status).toBe('invalid');
    }));

  it('audit events name the account and never carry the code or the secret', () =>
    withVerifier({ name: 'audit-test' }, async (v) => {
      const account = fresh();
      const code = codeAt(NOW);
      const { events } = await audited(() => v.verifyBatch([
        { account, secret: KEY_B32, code, timestamp: NOW },
        { account, secret: KEY_B32, code, timestamp: NOW },
        { account, secret: KEY_B32, code: wrong(code), timestamp: NOW },
        { secret: KEY_B32, code, timestamp: NOW }, // stateless: no audit event
      ]));
      expect(events.map((e) => e.type)).toEqual(['valid', 'replayed', 'invalid']);
      for (const e of events) {
        expect(e).toMatchObject({ account, verifier: 'audit-test' });
        const text = JSON.stringify(e);
        expect(text).not.toContain(code);
        expect(text).not.toContain(wrong(code));
        expect(text).not.toContain(KEY_B32);
      }
    }));
});

describe('fail closed (R8)', () => {
  /** A store that works until told to fail at begin or at finish. */
  class FlakyStore extends MemoryStore {
    failBegin = false;
    failFinish = false;
    override async begin(...args: Parameters<MemoryStore['begin']>): ReturnType<MemoryStore['begin']> {
      if (this.failBegin) throw new Error('down');
      return super.begin(...args);
    }
    override async finish(...args: Parameters<MemoryStore['finish']>): ReturnType<MemoryStore['finish']> {
      if (this.failFinish) throw new Error('down');
      return super.finish(...args);
    }
  }

  it('a store that cannot begin: stateful items are error (store), stateless ones still verified', async () => {
    const store = new FlakyStore();
    const v = await TotpVerifier.create({ threads: 0, store });
    store.failBegin = true;
    const code = codeAt(NOW);
    const results = await v.verifyBatch([
      { account: 'a', secret: KEY, code, timestamp: NOW },
      { account: 'b', secret: KEY, code: wrong(code), timestamp: NOW },
      { secret: KEY, code, timestamp: NOW },
    ]);
    expect(results).toEqual([
      { status: 'error', reason: 'store' }, { status: 'error', reason: 'store' },
      { status: 'valid', delta: 0, step: Math.floor(NOW / 30_000) },
    ]);
    // Nothing was counted: back up, the right code is valid and the wrong one is a first failure.
    store.failBegin = false;
    expect((await v.verify({ account: 'a', secret: KEY, code, timestamp: NOW })).status).toBe('valid');
    expect(v.stats().policy).toMatchObject({ storeErrors: 2, valid: 1, invalid: 0 });
    await v.close();
    await store.close();
  });

  it('a store that cannot finish: a match is error, never valid; a miss is error, never invalid', async () => {
    const store = new FlakyStore();
    const v = await TotpVerifier.create({ threads: 0, store, policy: { maxFailures: 2, reservationMs: 1000 } });
    store.failFinish = true;
    const code = codeAt(NOW);
    for (let k = 0; k < 2; k++) {
      const results = await v.verifyBatch([
        { account: 'a', secret: KEY, code, timestamp: NOW },
        { account: 'b', secret: KEY, code: wrong(code), timestamp: NOW },
      ]);
      expect(results).toEqual([{ status: 'error', reason: 'store' }, { status: 'error', reason: 'store' }]);
    }
    store.failFinish = false;
    // The attempts reserved at begin could not be given back; until they lapse (reservationMs)
    // they stand in for attempts in flight: the account is refused without evaluation.
    expect((await v.verify({ account: 'b', secret: KEY, code, timestamp: NOW })).status).toBe('locked');
    // b's two misses were not counted as failures (limit 2): once the reservations lapse, a
    // wrong code is a first failure, and then the right code works.
    await expect.poll(async () => (await v.verify({ account: 'b', secret: KEY, code: wrong(code), timestamp: NOW })).status,
      { timeout: 3000, interval: 200 }).toBe('invalid');
    expect((await v.verify({ account: 'b', secret: KEY, code, timestamp: NOW })).status).toBe('valid');
    await v.close();
    await store.close();
  });

  /**
   * A custom store (not a MemoryStore: the verifier takes its asynchronous path) that keeps its
   * state in a MemoryStore but answers finish as `mangle` says: a store's bug.
   */
  class MisansweringStore implements Store {
    readonly inner = new MemoryStore();
    mangle: ((done: Uint8Array) => unknown) | undefined;
    beginAnswer: unknown;
    begin(...args: Parameters<Store['begin']>): ReturnType<Store['begin']> {
      return this.beginAnswer === undefined ? this.inner.begin(...args) : Promise.resolve(this.beginAnswer as Awaited<ReturnType<Store['begin']>>);
    }
    async finish(...args: Parameters<Store['finish']>): ReturnType<Store['finish']> {
      const done = await this.inner.finish(...args);
      return (this.mangle === undefined ? done : this.mangle(done)) as Uint8Array;
    }
    health(): Promise<void> { return this.inner.health(); }
    close(): Promise<void> { return this.inner.close(); }
    namespace(): Store { return this; }
    forget(account: string): Promise<void> { return this.inner.forget(account); }
    putBackupCodes(...args: Parameters<Store['putBackupCodes']>): Promise<void> { return this.inner.putBackupCodes(...args); }
    backupCodeInfo(account: string): ReturnType<Store['backupCodeInfo']> { return this.inner.backupCodeInfo(account); }
    consumeBackupCode(account: string, hash: string): Promise<number> { return this.inner.consumeBackupCode(account, hash); }
    deleteBackupCodes(account: string): Promise<void> { return this.inner.deleteBackupCodes(account); }
  }

  it('a store whose finish answers what finish never answers for the op: error, never valid, invalid or replayed', async () => {
    const store = new MisansweringStore();
    const v = await TotpVerifier.create({ threads: 0, store, policy: { reservationMs: 1000 } });
    try {
      const code = codeAt(NOW);
      const cases: [string, (done: Uint8Array) => unknown][] = [
        ['a value no DONE_* has', (done) => done.map(() => 9)],
        ['DONE_FAILED for a match, DONE_COMMITTED for a miss', (done) => done.map((d) => (d === 0 ? 2 : 0))],
        ['an answer shorter than the accounts', () => new Uint8Array(0)],
        ['no array at all', () => null],
      ];
      for (const [k, [name, mangle]] of cases.entries()) {
        store.mangle = mangle;
        const results = await v.verifyBatch([
          { account: `ok-${k}`, secret: KEY, code, timestamp: NOW },
          { account: `bad-${k}`, secret: KEY, code: wrong(code), timestamp: NOW },
        ]);
        expect(results, name).toEqual([{ status: 'error', reason: 'store' }, { status: 'error', reason: 'store' }]);
      }
      // A begin that answers no columns: every item error, nothing evaluated.
      store.mangle = undefined;
      for (const answer of [null, {}]) {
        store.beginAnswer = answer;
        expect(await v.verifyBatch([{ account: 'dan', secret: KEY, code, timestamp: NOW }])).toEqual([{ status: 'error', reason: 'store' }]);
      }
      store.beginAnswer = undefined;
      // Backup codes finish one account at a time (policy/single.ts): the same rule.
      store.mangle = undefined;
      const [first] = await v.backupCodes.generate('carol');
      store.mangle = (done) => done.map(() => 9);
      expect(await v.backupCodes.verify('carol', 'aaaaa-aaaaa')).toEqual({ status: 'error', reason: 'store' });
      expect(await v.backupCodes.verify('carol', first!)).toEqual({ status: 'error', reason: 'store' });
    } finally {
      await v.close();
      await store.close();
    }
  });

  it('store: null verifies every request on its own (the caller owns replay protection)', async () => {
    const v = await TotpVerifier.create({ threads: 0, store: null });
    const req = { account: 'a', secret: KEY, code: codeAt(NOW), timestamp: NOW };
    expect((await v.verify(req)).status).toBe('valid');
    expect((await v.verify(req)).status).toBe('valid');
    await expect(v.storeHealth()).resolves.toBeUndefined();
    await v.close();
  });

  it('refuses a store option that is not a store', async () => {
    await expect(TotpVerifier.create({ store: {} as Store })).rejects.toThrow(TypeError);
    await expect(TotpVerifier.create({ policy: { maxFailures: 101 } })).rejects.toThrow(/"policy.maxFailures" expected an integer 1..100, got 101/);
    await expect(TotpVerifier.create({ policy: { drift: { maxSteps: 0 } } })).rejects.toThrow(RangeError);
  });
});

describe('a MemoryStore answered now (no promise: beginNow / finishNow)', () => {
  /** A MemoryStore whose synchronous begin or finish fails when told to (its async ones are MemoryStore's). */
  class FlakyNowStore extends MemoryStore {
    failBegin = false;
    failFinish = false;
    beganNow = 0;
    override beginNow(...args: Parameters<MemoryStore['beginNow']>): ReturnType<MemoryStore['beginNow']> {
      this.beganNow++;
      if (this.failBegin) throw new Error('down');
      return super.beginNow(...args);
    }
    override finishNow(...args: Parameters<MemoryStore['finishNow']>): ReturnType<MemoryStore['finishNow']> {
      if (this.failFinish) throw new Error('down');
      return super.finishNow(...args);
    }
  }

  it('fails closed at begin and at finish, as the async path does', async () => {
    const store = new FlakyNowStore();
    const v = await TotpVerifier.create({ threads: 0, store });
    const code = codeAt(NOW);
    const step = Math.floor(NOW / 30_000);
    store.failBegin = true;
    expect(await v.verifyBatch([
      { account: 'a', secret: KEY, code, timestamp: NOW },
      { account: 'b', secret: KEY, code: wrong(code), timestamp: NOW },
      { secret: KEY, code, timestamp: NOW },
    ])).toEqual([
      { status: 'error', reason: 'store' }, { status: 'error', reason: 'store' }, { status: 'valid', delta: 0, step },
    ]);
    expect(store.beganNow).toBe(1);
    store.failBegin = false;
    store.failFinish = true;
    expect(await v.verifyBatch([
      { account: 'a', secret: KEY, code, timestamp: NOW },
      { account: 'b', secret: KEY, code: wrong(code), timestamp: NOW },
    ])).toEqual([{ status: 'error', reason: 'store' }, { status: 'error', reason: 'store' }]);
    store.failFinish = false;
    // Nothing was committed: the code is still good once, then replayed.
    expect(await v.verify({ account: 'a', secret: KEY, code, timestamp: NOW })).toEqual({ status: 'valid', delta: 0, step });
    expect(await v.verify({ account: 'a', secret: KEY, code, timestamp: NOW })).toEqual({ status: 'replayed' });
    expect(store.beganNow).toBe(4);
    await v.close();
    await store.close();
  });

  it('a closed store: stateful items are error (store)', async () => {
    const store = new MemoryStore();
    const v = await TotpVerifier.create({ threads: 0, store });
    await store.close();
    const code = codeAt(NOW);
    expect(await v.verifyBatch([{ account: 'a', secret: KEY_B32, code, timestamp: NOW }])).toEqual([{ status: 'error', reason: 'store' }]);
    await v.close();
  });

  it('an audit subscriber that uses the inline core (totp.generate) while a batch is begun does not disturb it', async () => {
    const v = await TotpVerifier.create({ threads: 0, policy: { maxFailures: 1 } });
    const code = codeAt(NOW);
    const locked = fresh();
    expect((await v.verify({ account: locked, secret: KEY_B32, code: wrong(code), timestamp: NOW })).status).toBe('invalid');
    const others = Array.from({ length: 5 }, () => fresh());
    const { value, events } = await audited(() => {
      const listener = (): void => { totp.generate(KEY, { timestamp: NOW + 3_600_000 }); };
      diagnostics_channel.subscribe(AUDIT_CHANNEL, listener);
      return v.verifyBatch([locked, ...others].map((account) => ({ account, secret: KEY_B32, code, timestamp: NOW })))
        .finally(() => diagnostics_channel.unsubscribe(AUDIT_CHANNEL, listener));
    });
    expect(value[0]!.status).toBe('locked');
    expect(value.slice(1).map((r) => r.status)).toEqual(others.map(() => 'valid'));
    expect(events.map((e) => e.type)).toEqual(['locked', ...others.map(() => 'valid')]);
    await v.close();
  });
});

describe('a verification started from within another one (an audit subscriber calling the verifier)', () => {
  it("does not overwrite the store's answer the first one is still reading", async () => {
    const v = await TotpVerifier.create({ threads: 0, policy: { maxFailures: 1 } });
    const code = codeAt(NOW);
    const locked = [fresh(), fresh(), fresh()];
    for (const account of locked) {
      expect((await v.verify({ account, secret: KEY_B32, code: wrong(code), timestamp: NOW })).status).toBe('invalid');
    }
    // At the first 'locked' event, a batch of new accounts is verified on the same verifier
    // (and store); its synchronous part runs inside the publish, between the outer batch's items.
    const inner = [fresh(), fresh(), fresh()]; // as many as the outer batch: the same size of answer
    let innerResults: Promise<unknown[]> | undefined;
    const listener = (e: unknown): void => {
      if ((e as AuditEvent).type === 'locked' && innerResults === undefined) {
        innerResults = v.verifyBatch(inner.map((account) => ({ account, secret: KEY_B32, code, timestamp: NOW })));
      }
    };
    diagnostics_channel.subscribe(AUDIT_CHANNEL, listener);
    try {
      const outer = await v.verifyBatch(locked.map((account) => ({ account, secret: KEY_B32, code, timestamp: NOW })));
      // Every outer account is still locked: its code (right) was not evaluated.
      expect(outer.map((r) => r.status)).toEqual(['locked', 'locked', 'locked']);
      expect((await innerResults!).map((r) => (r as { status: string }).status)).toEqual(['valid', 'valid', 'valid']);
    } finally {
      diagnostics_channel.unsubscribe(AUDIT_CHANNEL, listener);
    }
    await v.close();
  });
});
