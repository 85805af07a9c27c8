// Differential tests: thousands of random items through every backend, compared item by item
// with the node:crypto reference. Seeded (see helpers/prng.ts): the seed is in the test names.

import { afterAll, describe, expect, it } from 'vitest';
import { backends, type HotpItem, type TotpItem, type VerifyItem } from './backends.js';
import { Prng, testSeed } from './helpers/prng.js';
import { MAX_U64, refHotp, refStep, refVerify } from './helpers/reference.js';
import type { Digits } from './helpers/vectors.js';

const SEED = testSeed();
const MAX_MS = Number.MAX_SAFE_INTEGER;
const DIGITS: readonly Digits[] = [6, 7, 8];

/** Secrets of 10..64 bytes mostly; one in six 65..256 bytes (HMAC hashes those first). */
function randomKey(rng: Prng): Uint8Array {
  return rng.bytes(rng.int(0, 5) === 0 ? rng.int(65, 256) : rng.int(10, 64));
}

/** Counters across the whole u64 range, dense where 32-bit, float or signed code breaks. */
function randomCounter(rng: Prng): bigint {
  const edges = [0n, 1n << 31n, 1n << 32n, 1n << 53n, 1n << 63n, MAX_U64];
  switch (rng.int(0, 3)) {
    case 0: return rng.bits(64);
    case 1: return rng.bits(rng.int(1, 64));
    default: {
      const c = rng.pick(edges) + BigInt(rng.int(-1000, 1000));
      return c < 0n ? -c : c > MAX_U64 ? MAX_U64 - (c - MAX_U64) : c;
    }
  }
}

/** Milliseconds up to 2^53-1: uniform, near 2038 (2^31 s), 2106 (2^32 s), step 2^32, and the top. */
function randomTimestamp(rng: Prng, period: number): number {
  const near = (center: number, spread: number): number =>
    Math.min(MAX_MS, Math.max(0, center + rng.int(-spread, spread) + rng.int(0, 999) / 1000));
  switch (rng.int(0, 5)) {
    case 0: return rng.int(0, MAX_MS);
    case 1: return near(2 ** 31 * 1000, 86_400_000);
    case 2: return near(2 ** 32 * 1000, 86_400_000);
    case 3: return near(Math.min(2 ** 32 * period * 1000, MAX_MS), 20 * period * 1000);
    case 4: return near(1_700_000_000_000, 10 ** 11);
    default: return near(MAX_MS, 10 ** 10);
  }
}

function randomPeriod(rng: Prng): number {
  return rng.int(0, 1) === 0 ? rng.pick([1, 30, 60, 86_400]) : rng.int(1, 86_400);
}

/** t0 = 0 half the time, otherwise anywhere up to the timestamp. */
function randomT0(rng: Prng, timestamp: number): number {
  return rng.int(0, 1) === 0 ? 0 : rng.int(0, Math.floor(timestamp / 1000));
}

// Verification settings: a few fixed combinations (one verifier each in the facade backends).
const VERIFY_SETTINGS = [
  { digits: 6, period: 30, t0: 0, past: 1, future: 1 },
  { digits: 8, period: 30, t0: 0, past: 10, future: 10 },
  { digits: 7, period: 60, t0: 1_000_000, past: 3, future: 0 },
  { digits: 6, period: 1, t0: 0, past: 0, future: 4 },
  { digits: 8, period: 86_400, t0: 0, past: 2, future: 5 },
  { digits: 6, period: 17, t0: 123_456_789, past: 0, future: 0 },
] as const;

function makeCases(seed: number) {
  const rng = new Prng(seed);
  const hotpItems: HotpItem[] = Array.from({ length: 3000 }, () => ({
    key: randomKey(rng), counter: randomCounter(rng), digits: rng.pick(DIGITS),
  }));
  const totpItems: TotpItem[] = Array.from({ length: 2000 }, () => {
    const period = randomPeriod(rng);
    const timestamp = randomTimestamp(rng, period);
    return { key: randomKey(rng), timestamp, period, t0: randomT0(rng, timestamp), digits: rng.pick(DIGITS) };
  });
  const verifyItems: VerifyItem[] = Array.from({ length: 3000 }, () => {
    const s = rng.pick(VERIFY_SETTINGS);
    const key = randomKey(rng);
    const timestamp = Math.max(s.t0 * 1000, randomTimestamp(rng, s.period));
    const step = refStep(timestamp, s.period, s.t0)!;
    // A code from a step inside the window, just outside it, or no step at all.
    const delta = BigInt(rng.int(-s.past - 2, s.future + 2));
    const code = rng.int(0, 9) === 0 || step + delta < 0n
      ? String(rng.int(0, 10 ** s.digits - 1)).padStart(s.digits, '0')
      : refHotp(key, step + delta, s.digits);
    return { ...s, key, timestamp, code };
  });
  return { hotpItems, totpItems, verifyItems };
}

const { hotpItems, totpItems, verifyItems } = makeCases(SEED);

const expectedHotp = hotpItems.map((it) => refHotp(it.key, it.counter, it.digits));
const expectedTotp = totpItems.map((it) => refHotp(it.key, refStep(it.timestamp, it.period, it.t0)!, it.digits));
const expectedVerify = verifyItems.map((it) => {
  const step = refStep(it.timestamp, it.period, it.t0)!;
  const delta = refVerify(it.key, step, it.code, it.digits, it.past, it.future);
  return delta === null ? { status: 'invalid' } : { status: 'valid', delta, step: step + BigInt(delta) };
});

