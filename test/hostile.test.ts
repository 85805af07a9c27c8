// Hostile input: every malformed request field gives status 'malformed' with the right reason,
// never an exception, and valid requests in the same batch stay valid. Codes that a lenient
// parser would canonicalise into the real code (SECURITY.md R4, CVE-2025-6014/6015) are built
// from the real code, so that "malformed" here really means "not given a second chance".

import { afterAll, describe, expect, it } from 'vitest';
import { base32, KeyHandle, totp, TotpVerifier, type MalformedReason, type VerifyRequest } from '../src/index.js';
import { CODE, KEY, KEY_B32, otherDigits, TS } from './helpers/fixtures.js';
import { Prng } from './helpers/prng.js';

const VALID: VerifyRequest = { secret: KEY, code: CODE, timestamp: TS };
const rng = new Prng(7);
const bytes = (n: number): Uint8Array => rng.bytes(n);
/** KEY_B32 with the character at `i` replaced. */
const b32With = (i: number, ch: string): string => KEY_B32.slice(0, i) + ch + KEY_B32.slice(i + 1);

const badCodes: [string, unknown][] = [
  ['the code as a number', Number(CODE)],
  ['a leading space', ` ${CODE}`],
  ['a trailing space', `${CODE} `],
  ['a trailing newline', `${CODE}\n`],
  ['a leading tab (6 chars)', `\t${CODE.slice(1)}`],
  ['a space inside', `${CODE.slice(0, 2)} ${CODE.slice(2)}`],
  ['full-width digits', otherDigits(CODE, 0xff10)],
  ['Arabic-Indic digits', otherDigits(CODE, 0x0660)],
  ['Extended Arabic-Indic digits', otherDigits(CODE, 0x06f0)],
  ['Devanagari digits', otherDigits(CODE, 0x0966)],
  ['mathematical bold digits (surrogate pairs)', otherDigits(CODE, 0x1d7ce)],
  ['one full-width digit', CODE.slice(0, 5) + otherDigits(CODE.slice(5), 0xff10)],
  ['a plus sign', `+${CODE.slice(1)}`],
  ['a minus sign', `-${CODE.slice(1)}`],
  ['5 digits', CODE.slice(1)],
  ['7 digits', `${CODE}0`],
  ['an exponent', '1e5000'],
  ['a hex literal', '0x1234'],
  ['a decimal point', `${CODE.slice(0, 3)}.${CODE.slice(4)}`],
  ['a NUL inside', `${CODE.slice(0, 5)}\0`],
  ['a trailing NUL', `${CODE}\0`],
  ['letters', 'abcdef'],
  ['the empty string', ''],
  ['null', null],
  ['undefined', undefined],
  ['an object', {}],
  ['an object whose toString is the code', { toString: () => CODE }],
  ['an array of the code', [CODE]],
  ['a String object', new String(CODE)],
  ['a bigint', BigInt(CODE)],
  ['a boolean', true],
  ['a symbol', Symbol(CODE)],
];

const badSecrets: [string, unknown, MalformedReason][] = [
  ['null', null, 'secret-type'],
  ['undefined', undefined, 'secret-type'],
  ['a number', 12345678901234567890, 'secret-type'],
  ['an array of byte values', [...KEY], 'secret-type'],
  ['a plain object', {}, 'secret-type'],
  ['a serialised Buffer', { type: 'Buffer', data: [...KEY] }, 'secret-type'],
  ['an ArrayBuffer', KEY.slice().buffer, 'secret-type'],
  ['a DataView', new DataView(KEY.slice().buffer), 'secret-type'],
  ['a Uint16Array', new Uint16Array(10), 'secret-type'],
  ['an Int8Array', new Int8Array(20), 'secret-type'],
  ['a Uint8ClampedArray', new Uint8ClampedArray(20), 'secret-type'],
  ['a String object', new String(KEY_B32), 'secret-type'],
  ['a forged KeyHandle', Object.create(KeyHandle.prototype) as unknown, 'secret-type'],
  ...(['0', '1', '8', '9', '!', '_', 'é', '\t', '\0'] as const).map((ch): [string, unknown, MalformedReason] =>
    [`base32 with ${JSON.stringify(ch)}`, b32With(5, ch), 'secret-encoding']),
  ['base32 of impossible length (1 mod 8)', `${KEY_B32}A`, 'secret-encoding'],
  ['base32 of impossible length (3 mod 8)', `${KEY_B32}AAA`, 'secret-encoding'],
  ['base32 of impossible length (6 mod 8)', `${KEY_B32}AAAAAA`, 'secret-encoding'],
  ['base32 with padding that does not fill a group', `${KEY_B32}=`, 'secret-encoding'],
  ['base32 with padding in the middle', `${KEY_B32.slice(0, 8)}========${KEY_B32.slice(8)}`, 'secret-encoding'],
  ['base32 with non-zero trailing bits (strict by default)', 'S46SQCPPTCNPROMHWYBDCTBZXV', 'secret-encoding'],
  ['only padding', '========', 'secret-encoding'],
  ['the empty string', '', 'secret-length'],
  ['only spaces and hyphens', ' - - ', 'secret-length'],
  ['an empty Uint8Array', new Uint8Array(0), 'secret-length'],
  ['10 bytes (legacy, not opted in)', bytes(10), 'secret-length'],
  ['15 bytes', bytes(15), 'secret-length'],
  ['10 bytes as base32', base32.encode(bytes(10)), 'secret-length'],
  ['257 bytes', bytes(257), 'secret-length'],
  ['257 bytes as base32', base32.encode(bytes(257)), 'secret-length'],
  ['1 MB', new Uint8Array(1 << 20), 'secret-length'],
];

