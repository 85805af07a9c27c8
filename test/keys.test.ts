// Key cache and key handles: midstates reused, never confused between secrets.

import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { base32, KeyHandle, TotpVerifier, totp, type VerifyRequest } from '../src/index.js';

const TS = 1_700_000_000_000;
const open: TotpVerifier[] = [];
async function verifier(opts: Parameters<typeof TotpVerifier.create>[0]): Promise<TotpVerifier> {
  const v = await TotpVerifier.create({ threads: 0, ...opts });
  open.push(v);
  return v;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((v) => v.close()));
});

function requestsFor(secrets: (Uint8Array | string)[], rounds: number): VerifyRequest[] {
  const reqs: VerifyRequest[] = [];
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < secrets.length; i++) {
      const secret = secrets[(i * 7 + r * 13) % secrets.length]!;
      const delta = ((i + r) % 5) - 2;
      const valid = (i + r) % 4 !== 0;
      const code = valid
        ? totp.generate(secret, { timestamp: TS + delta * 30_000 })
        : String((i * 7919 + r) % 1_000_000).padStart(6, '0');
      reqs.push({ secret, code, timestamp: TS });
    }
  }
  return reqs;
}

describe('key cache', () => {
  it('stays correct under heavy eviction (8 slots, 300 secrets, mixed spellings)', async () => {
    const raw = Array.from({ length: 200 }, () => randomBytes(20) as Uint8Array);
    const secrets: (Uint8Array | string)[] = [...raw, ...raw.slice(0, 100).map((b) => base32.encode(b).toLowerCase())];
    const reqs = requestsFor(secrets, 4);
    const uncached = await verifier({ keyCacheSize: 0 });
    const tiny = await verifier({ keyCacheSize: 8 });
    const want = await uncached.verifyBatch(reqs);
    // In batches of various sizes, so entries are evicted between and within batches.
    const got = [];
    for (let i = 0; i < reqs.length; i += 97) got.push(...(await tiny.verifyBatch(reqs.slice(i, i + 97))));
    expect(got).toEqual(want);
    // 3 in 4 carry a code 2..-2 steps off, and window 1 accepts 3 of those 5 offsets.
    expect(want.filter((r) => r.status === 'valid').length).toBeGreaterThan(reqs.length / 3);
    expect(want.filter((r) => r.status === 'invalid').length).toBeGreaterThan(reqs.length / 3);
    const stats = tiny.stats().keyCache;
    expect(stats.size).toBeLessThanOrEqual(8);
    expect(stats.evictions).toBeGreaterThan(100);
    expect(stats.hits).toBeGreaterThan(0);
  });

  it('derives a base32 secret repeated within one batch once, and hits afterwards', async () => {
    const secret = base32.encode(randomBytes(20));
    const v = await verifier({});
    const code = totp.generate(secret, { timestamp: TS });
    const reqs = Array.from({ length: 50 }, () => ({ secret, code, timestamp: TS }));
    expect((await v.verifyBatch(reqs)).every((r) => r.status === 'valid')).toBe(true);
    expect(v.stats().keyCache).toMatchObject({ size: 1, misses: 50 });
    await v.verifyBatch(reqs);
    expect(v.stats().keyCache).toMatchObject({ size: 1, hits: 50 });
  });

  it('does not cache raw-byte secrets (they are derived per batch)', async () => {
    const secret = randomBytes(20);
    const v = await verifier({});
    const code = totp.generate(secret, { timestamp: TS });
    expect(await v.verify({ secret, code, timestamp: TS })).toMatchObject({ status: 'valid' });
    expect(v.stats().keyCache).toMatchObject({ size: 0, hits: 0, misses: 0 });
  });

  it('never caches a secret it refused, and applies each verifier its own rules', async () => {
    const short = base32.encode(randomBytes(10));
    const code = totp.generate(short, { timestamp: TS, minSecretBytes: 10 });
    const strict = await verifier({});
    const legacy = await verifier({ minSecretBytes: 10 });
    for (let i = 0; i < 2; i++) {
      expect(await strict.verify({ secret: short, code, timestamp: TS })).toEqual({ status: 'malformed', reason: 'secret-length' });
      expect(await legacy.verify({ secret: short, code, timestamp: TS })).toMatchObject({ status: 'valid' });
    }
    expect(strict.stats().keyCache.size).toBe(0);
  });

  it('keeps secrets that differ in one byte apart', async () => {
    const bytes = randomBytes(20);
    const a = base32.encode(bytes);
    bytes[19]! ^= 1;
    const b = base32.encode(bytes);
    const v = await verifier({});
    const codeA = totp.generate(a, { timestamp: TS });
    const [ra, rb] = await v.verifyBatch([
      { secret: a, code: codeA, timestamp: TS },
      { secret: b, code: codeA, timestamp: TS },
    ]);
    expect(ra!.status).toBe('valid');
    expect(rb!.status).toBe(totp.generate(b, { timestamp: TS }) === codeA ? 'valid' : 'invalid');
  });
});

