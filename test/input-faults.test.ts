// Hostile inputs that change between reads or lie about themselves (SECURITY.md R1, R5, R12):
// raw-byte secrets whose `length` lies (a Uint8Array is extensible, so `length` can be redefined
// on the instance or overridden in a subclass without throwing: the checks use the real length);
// a secret read twice by a getter; a requests array whose length changes between reads; a
// buffer that shrinks after its check (importKeys, HotpVerifier.resync); an account with a lone
// surrogate on RedisStore; and R5 with a real same-code pair of steps. All but the R5 case
// failed on the code before their fixes (2026-11-24).

import { afterAll, describe, expect, it } from 'vitest';
import { base32, hotp, HotpVerifier, otpauth, totp, TotpVerifier } from '../src/index.js';
import { TS } from './helpers/fixtures.js';
import { Prng } from './helpers/prng.js';
import { RedisStore } from '../src/store/redis.js';
import { REDIS_URL, deleteKeys, haveRedis, testPrefix } from './helpers/redis.js';
import { CODE, KEY } from './helpers/fixtures.js';

const SHORT = new Prng(99).bytes(10); // a legacy 10-byte secret
const SHORT_CODE = totp.generate(SHORT, { timestamp: TS, minSecretBytes: 10 });

/** SHORT, claiming to be 16 bytes long (HMAC pads a key with zeros, so 10 + 6 zeros is SHORT). */
function lyingOwn(): Uint8Array {
  const a = SHORT.slice();
  Object.defineProperty(a, 'length', { value: 16 });
  return a;
}
class LongerThanItIs extends Uint8Array {
  override get length(): number {
    return 16;
  }
}
function lyingSubclass(): Uint8Array {
  const a = new LongerThanItIs(10);
  a.set(SHORT);
  return a;
}

const verifiers: Record<string, Promise<TotpVerifier>> = {
  inline: TotpVerifier.create({ threads: 0, keyCacheSize: 0 }),
  'worker pool': TotpVerifier.create({ threads: 2, inlineThreshold: 0 }),
};
afterAll(async () => {
  await Promise.all(Object.values(verifiers).map(async (v) => (await v).close()));
});

describe('a 10-byte secret whose length claims 16 bytes (R1: no short secret without opt-in)', () => {
  for (const [kind, make] of [['an own length property', lyingOwn], ['a subclass length getter', lyingSubclass]] as const) {
    for (const name of Object.keys(verifiers)) {
      it(`${kind}: not accepted by verifyBatch (${name})`, async () => {
        const v = await verifiers[name]!;
        const [r] = await v.verifyBatch([{ secret: make(), code: SHORT_CODE, timestamp: TS }]);
        expect(r!.status).toBe('malformed');
      });
    }
    it(`${kind}: refused by totp.generate`, () => {
      expect(() => totp.generate(make(), { timestamp: TS })).toThrow();
    });
    it(`${kind}: refused by importKey`, async () => {
      const v = await verifiers.inline!;
      expect(() => v.importKey(make())).toThrow();
    });
  }
});