describe(`differential test data (seed ${SEED})`, () => {
  it('covers what it claims to: long keys, counters past 2^32 and 2^53, timestamps past 2038 and 2106', () => {
    expect(hotpItems.filter((it) => it.key.length > 64).length).toBeGreaterThan(300);
    expect(hotpItems.filter((it) => it.counter > 1n << 53n).length).toBeGreaterThan(500);
    expect(hotpItems.filter((it) => it.counter > 1n << 32n && it.counter < 1n << 33n).length).toBeGreaterThan(50);
    expect(totpItems.filter((it) => it.timestamp > 2 ** 32 * 1000).length).toBeGreaterThan(500);
    expect(totpItems.filter((it) => refStep(it.timestamp, it.period, it.t0)! >= 1n << 32n).length).toBeGreaterThan(100);
    expect(new Set(hotpItems.map((it) => it.digits)).size).toBe(3);
  });

  it('verifies at every delta of every window, and refuses outside it', () => {
    const valid = expectedVerify.filter((r) => r.status === 'valid').length;
    expect(valid).toBeGreaterThan(1000);
    expect(verifyItems.length - valid).toBeGreaterThan(500);
    const deltas = new Set(expectedVerify.map((r) => r.delta));
    for (let d = -10; d <= 10; d++) expect(deltas).toContain(d);
  });
});

for (const backend of backends) {
  describe(`differential vs node:crypto (seed ${SEED}): ${backend.name}`, () => {
    afterAll(() => backend.close());

    it(`HOTP: ${hotpItems.length} random keys, 64-bit counters, 6/7/8 digits`, async () => {
      expect(await backend.hotp(hotpItems)).toEqual(expectedHotp);
    });

    it(`TOTP generate: ${totpItems.length} random timestamps up to 2^53 ms, periods 1..86400, t0`, async () => {
      expect(await backend.totp(totpItems)).toEqual(expectedTotp);
    });

    it(`TOTP verify: ${verifyItems.length} codes at random deltas inside and outside the window`, async () => {
      expect(await backend.verify(verifyItems)).toEqual(expectedVerify);
    });
  });
}

// SHA-256 and SHA-512 (RFC 6238), mixed with SHA-1 in the same batches: random keys of 1..200
// bytes (SHA-256 hashes keys over 64 bytes first, SHA-512 over 128), every digit count.
const ALGORITHMS = ['SHA1', 'SHA256', 'SHA512'] as const;
const hashOf = (a: (typeof ALGORITHMS)[number]) => a.toLowerCase() as 'sha1' | 'sha256' | 'sha512';

function makeSha2Cases(seed: number) {
  const rng = new Prng(seed ^ 0x5a2);
  const hotpItems: HotpItem[] = Array.from({ length: 1500 }, () => ({
    key: rng.bytes(rng.int(1, 200)), counter: randomCounter(rng), digits: rng.pick(DIGITS), algorithm: rng.pick(ALGORITHMS),
  }));
  const verifyItems: VerifyItem[] = Array.from({ length: 1500 }, () => {
    const s = rng.pick(VERIFY_SETTINGS);
    const algorithm = rng.pick(ALGORITHMS);
    const key = rng.bytes(rng.int(1, 200));
    const timestamp = Math.max(s.t0 * 1000, randomTimestamp(rng, s.period));
    const step = refStep(timestamp, s.period, s.t0)!;
    const delta = BigInt(rng.int(-s.past - 2, s.future + 2));
    const code = rng.int(0, 9) === 0 || step + delta < 0n
      ? String(rng.int(0, 10 ** s.digits - 1)).padStart(s.digits, '0')
      : refHotp(key, step + delta, s.digits, hashOf(algorithm));
    return { ...s, key, timestamp, code, algorithm };
  });
  return { hotpItems, verifyItems };
}

const sha2 = makeSha2Cases(SEED);
const sha2Hotp = sha2.hotpItems.map((it) => refHotp(it.key, it.counter, it.digits, hashOf(it.algorithm!)));
const sha2Verify = sha2.verifyItems.map((it) => {
  const step = refStep(it.timestamp, it.period, it.t0)!;
  const delta = refVerify(it.key, step, it.code, it.digits, it.past, it.future, hashOf(it.algorithm!));
  return delta === null ? { status: 'invalid' } : { status: 'valid', delta, step: step + BigInt(delta) };
});

describe(`SHA-256/512 differential test data (seed ${SEED})`, () => {
  it('covers every algorithm, key lengths across both block sizes, valid and invalid codes', () => {
    for (const a of ALGORITHMS) {
      const keys = sha2.hotpItems.filter((it) => it.algorithm === a).map((it) => it.key.length);
      expect(keys.filter((n) => n <= 64).length).toBeGreaterThan(100);
      expect(keys.filter((n) => n > 64 && n <= 128).length).toBeGreaterThan(100);
      expect(keys.filter((n) => n > 128).length).toBeGreaterThan(100);
    }
    expect(sha2Verify.filter((r) => r.status === 'valid').length).toBeGreaterThan(600);
    expect(sha2Verify.filter((r) => r.status === 'invalid').length).toBeGreaterThan(200);
  });
});

for (const backend of backends) {
  describe(`differential SHA1/SHA256/SHA512 vs node:crypto (seed ${SEED}): ${backend.name}`, () => {
    afterAll(() => backend.close());

    it(`HOTP: ${sha2.hotpItems.length} random keys of 1..200 bytes, three hashes mixed`, async () => {
      expect(await backend.hotp(sha2.hotpItems)).toEqual(sha2Hotp);
    });

    it(`TOTP verify: ${sha2.verifyItems.length} codes, three hashes mixed, inside and outside the window`, async () => {
      expect(await backend.verify(sha2.verifyItems)).toEqual(sha2Verify);
    });
  });
}