describe('key handles', () => {
  it('verify like the secret they were made from', async () => {
    const secrets = Array.from({ length: 100 }, () => randomBytes(20) as Uint8Array);
    const v = await verifier({ keyCacheSize: 0 });
    const handles = secrets.map((s) => v.importKey(s));
    const bySecret = requestsFor(secrets, 2);
    const byHandle = bySecret.map((r) => ({ ...r, secret: handles[secrets.indexOf(r.secret as Uint8Array)]! }));
    expect(await v.verifyBatch(byHandle)).toEqual(await v.verifyBatch(bySecret));
    expect(v.stats().keyHandles).toBe(100);
    expect(JSON.stringify({ secret: handles[0] })).toBe('{"secret":"[KeyHandle]"}');
  });

  it('are refused after release, and by another verifier', async () => {
    const secret = randomBytes(20);
    const code = totp.generate(secret, { timestamp: TS });
    const v = await verifier({});
    const other = await verifier({});
    const h = v.importKey(secret);
    expect(KeyHandle.is(h)).toBe(true);
    expect(KeyHandle.is({})).toBe(false);
    expect(await other.verify({ secret: h, code, timestamp: TS })).toEqual({ status: 'malformed', reason: 'secret-handle' });
    expect(await v.verify({ secret: h, code, timestamp: TS })).toMatchObject({ status: 'valid' });
    v.releaseKey(h);
    v.releaseKey(h);
    expect(await v.verify({ secret: h, code, timestamp: TS })).toEqual({ status: 'malformed', reason: 'secret-handle' });
    // A released slot is reused; the old handle still does not reach the new key.
    const h2 = v.importKey(randomBytes(20));
    expect(await v.verify({ secret: h, code, timestamp: TS })).toEqual({ status: 'malformed', reason: 'secret-handle' });
    expect(v.stats().keyHandles).toBe(1);
    void h2;
  });

  it('KeyHandle.release (public on the exported class) releases as releaseKey does, not half', async () => {
    // It only marked the handle released: its midstates stayed unzeroed in the slab, its slot
    // was never reused, and stats() counted it live until close.
    const secret = randomBytes(20);
    const code = totp.generate(secret, { timestamp: TS });
    const v = await verifier({});
    const h = v.importKey(secret);
    expect(v.stats().keyHandles).toBe(1);
    KeyHandle.release(h);
    KeyHandle.release(h);
    expect(v.stats().keyHandles).toBe(0);
    expect(await v.verify({ secret: h, code, timestamp: TS })).toEqual({ status: 'malformed', reason: 'secret-handle' });
    const h2 = v.importKey(randomBytes(20));
    expect(v.stats().keyHandles).toBe(1);
    v.releaseKey(h);
    expect(v.stats().keyHandles).toBe(1);
    expect(() => KeyHandle.release({} as KeyHandle)).not.toThrow();
    void h2;
  });

  it('importKey refuses a bad secret without echoing it', async () => {
    const v = await verifier({});
    expect(() => v.importKey('NOT*BASE32')).toThrow(TypeError);
    expect(() => v.importKey(randomBytes(8))).toThrow(RangeError);
    try {
      v.importKey('SECRETLOOKINGTEXT1');
    } catch (error) {
      expect((error as Error).message).not.toContain('SECRETLOOKINGTEXT1');
    }
  });
});

describe('legacy secrets (under 16 bytes, accepted only with minSecretBytes lowered) are flagged for rotation', () => {
  const short = randomBytes(10);
  const shortText = base32.encode(short);
  const long = randomBytes(20);

  it('on valid and invalid results, through raw bytes, base32 (cache miss and hit) and handles', async () => {
    const v = await verifier({ minSecretBytes: 10 });
    const [shortHandle, longHandle] = v.importKeys([short, long]);
    const good = totp.generate(short, { timestamp: TS, minSecretBytes: 10 });
    const longGood = totp.generate(long, { timestamp: TS });
    const bad = good === '000000' ? '000001' : '000000';
    for (let round = 0; round < 2; round++) { // the second round hits the key cache
      const results = await v.verifyBatch([
        { secret: short, code: good, timestamp: TS },
        { secret: shortText, code: good, timestamp: TS },
        { secret: shortHandle!, code: good, timestamp: TS },
        { secret: shortText, code: bad, timestamp: TS },
        { secret: long, code: longGood, timestamp: TS },
        { secret: base32.encode(long), code: longGood, timestamp: TS },
        { secret: longHandle!, code: longGood, timestamp: TS },
        { secret: shortText, code: 'x', timestamp: TS },
      ]);
      expect(results.map((r) => [r.status, r.rotate])).toEqual([
        ['valid', true], ['valid', true], ['valid', true], ['invalid', true],
        ['valid', undefined], ['valid', undefined], ['valid', undefined], ['malformed', undefined],
      ]);
    }
    expect(v.stats().keyCache.hits).toBeGreaterThan(0);
  });

  it('through the policy layer too: valid, then replayed, both flagged', async () => {
    const v = await verifier({ minSecretBytes: 10, now: () => TS });
    const code = totp.generate(short, { timestamp: TS, minSecretBytes: 10 });
    const first = await v.verify({ account: 'legacy-user', secret: short, code, timestamp: TS });
    const again = await v.verify({ account: 'legacy-user', secret: short, code, timestamp: TS });
    expect([first.status, first.rotate, again.status, again.rotate]).toEqual(['valid', true, 'replayed', true]);
    const other = await v.verify({ account: 'modern-user', secret: long, code: totp.generate(long, { timestamp: TS }), timestamp: TS });
    expect([other.status, other.rotate]).toEqual(['valid', undefined]);
  });

  it('never on a verifier with the default minSecretBytes (short secrets are malformed there)', async () => {
    const v = await verifier({});
    const code = totp.generate(long, { timestamp: TS });
    expect(await v.verify({ secret: long, code, timestamp: TS })).toEqual({ status: 'valid', delta: 0, step: Math.floor(TS / 30_000) });
    expect(await v.verify({ secret: short, code, timestamp: TS })).toEqual({ status: 'malformed', reason: 'secret-length' });
  });
});
