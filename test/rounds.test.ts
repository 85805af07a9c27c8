// Requests of one account in one batch act as if made one after the other (SECURITY.md R6: the
// first valid, a repeat replayed): each repeat of an account runs in a later round of the batch
// (verifier.ts). A batch that names one account thousands of times must still be answered, item
// for item as the same requests verified one by one would be, without exhausting the stack or
// the heap (a batch of 4,000 repeats once overflowed the stack; serve's --max-batch allows
// 100,000). Timing is not asserted here; bench/rounds.ts measures it.

import { afterAll, describe, expect, it } from 'vitest';
import {
  MemoryStore, RedisStore, type Store, TotpVerifier, type VerifierOptions, type VerifyRequest, type VerifyResult, totp,
} from '../src/index.js';
import { KEY } from './helpers/fixtures.js';
import { Prng, testSeed } from './helpers/prng.js';
import { REDIS_URL, deleteKeys, haveRedis, testPrefix } from './helpers/redis.js';

const redisOk = await haveRedis('rounds on RedisStore');
const prefix = testPrefix();
afterAll(async () => {
  if (redisOk) await deleteKeys(prefix);
});

const P = 30_000;
/** The verifier's (fixed) time: 10 s into a step, so the window's steps are T-1, T, T+1. */
const NOW = Date.now() - (Date.now() % P) + 10_000;
const codeAt = (ms: number): string => totp.generate(KEY, { timestamp: ms });
const wrong = (code: string, k: number): string => String((Number(code) + 1 + (k % 999_000)) % 1_000_000).padStart(6, '0');
const SEED = testSeed();
/** maxFailures at its most, so that replays and failures both show before the lock. */
const POLICY = { maxFailures: 100 };

/**
 * One request of `account`: mostly wrong codes and repeats of the window's three right codes,
 * some malformed, some with no timestamp (the verifier's time).
 */
function mixed(account: string, rng: Prng, k: number): VerifyRequest {
  const r = rng.int(0, 99);
  if (r < 10) return { account, secret: KEY, code: codeAt(NOW), timestamp: NOW };
  if (r < 14) return { account, secret: KEY, code: codeAt(NOW - P), timestamp: NOW };
  if (r < 18) return { account, secret: KEY, code: codeAt(NOW + P) };
  if (r < 20) return { account, secret: KEY, code: '12a456', timestamp: NOW };
  if (r < 21) return { account, secret: KEY, code: codeAt(NOW), timestamp: NOW + 10 * P }; // too far: malformed
  return { account, secret: KEY, code: wrong(codeAt(NOW), k), timestamp: NOW };
}

/** N requests of one account: its right codes first appear after some wrong ones. */
function oneAccount(n: number): VerifyRequest[] {
  const rng = new Prng(SEED);
  const requests: VerifyRequest[] = [];
  for (let k = 0; k < 20; k++) requests.push({ account: 'solo', secret: KEY, code: wrong(codeAt(NOW), k), timestamp: NOW });
  // The window's older step, then its own: both valid (the next step's code comes later).
  requests.push({ account: 'solo', secret: KEY, code: codeAt(NOW - P), timestamp: NOW });
  requests.push({ account: 'solo', secret: KEY, code: codeAt(NOW), timestamp: NOW });
  while (requests.length < n) requests.push(mixed('solo', rng, requests.length));
  return requests;
}

/** N requests: three accounts repeated thousands of times among thousands named once, and a few without an account. */
function hotAmongCold(n: number): VerifyRequest[] {
  const rng = new Prng(SEED + 1);
  const requests: VerifyRequest[] = [];
  const hot = Math.floor(n / 5);
  for (let h = 0; h < 3; h++) for (let k = 0; k < hot; k++) requests.push(mixed(`hot-${h}`, rng, k));
  for (let k = 0; requests.length < n - 50; k++) requests.push({ account: `cold-${k}`, secret: KEY, code: codeAt(NOW), timestamp: NOW });
  while (requests.length < n) requests.push({ secret: KEY, code: codeAt(NOW), timestamp: NOW });
  // Fisher–Yates, seeded.
  for (let i = requests.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [requests[i], requests[j]] = [requests[j]!, requests[i]!];
  }
  return requests;
}

async function withVerifier<T>(opts: VerifierOptions, store: Store, fn: (v: TotpVerifier) => Promise<T>): Promise<T> {
  const v = await TotpVerifier.create({ ...opts, store, now: () => NOW, policy: POLICY });
  try {
    return await fn(v);
  } finally {
    await v.close();
    await store.close();
  }
}

/** The reference: the same requests verified one by one, in order, each waited for. */
function oneByOne(requests: readonly VerifyRequest[]): Promise<VerifyResult[]> {
  return withVerifier({ threads: 0 }, new MemoryStore({ now: () => NOW }), async (v) => {
    const results: VerifyResult[] = [];
    for (const r of requests) results.push((await v.verifyBatch([r]))[0]!);
    return results;
  });
}