const badTimestamps: [string, unknown][] = [
  ['NaN', NaN], ['Infinity', Infinity], ['-Infinity', -Infinity], ['-1', -1], ['-0.5', -0.5],
  ['2^53 (beyond MAX_SAFE_INTEGER)', 2 ** 53], ['1e300', 1e300], ['Number.MAX_VALUE', Number.MAX_VALUE],
  ['a numeric string', String(TS)], ['a bigint', BigInt(TS)], ['null', null], ['an object', {}],
  ['an array', [TS]], ['a Date', new Date(TS)], ['an object with valueOf', { valueOf: () => TS }], ['a boolean', true],
];

const badRequests: [string, unknown][] = [
  ['null', null], ['undefined', undefined], ['a number', 42], ['a string', 'request'], ['an empty array', []],
  ['an array holding a request', [VALID]], ['a boolean', true], ['a bigint', 1n], ['a symbol', Symbol('r')],
  ['a function', () => VALID],
];

const badAccounts: [string, unknown][] = [
  ['a number', 42], ['null', null], ['an object', {}], ['an array', ['alice']], ['the empty string', ''],
  ['513 characters', 'a'.repeat(513)], ['1 MB', 'a'.repeat(1 << 20)], ['a String object', new String('alice')], ['a boolean', false],
];

type Row = { label: string; request: unknown; reason: MalformedReason };
const rows: Row[] = [
  ...badCodes.map(([label, code]) => ({ label: `code: ${label}`, request: { ...VALID, code }, reason: 'code' as const })),
  ...badSecrets.map(([label, secret, reason]) => ({ label: `secret: ${label}`, request: { ...VALID, secret }, reason })),
  ...badTimestamps.map(([label, timestamp]) => ({ label: `timestamp: ${label}`, request: { ...VALID, timestamp }, reason: 'timestamp' as const })),
  ...badRequests.map(([label, request]) => ({ label: `request: ${label}`, request, reason: 'request' as const })),
  ...badAccounts.map(([label, account]) => ({ label: `account: ${label}`, request: { ...VALID, account }, reason: 'account' as const })),
];

const verifiers: Record<string, Promise<TotpVerifier>> = {
  inline: TotpVerifier.create({ threads: 0, keyCacheSize: 0 }),
  'key cache': TotpVerifier.create({ threads: 0 }),
  'worker pool': TotpVerifier.create({ threads: 2, inlineThreshold: 0 }),
};
afterAll(async () => {
  await Promise.all(Object.values(verifiers).map(async (v) => (await v).close()));
});

describe('hostile requests, one at a time', () => {
  it.each(rows.map((r) => [r.label, r]))('%s', async (_, row) => {
    const v = await verifiers.inline!;
    expect(await v.verify(row.request as VerifyRequest)).toEqual({ status: 'malformed', reason: row.reason });
  });
});

describe('hostile requests interleaved with valid ones in one batch', () => {
  for (const name of Object.keys(verifiers)) {
    it(`${name}: every hostile item is malformed with its reason, every valid neighbour stays valid`, async () => {
      const v = await verifiers[name]!;
      // Valid neighbours alternate raw-byte and base32 spellings of the key (the cache path).
      const neighbour = (i: number): VerifyRequest => ({ ...VALID, secret: i % 2 === 0 ? KEY : KEY_B32 });
      const batch = rows.flatMap((r, i) => [neighbour(i), r.request as VerifyRequest]);
      batch.push(neighbour(0));
      const expected = rows.flatMap((r) => [
        { status: 'valid', delta: 0, step: Math.floor(TS / 30_000) },
        { status: 'malformed', reason: r.reason },
      ]);
      expected.push({ status: 'valid', delta: 0, step: Math.floor(TS / 30_000) });
      const results = await v.verifyBatch(batch);
      expect(results).toEqual(expected);
      // Results never echo a secret or a code.
      const text = JSON.stringify(results);
      expect(text).not.toContain(KEY_B32.slice(0, 8));
      expect(text).not.toContain(CODE);
    });
  }
});

