// HOTP counters in the store (RFC 4226; YubiKey OATH-HOTP): look-ahead, replay, lockout,
// batches, and resynchronisation (SECURITY.md R5, R7, R10), on MemoryStore and RedisStore.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HotpVerifier, TotpVerifier, hotp, totp, type Store } from '../src/index.js';
import { storeSubjects } from './helpers/redis.js';

const SECRET = new TextEncoder().encode('12345678901234567890');
// RFC 4226 Appendix D.
const RFC = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489'];
const code = (counter: number): string => hotp.generate(SECRET, counter);
const wrong = (counter: number): string => String((Number(code(counter)) + 1) % 1_000_000).padStart(6, '0');

const subjects = await storeSubjects('HotpVerifier on RedisStore');

let n = 0;
const fresh = (): string => `token-${process.pid}-${++n}`;

describe.each(subjects)('HotpVerifier on $name', ({ make }) => {
  let store: Store;
  let v: HotpVerifier;
  beforeAll(async () => {
    store = make();
    v = await HotpVerifier.create({ store, threads: 0, policy: { maxFailures: 4 } });
  });
  afterAll(async () => {
    await v.close();
    await store.close();
  });
  const verify = (account: string, c: string) => v.verify({ account, secret: SECRET, code: c });

  it('accepts the RFC 4226 codes in order, each once; the counter is the accepted one', async () => {
    const a = fresh();
    for (let c = 0; c < 10; c++) {
      expect(code(c)).toBe(RFC[c]);
      expect(await verify(a, RFC[c]!)).toEqual({ status: 'valid', delta: 0, step: c });
      expect(await verify(a, RFC[c]!)).toEqual({ status: 'replayed' });
    }
  });

  it('look-ahead: up to 10 counters skipped; earlier codes then replayed, older than the look-back invalid', async () => {
    const a = fresh();
    expect(await verify(a, code(10))).toEqual({ status: 'valid', delta: 10, step: 10 });
    expect(await verify(a, code(3))).toEqual({ status: 'replayed' });
    expect(await verify(a, code(11))).toEqual({ status: 'valid', delta: 0, step: 11 });
    expect(await verify(a, code(0))).toEqual({ status: 'invalid' }); // 11 back: beyond lookBack 10
    // Beyond the look-ahead (expected 12, so 23 is 11 ahead): invalid, counted.
    expect(await verify(a, code(23))).toEqual({ status: 'invalid' });
    expect(await verify(a, code(22))).toEqual({ status: 'valid', delta: 10, step: 22 });
  });

  it('wrong codes count toward the limit and lock, even the right code', async () => {
    const a = fresh();
    const results = [];
    for (let k = 0; k < 4; k++) results.push((await verify(a, wrong(0))).status);
    expect(results).toEqual(['invalid', 'invalid', 'invalid', 'invalid']);
    expect(await verify(a, code(0))).toMatchObject({ status: 'locked' });
    expect(await v.resync(a, SECRET, code(0), code(1))).toMatchObject({ status: 'locked' });
  });

  it('a batch acts as if sequential: a repeat is replayed, consecutive codes both valid', async () => {
    const a = fresh();
    const r = await v.verifyBatch([
      { account: a, secret: SECRET, code: code(0) }, { account: a, secret: SECRET, code: code(0) },
      { account: a, secret: SECRET, code: code(1) }, { account: a, secret: SECRET, code: code(2) },
    ]);
    expect(r.map((x) => x.status)).toEqual(['valid', 'replayed', 'valid', 'valid']);
    expect(r[3]).toEqual({ status: 'valid', delta: 0, step: 2 });
  });

  it('needs an account; bad codes are malformed and not counted', async () => {
    const r = await v.verifyBatch([
      { secret: SECRET, code: code(0) } as never, { account: fresh(), secret: SECRET, code: ' 12345' },
    ]);
    expect(r).toEqual([{ status: 'malformed', reason: 'account' }, { status: 'malformed', reason: 'code' }]);
  });

  it('HOTP state is apart from a TOTP credential of the same account name', async () => {
    const a = fresh();
    let now = 1_000_000_000_000;
    const t = await TotpVerifier.create({ store, threads: 0, policy: { maxFailures: 4 }, now: () => now });
    try {
      expect((await t.verify({ account: a, secret: SECRET, code: totp.generate(SECRET, { timestamp: now }), timestamp: now })).status)
        .toBe('valid');
      // The TOTP mark (a step near 33 million) does not make HOTP counter 0 used, and HOTP
      // failures do not lock TOTP.
      expect(await verify(a, code(0))).toMatchObject({ status: 'valid', step: 0 });
      for (let k = 0; k < 4; k++) await verify(a, wrong(1));
      expect((await verify(a, code(1))).status).toBe('locked');
      now += 60_000;
      expect((await t.verify({ account: a, secret: SECRET, code: totp.generate(SECRET, { timestamp: now }), timestamp: now })).status)
        .toBe('valid');
    } finally {
      await t.close();
    }
  });

  it('reset forgets the counter (a token programmed anew)', async () => {
    const a = fresh();
    expect((await verify(a, code(0))).status).toBe('valid');
    await v.reset(a);
    expect(await verify(a, code(0))).toEqual({ status: 'valid', delta: 0, step: 0 });
  });

  it('R2: a counter past 2^53 - 1 is never accepted with a rounded step, nor searched by resync', async () => {
    // A mark three below 2^53 (put there through the store, as a migration of counters would):
    // the look-ahead reaches counters a JS number cannot hold. Those are not committed (their
    // step would be rounded: counter 2^53 + 1 was answered valid with step 2^53).
    const a = fresh();
    const hotpStore = store.namespace('hotp');
    const limits = {
      maxFailures: 4, lockoutMs: 60_000, failureMemoryMs: 60_000, reservationMs: 60_000, replayMs: 86_400_000, driftMemoryMs: 3_600_000,
    };
    const M = Number.MAX_SAFE_INTEGER; // 2^53 - 1
    await hotpStore.begin([a], limits);
    await hotpStore.finish([a], { op: Uint8Array.of(0), step: Float64Array.of(M - 2), drift: Float64Array.of(Number.NaN) }, limits);
    const big = (c: bigint): string => hotp.generate(SECRET, c);
    const M2 = 2n ** 53n;
    expect(await verify(a, big(M2 + 1n))).toEqual({ status: 'error', reason: 'internal' });
    expect(await verify(a, big(M2))).toEqual({ status: 'error', reason: 'internal' });
    expect(await v.resync(a, SECRET, big(M2 - 1n), big(M2))).toEqual({ status: 'error', reason: 'internal' });
    // Nothing was counted or committed: the counters below 2^53 still work, in order.
    expect(await verify(a, big(M2 - 2n))).toEqual({ status: 'valid', delta: 0, step: M - 1 });
    expect(await verify(a, big(M2 - 1n))).toEqual({ status: 'valid', delta: 0, step: M });
    expect(await verify(a, big(M2 - 1n))).toEqual({ status: 'replayed' });
    // At the last counter a JS number holds, the next one is never accepted, and nothing is counted.
    for (let k = 0; k < 5; k++) expect(await verify(a, big(M2 + 1n))).toEqual({ status: 'error', reason: 'internal' });
    expect(await verify(a, big(M2 - 1n))).toEqual({ status: 'replayed' });
  });

  describe('resync (R10)', () => {
    it('two consecutive codes far ahead set the counter past the second', async () => {
      const a = fresh();
      expect((await verify(a, code(0))).status).toBe('valid');
      expect((await verify(a, code(50))).status).toBe('invalid'); // beyond the look-ahead
      expect(await v.resync(a, SECRET, code(50), code(51))).toEqual({ status: 'valid', delta: 49, step: 51 });
      expect(await verify(a, code(51))).toEqual({ status: 'replayed' });
      expect(await verify(a, code(52))).toEqual({ status: 'valid', delta: 0, step: 52 });
      // The same pair again: no longer fresh.
      expect((await v.resync(a, SECRET, code(50), code(51))).status).toBe('invalid');
    });

    it('codes that are not consecutive, or in the wrong order, are refused', async () => {
      const a = fresh();
      expect((await v.resync(a, SECRET, code(30), code(32))).status).toBe('invalid');
      expect((await v.resync(a, SECRET, code(31), code(30))).status).toBe('invalid');
      expect((await v.resync(a, SECRET, code(30), code(30))).status).toBe('invalid');
    });

    it('bounded: the first code at most resyncWindow - 1 after the expected counter', async () => {
      const a = fresh();
      expect((await v.resync(a, SECRET, code(100), code(101))).status).toBe('invalid');
      expect(await v.resync(a, SECRET, code(99), code(100))).toEqual({ status: 'valid', delta: 99, step: 100 });
    });

    it('codes at or before the last accepted counter are not fresh', async () => {
      const a = fresh();
      for (let c = 0; c < 5; c++) expect((await verify(a, code(c))).status).toBe('valid');
      expect((await v.resync(a, SECRET, code(3), code(4))).status).toBe('invalid');
      expect((await v.resync(a, SECRET, code(4), code(5))).status).toBe('invalid'); // 4 is used
      expect((await v.resync(a, SECRET, code(5), code(6))).status).toBe('valid');
    });

    it('failed resyncs count toward the limit (with failed codes) and lock', async () => {
      const a = fresh();
      expect((await verify(a, wrong(0))).status).toBe('invalid');
      for (let k = 0; k < 3; k++) expect((await v.resync(a, SECRET, code(40), code(42))).status).toBe('invalid');
      expect(await v.resync(a, SECRET, code(40), code(41))).toMatchObject({ status: 'locked' });
      expect(await verify(a, code(0))).toMatchObject({ status: 'locked' });
    });

    it('a success resets the failures', async () => {
      const a = fresh();
      for (let k = 0; k < 3; k++) await v.resync(a, SECRET, code(40), code(42));
      expect((await v.resync(a, SECRET, code(40), code(41))).status).toBe('valid');
      for (let k = 0; k < 3; k++) expect((await verify(a, wrong(42))).status).toBe('invalid');
      expect((await verify(a, code(42))).status).toBe('valid');
    });

    it('bad input is malformed and not counted', async () => {
      const a = fresh();
      expect(await v.resync(a, SECRET, '12345', code(1))).toEqual({ status: 'malformed', reason: 'code' });
      expect(await v.resync('', SECRET, code(0), code(1))).toEqual({ status: 'malformed', reason: 'account' });
      expect(await v.resync(a, 'not base32!', code(0), code(1))).toEqual({ status: 'malformed', reason: 'secret-encoding' });
      expect(await v.resync(a, new Uint8Array(8), code(0), code(1))).toEqual({ status: 'malformed', reason: 'secret-length' });
      expect(await v.resync(a, {} as never, code(0), code(1))).toEqual({ status: 'malformed', reason: 'secret-type' });
    });
  });
});