/** Checks `got` against the reference item for item, and at most one valid per (account, step). */
function expectSequential(requests: readonly VerifyRequest[], got: readonly VerifyResult[], want: readonly VerifyResult[]): void {
  expect(got.length).toBe(requests.length);
  let unanswered = 0;
  for (let i = 0; i < got.length; i++) if (got[i] === undefined) unanswered++;
  expect(unanswered).toBe(0);
  // retryAfterMs counts down by the store's clock (Redis's own: not the fixed one).
  const same = (a: VerifyResult, b: VerifyResult | undefined): boolean =>
    a.status === 'locked' ? b?.status === 'locked' && (a.retryAfterMs ?? 0) > 0 : JSON.stringify(a) === JSON.stringify(b);
  const differs = got.findIndex((r, i) => !same(r, want[i]));
  expect(differs === -1 ? undefined : { index: differs, got: got[differs], want: want[differs] }).toBeUndefined();
  const valid = new Map<string, number>();
  for (let i = 0; i < got.length; i++) {
    const r = got[i]!;
    if (r.status !== 'valid' || requests[i]!.account === undefined) continue;
    const key = `${requests[i]!.account}/${r.step}`;
    valid.set(key, (valid.get(key) ?? 0) + 1);
  }
  expect([...valid.values()].filter((c) => c > 1)).toEqual([]);
}

const N = 20_000;
const verifiers: { name: string; opts: VerifierOptions; store: () => Store; n: number }[] = [
  { name: 'inline, MemoryStore', opts: { threads: 0 }, store: () => new MemoryStore({ now: () => NOW }), n: N },
  { name: 'worker pool, MemoryStore', opts: { threads: 2, inlineThreshold: 0 }, store: () => new MemoryStore({ now: () => NOW }), n: N },
];
// Every round waits for Redis: fewer of them.
if (redisOk) verifiers.push({ name: 'inline, RedisStore', opts: { threads: 0 }, store: () => new RedisStore({ url: REDIS_URL, prefix: `${prefix}${verifiers.length}:` }), n: 2000 });

describe.each(verifiers)('a batch naming accounts many times ($name)', ({ opts, store, n }) => {
  it(`${n} requests of one account (seed ${SEED}): as if one by one`, async () => {
    const requests = oneAccount(n);
    const want = await oneByOne(requests);
    // The reference itself: each of the window's three steps accepted once, and the rest refused.
    expect(want.filter((r) => r.status === 'valid').map((r) => r.status === 'valid' && r.delta).sort()).toEqual([-1, 0, 1]);
    expect(new Set(want.map((r) => r.status))).toEqual(new Set(['valid', 'invalid', 'replayed', 'locked', 'malformed']));
    const got = await withVerifier(opts, store(), async (v) => {
      const results = await v.verifyBatch(requests);
      expect(v.stats().pool.inFlight).toBe(0);
      return results;
    });
    expectSequential(requests, got, want);
  }, 120_000);

  it(`${n} requests: three accounts repeated many times among many named once (seed ${SEED})`, async () => {
    const requests = hotAmongCold(n);
    const want = await oneByOne(requests);
    const got = await withVerifier(opts, store(), (v) => v.verifyBatch(requests));
    expectSequential(requests, got, want);
  }, 120_000);
});

describe('a request put off to a later round', () => {
  it('has each field read once, however many rounds it waits', async () => {
    const reads = new Map<string, number>();
    /** A request whose fields count their reads. */
    const counted = (k: number, code: string): VerifyRequest => {
      const fields = { account: 'getters', secret: KEY, code, timestamp: NOW };
      const req = {};
      for (const [name, value] of Object.entries(fields)) {
        Object.defineProperty(req, name, { enumerable: true, get: () => {
          reads.set(`${k}.${name}`, (reads.get(`${k}.${name}`) ?? 0) + 1);
          return value;
        } });
      }
      return req as VerifyRequest;
    };
    const code = codeAt(NOW);
    const requests = [counted(0, wrong(code, 0)), counted(1, code), counted(2, code), counted(3, codeAt(NOW + P))];
    for (const threads of [0, 2]) {
      reads.clear();
      const results = await withVerifier({ threads, inlineThreshold: 0 }, new MemoryStore({ now: () => NOW }), (v) => v.verifyBatch(requests));
      expect(results.map((r) => r.status)).toEqual(['invalid', 'valid', 'replayed', 'valid']);
      expect([...reads.values()]).toEqual(new Array(16).fill(1));
    }
  });

  it('is answered by close(), and the batch\'s admission is given back', async () => {
    const requests = oneAccount(3000);
    const want = await oneByOne(requests);
    const store = new MemoryStore({ now: () => NOW });
    const v = await TotpVerifier.create({ threads: 2, inlineThreshold: 0, store, now: () => NOW, policy: POLICY });
    const running = v.verifyBatch(requests);
    await v.close();
    const got = await running;
    expectSequential(requests, got, want);
    expect(v.stats().pool.inFlight).toBe(0);
    await store.close();
  }, 120_000);
});