describe('a secret read twice (a getter answering raw bytes, then text)', () => {
  const RAW = new Prng(98).bytes(20);
  /** An object whose `key` is the caller's raw bytes on the first read and base32 text afterwards. */
  function flipping<T extends object>(target: T, key: PropertyKey, raw: Uint8Array): T {
    let reads = 0;
    Object.defineProperty(target, key, { enumerable: true, get: () => (reads++ === 0 ? raw : 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ') });
    return target;
  }

  it('importKeys leaves the caller\'s bytes alone', async () => {
    const v = await verifiers.inline!;
    const raw = RAW.slice();
    v.importKeys(flipping([] as Uint8Array[], 0, raw));
    expect(raw).toEqual(RAW);
  });

  it('otpauth.build leaves the caller\'s bytes alone', () => {
    const raw = RAW.slice();
    otpauth.build(flipping({ account: 'alice', issuer: 'Example' } as { account: string; issuer: string; secret: Uint8Array }, 'secret', raw));
    expect(raw).toEqual(RAW);
  });
});

describe('R5: two steps of the window with the same code (RFC secret, steps 57766335 and 57766336: 251166)', () => {
  const RFC = new TextEncoder().encode('12345678901234567890');
  const T = 57_766_335;
  const AT_T = T * 30_000 + 1_000;
  it('the codes really are equal', () => {
    expect(totp.generate(RFC, { timestamp: AT_T, minSecretBytes: 16 })).toBe('251166');
    expect(totp.generate(RFC, { timestamp: AT_T + 30_000 })).toBe('251166');
  });
  for (const [name, threads] of [['inline', 0], ['worker pool', 2]] as const) {
    it(`once step T is used, the same code at time T is step T+1 (valid, delta +1), not replayed (${name})`, async () => {
      const v = await TotpVerifier.create({ threads, inlineThreshold: 0, now: () => AT_T });
      try {
        const req = { account: 'r5', secret: RFC, code: '251166', timestamp: AT_T };
        expect(await v.verify(req)).toMatchObject({ status: 'valid', delta: 0, step: T });
        expect(await v.verify(req)).toMatchObject({ status: 'valid', delta: 1, step: T + 1 });
        expect(await v.verify(req)).toMatchObject({ status: 'replayed' });
        // And from the step before: T-1's code differs, T and T+1 are both used now.
        expect(await v.verify({ ...req, timestamp: AT_T + 30_000 })).toMatchObject({ status: 'replayed' });
        // In one batch: the repeat is put off to a next round, and finds T+1.
        const again = { ...req, account: 'r5-batch' };
        expect(await v.verifyBatch([again, again, again])).toMatchObject([
          { status: 'valid', delta: 0, step: T }, { status: 'valid', delta: 1, step: T + 1 }, { status: 'replayed' },
        ]);
      } finally {
        await v.close();
      }
    });
  }
});

describe('a requests array whose length changes between reads (a Proxy: Array.isArray is true)', () => {
  const VALID = { secret: RFC_KEY(), code: '', timestamp: 0 };
  function RFC_KEY(): Uint8Array {
    return new TextEncoder().encode('12345678901234567890');
  }
  VALID.timestamp = 59_000;
  VALID.code = totp.generate(VALID.secret, { timestamp: 59_000 });
  /** [VALID × 3] whose `length` answers `first` on its first read and `later` afterwards. */
  function shifting(first: number, later: number): { requests: typeof VALID[]; reads: () => number } {
    let reads = 0;
    const requests = new Proxy([VALID, VALID, VALID], {
      get: (t, k, r) => (k === 'length' ? (reads++ === 0 ? first : later) : Reflect.get(t, k, r)),
    });
    return { requests, reads: () => reads };
  }
  for (const store of [null, undefined] as const) {
    const name = store === null ? 'no store' : 'MemoryStore';
    it(`every position of the length first read is answered, and no other (${name}, shrinking)`, async () => {
      const v = await TotpVerifier.create({ threads: 0, store });
      try {
        const { requests } = shifting(3, 1);
        const results = await v.verifyBatch(requests);
        expect(results).toHaveLength(3);
        for (let i = 0; i < 3; i++) expect(results[i]?.status, `results[${i}]`).toBe('valid');
      } finally {
        await v.close();
      }
    });
    it(`a batch admitted as one request is run as one (${name}, growing)`, async () => {
      const v = await TotpVerifier.create({ threads: 0, store });
      try {
        const { requests } = shifting(1, 3);
        const results = await v.verifyBatch(requests);
        expect(results).toHaveLength(1);
        expect(results[0]!.status).toBe('valid');
      } finally {
        await v.close();
      }
    });
  }
});

describe('a requests array whose length is not an array length (a Proxy)', () => {
  // verifyBatch returns a promise: it rejects, it never throws (an `await` in a try would
  // catch either, but `.catch()` or `.then(ok, fail)` on its result would not see a throw).
  const lengths: [string, () => unknown][] = [
    ['-1', () => -1], ['1.5', () => 1.5], ['2^32', () => 2 ** 32], ['NaN', () => Number.NaN], ['a throwing getter', () => { throw new Error('length trap'); }],
  ];
  for (const [name, length] of lengths) {
    it(`${name}: a rejection, not a synchronous throw; nothing stays admitted`, async () => {
      const v = await TotpVerifier.create({ threads: 0, store: null });
      try {
        const requests = new Proxy([], { get: (t, k, r) => (k === 'length' ? length() : Reflect.get(t, k, r)) });
        let pending: Promise<unknown> | undefined;
        expect(() => { pending = v.verifyBatch(requests); }).not.toThrow();
        await expect(pending).rejects.toThrow();
        expect(v.stats().pool.inFlight).toBe(0);
      } finally {
        await v.close();
      }
    });
  }
});

/**
 * 16 random bytes (seeded) in a resizable ArrayBuffer, and a length-tracking view of them whose
 * length follows the buffer's. (Resizable buffers are ES2024; the project's lib is older.)
 */
function resizableSecret(seed: number): { buffer: { resize(bytes: number): void }; tracking: Uint8Array } {
  type Resizable = ArrayBuffer & { resize(bytes: number): void };
  const buffer = new (ArrayBuffer as unknown as new (bytes: number, o: { maxByteLength: number }) => Resizable)(16, { maxByteLength: 16 });
  const tracking = new Uint8Array(buffer);
  tracking.set(new Prng(seed).bytes(16));
  return { buffer, tracking };
}

describe('importKeys: a secret whose buffer shrinks after it was checked (a resizable ArrayBuffer)', () => {
  it('a 16-byte secret that is 10 bytes by the time it is derived is not imported without opt-in', async () => {
    const v = await TotpVerifier.create({ threads: 0 });
    try {
      const { buffer, tracking } = resizableSecret(97);
      const secrets: Uint8Array[] = [tracking];
      Object.defineProperty(secrets, 1, { enumerable: true, get: () => { buffer.resize(10); return new Prng(96).bytes(20); } });
      expect(() => v.importKeys(secrets)).toThrow();
      expect(v.stats().keyHandles).toBe(0);
    } finally {
      await v.close();
    }
  });
});

describe('HotpVerifier.resync: a raw secret changed while the store is asked (it is read after an await)', () => {
  it('a 16-byte secret shrunk to 10 bytes during the await is not used without opt-in', async () => {
    const v = await HotpVerifier.create({ threads: 0 });
    try {
      const { buffer, tracking } = resizableSecret(95);
      const short = tracking.slice(0, 10);
      // Codes of the 10-byte key at counters 20 and 21 (past lookAhead, within resyncWindow).
      const [c1, c2] = [20, 21].map((c) => hotp.generate(short, c, { minSecretBytes: 10 }));
      const pending = v.resync('token', tracking, c1!, c2!);
      buffer.resize(10); // before the store answers
      expect((await pending).status).not.toBe('valid');
    } finally {
      await v.close();
    }
  });
});

const redisOk = await haveRedis('input faults: accounts with lone surrogates on RedisStore');
describe.skipIf(!redisOk)('accounts that are not well-formed UTF-16 (RedisStore keys are UTF-8: lone surrogates become U+FFFD)', () => {
  const prefix = testPrefix();
  afterAll(async () => {
    await deleteKeys(prefix);
  });
  it('two different accounts never share one credential (no false replayed, no shared lockout)', async () => {
    const store = new RedisStore({ url: REDIS_URL, prefix });
    const v = await TotpVerifier.create({ threads: 0, store });
    try {
      const a = await v.verify({ account: 'x\uD800', secret: KEY, code: CODE, timestamp: TS });
      const b = await v.verify({ account: 'x\uDC00', secret: KEY, code: CODE, timestamp: TS });
      expect(a.status).not.toBe('replayed');
      expect(b.status).toBe(a.status);
    } finally {
      await v.close();
      await store.close();
    }
  });
});

describe('a request getter that uses the shared inline core while its batch is packed there', () => {
  // An inline batch packs its first chunk straight into the inline core; a getter read after some
  // items are packed (a `code` computed lazily with totp.generate, a nested verifyBatch) used the
  // same core and overwrote or wiped them: correct codes came back 'error', or 'invalid' (counted
  // as a failed guess with an account). Those items must move out of the core first.
  const secrets = Array.from({ length: 6 }, (_, i) => new Prng(500 + i).bytes(20));
  const now = Date.now();
  const codeOf = (key: Uint8Array): string => totp.generate(key, { timestamp: now });
  const kinds = ['raw', 'base32', 'handle'] as const;
  for (const store of [null, undefined] as const) {
    for (const kind of kinds) {
      it(`totp.generate in a code getter (${kind}, ${store === null ? 'no store' : 'MemoryStore'})`, async () => {
        const v = await TotpVerifier.create({ threads: 0, store });
        try {
          const secretOf = (key: Uint8Array): Uint8Array | string | ReturnType<TotpVerifier['importKey']> =>
            kind === 'raw' ? key.slice() : kind === 'base32' ? base32.encode(key) : v.importKey(key);
          const lazy = (key: Uint8Array, i: number, wrong: boolean): object => {
            const r = { secret: secretOf(key), timestamp: now, account: store === null ? undefined : `lazy-${kind}-${wrong}-${i}` };
            return Object.defineProperty(r, 'code', { enumerable: true, get: () => (wrong ? (codeOf(key), '000000') : codeOf(key)) });
          };
          const right = await v.verifyBatch(secrets.map((k, i) => lazy(k, i, false)) as never);
          expect(right.map((r) => r.status)).toEqual(secrets.map(() => 'valid'));
          const wrong = await v.verifyBatch(secrets.map((k, i) => lazy(k, i, true)) as never);
          expect(wrong.map((r) => r.status)).toEqual(secrets.map(() => 'invalid'));
        } finally {
          await v.close();
        }
      });
    }
  }

  it('a nested verifyBatch in a code getter', async () => {
    const v = await TotpVerifier.create({ threads: 0, store: null });
    const inner = await TotpVerifier.create({ threads: 0, store: null });
    try {
      const handles = secrets.map((k) => v.importKey(k));
      const nested: Promise<unknown>[] = [];
      const requests = secrets.map((k, i) => Object.defineProperty({ secret: handles[i]!, timestamp: now }, 'code', {
        enumerable: true,
        get: () => {
          nested.push(inner.verifyBatch([{ secret: k, code: codeOf(k), timestamp: now }]));
          return codeOf(k);
        },
      }));
      expect((await v.verifyBatch(requests as never)).map((r) => r.status)).toEqual(secrets.map(() => 'valid'));
      expect(((await Promise.all(nested)) as { status: string }[][]).map((r) => r[0]!.status)).toEqual(secrets.map(() => 'valid'));
    } finally {
      await v.close();
      await inner.close();
    }
  });
});