describe('HotpVerifier options', () => {
  it('validates and bounds them', async () => {
    await expect(HotpVerifier.create({ lookAhead: 11 })).rejects.toThrow(RangeError);
    await expect(HotpVerifier.create({ resyncWindow: 1001 })).rejects.toThrow(/"resyncWindow" expected an integer 2..1000, got 1001/);
    await expect(HotpVerifier.create({ store: null as never })).rejects.toThrow(TypeError);
    await expect(HotpVerifier.create({ policy: { drift: true } as never })).rejects.toThrow(/drift/);
    const v = await HotpVerifier.create({ threads: 0, lookAhead: 2, lookBack: 0, resyncWindow: 5, algorithm: 'SHA256', digits: 8 });
    try {
      expect(v.options).toEqual({ digits: 8, algorithm: 'SHA256', lookAhead: 2, lookBack: 0, resyncWindow: 5 });
      const c = (k: number): string => hotp.generate(SECRET, k, { algorithm: 'SHA256', digits: 8 });
      expect((await v.verify({ account: 'x', secret: SECRET, code: c(3) })).status).toBe('invalid');
      expect(await v.verify({ account: 'x', secret: SECRET, code: c(2) })).toEqual({ status: 'valid', delta: 2, step: 2 });
      expect((await v.verify({ account: 'x', secret: SECRET, code: c(2) })).status).toBe('invalid'); // lookBack 0
      expect((await v.resync('x', SECRET, c(8), c(9))).status).toBe('invalid'); // window 5 from 3
      expect(await v.resync('x', SECRET, c(7), c(8))).toEqual({ status: 'valid', delta: 4, step: 8 });
    } finally {
      await v.close();
    }
  });
});
