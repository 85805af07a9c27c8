// Backup codes on MemoryStore and RedisStore alike: shown once, kept as salted hashes, each
// used once (also under concurrency), counted toward the account's TOTP failure limit,
// replaced by a new set, revoked.

import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TotpVerifier, totp, type Store } from '../src/index.js';
import { canonicalBackupCode } from '../src/backup.js';
import { REDIS_URL, storeSubjects } from './helpers/redis.js';

const SECRET = new TextEncoder().encode('12345678901234567890');
const NOW = 1_700_000_000_000;
const CODE_SHAPE = /^[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}$/;

const subjects = await storeSubjects('backup codes on RedisStore');

let n = 0;
const fresh = (): string => `backup-${process.pid}-${++n}@example.com`;

describe.each(subjects)('backup codes on $name', ({ name, prefix, make }) => {
  let store: Store;
  let v: TotpVerifier;
  beforeAll(async () => {
    store = make();
    v = await TotpVerifier.create({ store, threads: 0, policy: { maxFailures: 3 }, now: () => NOW });
  });
  afterAll(async () => {
    await v.close();
    await store.close();
  });
  const totpAt = (account: string, ms: number, right = true) => {
    const good = totp.generate(SECRET, { timestamp: ms });
    const code = right ? good : String((Number(good) + 1) % 1e6).padStart(6, '0');
    return v.verify({ account, secret: SECRET, code, timestamp: ms });
  };

  it('a set of distinct 50-bit codes, each valid exactly once', async () => {
    const a = fresh();
    const codes = await v.backupCodes.generate(a);
    expect(v.backupCodes.bits).toBe(50);
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const c of codes) expect(c).toMatch(CODE_SHAPE);
    expect(await v.backupCodes.remaining(a)).toBe(10);
    expect(await v.backupCodes.verify(a, codes[0]!)).toEqual({ status: 'valid', remaining: 9 });
    expect(await v.backupCodes.verify(a, codes[0]!)).toEqual({ status: 'invalid' });
    expect(await v.backupCodes.verify(a, codes[1]!)).toEqual({ status: 'valid', remaining: 8 });
  });

  it('typing is forgiving (case, spaces, hyphens, o/i/l), and a used code in another spelling is still used', async () => {
    const a = fresh();
    const [c] = await v.backupCodes.generate(a, { count: 1 });
    const typed = c!.toUpperCase().replace('-', ' ').replace(/0/g, 'O').replace(/1/g, 'l');
    expect(await v.backupCodes.verify(a, typed)).toEqual({ status: 'valid', remaining: 0 });
    expect((await v.backupCodes.verify(a, c!)).status).toBe('invalid');
    expect((await v.backupCodes.verify(a, c!.replace('-', ''))).status).toBe('invalid');
  });

  it('wrong backup codes count toward the TOTP failure limit; the lock refuses both', async () => {
    const a = fresh();
    const codes = await v.backupCodes.generate(a);
    expect(await v.backupCodes.verify(a, 'zzzzz-zzzzz')).toEqual({ status: 'invalid' });
    expect((await totpAt(a, NOW, false)).status).toBe('invalid');
    expect(await v.backupCodes.verify(a, 'yyyyy-yyyyy')).toEqual({ status: 'invalid' }); // the third: locks
    expect(await v.backupCodes.verify(a, codes[0]!)).toMatchObject({ status: 'locked' });
    expect(await totpAt(a, NOW)).toMatchObject({ status: 'locked' });
    expect(await v.backupCodes.remaining(a)).toBe(10); // a locked attempt consumes nothing
  });

  it('a backup code resets the failures, like a TOTP success', async () => {
    const a = fresh();
    const codes = await v.backupCodes.generate(a);
    expect((await totpAt(a, NOW, false)).status).toBe('invalid');
    expect((await totpAt(a, NOW, false)).status).toBe('invalid');
    expect((await v.backupCodes.verify(a, codes[0]!)).status).toBe('valid');
    expect((await totpAt(a, NOW, false)).status).toBe('invalid');
    expect((await totpAt(a, NOW, false)).status).toBe('invalid');
    expect((await totpAt(a, NOW)).status).toBe('valid');
  });

  it('regenerating replaces the set; revoking deletes it; no set: invalid, counted', async () => {
    const a = fresh();
    const old = await v.backupCodes.generate(a);
    const now = await v.backupCodes.generate(a, { count: 3 });
    expect((await v.backupCodes.verify(a, old[0]!)).status).toBe('invalid');
    expect(await v.backupCodes.verify(a, now[0]!)).toEqual({ status: 'valid', remaining: 2 });
    await v.backupCodes.revoke(a);
    expect(await v.backupCodes.remaining(a)).toBe(0);
    expect((await v.backupCodes.verify(a, now[1]!)).status).toBe('invalid');
    expect((await v.backupCodes.verify(a, now[2]!)).status).toBe('invalid');
    expect((await v.backupCodes.verify(a, now[2]!)).status).toBe('invalid'); // the third failure since the success: locks
    expect((await v.backupCodes.verify(a, now[2]!)).status).toBe('locked');
  });

  it('malformed input is answered, not counted', async () => {
    const a = fresh();
    const codes = await v.backupCodes.generate(a);
    for (const bad of ['', 'abc', 'uuuuu-uuuuu', 'k3v9q_7xw2m', 123 as never, 'x'.repeat(41), '１２３４５-６７８９０']) {
      expect(await v.backupCodes.verify(a, bad)).toEqual({ status: 'malformed', reason: 'code' });
    }
    expect(await v.backupCodes.verify('', codes[0]!)).toEqual({ status: 'malformed', reason: 'account' });
    expect((await v.backupCodes.verify(a, codes[0]!)).status).toBe('valid');
  });

  it('30 concurrent submissions of one code: exactly one valid', async () => {
    const a = fresh();
    const [c] = await v.backupCodes.generate(a, { count: 2 });
    const verifier = await TotpVerifier.create({ store, threads: 0, policy: { maxFailures: 100 } });
    try {
      const results = await Promise.all(Array.from({ length: 30 }, () => verifier.backupCodes.verify(a, c!)));
      expect(results.filter((r) => r.status === 'valid')).toEqual([{ status: 'valid', remaining: 1 }]);
      expect(results.filter((r) => r.status === 'invalid')).toHaveLength(29);
    } finally {
      await verifier.close();
    }
  });

  // Redis only: what lies in the key (a MemoryStore's set is not reachable from outside).
  if (name === 'RedisStore') it('Redis keeps salted hashes only, on the account\'s slot, with a TTL', async () => {
    const a = fresh();
    const codes = await v.backupCodes.generate(a);
    const redis = new Redis(REDIS_URL);
    try {
      const key = `${prefix}{cred:${a}}:backup`;
      const fields = await redis.hgetall(key);
      const text = JSON.stringify(fields);
      for (const c of codes) {
        expect(text).not.toContain(c);
        expect(text).not.toContain(canonicalBackupCode(c)!);
      }
      expect(Object.keys(fields).filter((f) => /^c:[0-9a-f]{64}$/.test(f))).toHaveLength(10);
      expect(fields.s).toMatch(/^[0-9a-f]{32}$/);
      expect(await redis.pttl(key)).toBeGreaterThan(4 * 365 * 86_400_000);
    } finally {
      await redis.quit();
    }
  });
});

describe('backup code options', () => {
  it('count and length are configurable and bounded; no store, no backup codes', async () => {
    const v = await TotpVerifier.create({ threads: 0, backupCodes: { count: 4, length: 16 } });
    try {
      const codes = await v.backupCodes.generate('a');
      expect(codes).toHaveLength(4);
      expect(v.backupCodes.bits).toBe(80);
      for (const c of codes) expect(c).toMatch(/^[0-9a-z]{5}-[0-9a-z]{5}-[0-9a-z]{5}-[0-9a-z]$/);
      await expect(v.backupCodes.generate('a', { count: 101 })).rejects.toThrow(RangeError);
    } finally {
      await v.close();
    }
    await expect(TotpVerifier.create({ backupCodes: { length: 9 } })).rejects.toThrow(/"backupCodes.length" expected an integer 10..40, got 9/);
    const none = await TotpVerifier.create({ threads: 0, store: null });
    try {
      expect(() => none.backupCodes).toThrow(TypeError);
    } finally {
      await none.close();
    }
  });
});