describe('edges that are valid', () => {
  it.each([
    ['timestamp 0 (step 0, nothing before it to wrap to)', 0],
    ['timestamp 2^53-1 ms', Number.MAX_SAFE_INTEGER],
    ['a fractional timestamp', TS + 0.999],
    ['timestamp -0', -0],
  ])('%s', async (_, timestamp) => {
    const v = await verifiers.inline!;
    const code = totp.generate(KEY, { timestamp });
    expect(await v.verify({ secret: KEY, code, timestamp })).toMatchObject({ status: 'valid', delta: 0 });
  });

  it('accepts a Node Buffer (a Uint8Array), base32 in lower case with spaces, a 512-character account and 256-byte keys', async () => {
    const v = await verifiers.inline!;
    const long = bytes(256);
    // With an account, the timestamp is near the verifier's clock (policy.timestampSkewMs).
    const now = Date.now();
    const current = { secret: KEY, code: totp.generate(KEY, { timestamp: now }), timestamp: now };
    const results = await v.verifyBatch([
      { ...VALID, secret: Buffer.from(KEY) },
      { ...VALID, secret: KEY_B32.toLowerCase().replace(/(.{4})/g, '$1 ') },
      { ...current, account: 'a'.repeat(512) },
      { ...current, account: '用户@example' },
      { secret: long, code: totp.generate(long, { timestamp: TS }), timestamp: TS },
    ]);
    expect(results.map((r) => r.status)).toEqual(['valid', 'valid', 'valid', 'valid', 'valid']);
  });

  it('a missing timestamp means now', async () => {
    const v = await verifiers.inline!;
    // Generated with a window of ±1 step, so a step boundary between the two calls cannot matter.
    const code = totp.generate(KEY);
    expect(await v.verify({ secret: KEY, code })).toMatchObject({ status: 'valid' });
  });

  it('timestamps before t0 are malformed, t0 itself is step 0', async () => {
    const v = await TotpVerifier.create({ threads: 0, t0: 1_000_000_000 });
    try {
        const code = totp.generate(KEY, { t0: 1_000_000_000, timestamp: 1_000_000_000_000 });
      expect(await v.verifyBatch([
        { secret: KEY, code, timestamp: 1_000_000_000_000 - 1 },
        { secret: KEY, code, timestamp: 1_000_000_000_000 },
      ])).toEqual([{ status: 'malformed', reason: 'timestamp' }, { status: 'valid', delta: 0, step: 0 }]);
    } finally {
      await v.close();
    }
  });
});

describe('requests whose properties throw', () => {
  // SECURITY.md R12: every request gets exactly one answer; verifyBatch rejects only for a
  // non-array, a closed verifier or overload.
  it('a getter that throws is malformed, not a rejection of its neighbours', async () => {
    const v = await verifiers.inline!;
    const evil = { secret: KEY, timestamp: TS, get code(): string { throw new Error('boom'); } };
    expect(await v.verifyBatch([VALID, evil])).toEqual([
      { status: 'valid', delta: 0, step: Math.floor(TS / 30_000) },
      { status: 'malformed', reason: 'request' },
    ]);
  });

  it('a Proxy whose traps throw is malformed too', async () => {
    const v = await verifiers.inline!;
    const evil = new Proxy({}, { get() { throw new Error('trap'); } });
    expect(await v.verifyBatch([evil as never, VALID])).toEqual([
      { status: 'malformed', reason: 'request' },
      { status: 'valid', delta: 0, step: Math.floor(TS / 30_000) },
    ]);
  });
});

describe('secrets that pretend to be byte arrays', () => {
  class Lying extends Uint8Array {
    override get length(): number {
      throw new Error('lying length');
    }
  }
  const fakes: [string, unknown][] = [
    ['a Proxy of a Uint8Array', new Proxy(new Uint8Array(20), {})],
    ['an object made from Uint8Array.prototype', Object.create(Uint8Array.prototype)],
    ['a subclass whose length getter throws', new Lying(20)],
  ];
  for (const [name, secret] of fakes) {
    it(`${name} is malformed in a batch and through the batcher, and its neighbours are answered`, async () => {
      const v = await verifiers.inline!;
      const bad = { secret: secret as Uint8Array, code: '123456', timestamp: TS };
      const batch = await v.verifyBatch([VALID, bad, VALID]);
      expect(batch[1]).toMatchObject({ status: 'malformed' });
      expect(batch[0]!.status).toBe('valid');
      expect(batch[2]!.status).toBe('valid');
      const singles = await Promise.all([v.verify(VALID), v.verify(bad), v.verify(VALID)]);
      expect(singles.map((r) => r.status)).toEqual(['valid', 'malformed', 'valid']);
    });
  }
});
