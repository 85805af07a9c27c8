// Bad options and API misuse: TypeError for a wrong type, RangeError for a wrong range, with a
// message naming the option; async methods reject rather than throw; operational failures are
// TotpFleetError with a stable code; no message ever carries a secret.

import { afterAll, describe, expect, it } from 'vitest';
import { base32, hotp, totp, TotpFleetError, TotpVerifier, type VerifierOptions } from '../src/index.js';
import { CODE, KEY, TS } from './helpers/fixtures.js';

type Bad = [opts: unknown, error: typeof TypeError | typeof RangeError, message: string];

/** Options every generator and the verifier take. */
const commonBad: Bad[] = [
  [{ digits: 5 }, RangeError, '"digits" expected one of 6, 7, 8, got 5'],
  [{ digits: 9 }, RangeError, '"digits" expected one of 6, 7, 8, got 9'],
  [{ digits: '6' }, TypeError, '"digits" expected one of 6, 7, 8, got string'],
  [{ digits: 6.5 }, TypeError, '"digits" expected one of 6, 7, 8, got 6.5'],
  [{ digits: null }, TypeError, '"digits" expected one of 6, 7, 8, got null'],
  [{ minSecretBytes: 0 }, RangeError, '"minSecretBytes" expected an integer 1..16, got 0'],
  [{ minSecretBytes: 17 }, RangeError, '"minSecretBytes" expected an integer 1..16, got 17'],
  [{ minSecretBytes: '16' }, TypeError, '"minSecretBytes" expected an integer 1..16, got string'],
  [{ allowBase32TrailingBits: 'yes' }, TypeError, '"allowBase32TrailingBits" expected a boolean, got string'],
  [{ allowBase32TrailingBits: 1 }, TypeError, '"allowBase32TrailingBits" expected a boolean, got 1'],
  [{ algorithm: 'sha256' }, RangeError, '"algorithm" expected one of SHA1, SHA256, SHA512, got "sha256"'],
  [{ algorithm: 'SHA-1' }, RangeError, '"algorithm" expected one of SHA1, SHA256, SHA512, got "SHA-1"'],
  [{ algorithm: 256 }, TypeError, '"algorithm" expected one of SHA1, SHA256, SHA512, got number'],
  [{ algorithm: null }, TypeError, '"algorithm" expected one of SHA1, SHA256, SHA512, got null'],
];

/** Time options (TOTP generation and the verifier). */
const timeBad: Bad[] = [
  [{ period: 0 }, RangeError, '"period" expected an integer 1..86400, got 0'],
  [{ period: 86_401 }, RangeError, '"period" expected an integer 1..86400, got 86401'],
  [{ period: 30.5 }, TypeError, '"period" expected an integer 1..86400, got 30.5'],
  [{ period: NaN }, TypeError, '"period" expected an integer 1..86400, got NaN'],
  [{ period: Infinity }, TypeError, '"period" expected an integer 1..86400, got Infinity'],
  [{ t0: -1 }, RangeError, '"t0" expected an integer 0..9007199254740, got -1'],
  [{ t0: 9_007_199_254_741 }, RangeError, '"t0" expected an integer 0..9007199254740, got 9007199254741'],
  [{ t0: '0' }, TypeError, '"t0" expected an integer 0..9007199254740, got string'],
];

const notAnObject: Bad[] = [
  [null, TypeError, '"opts" expected an object, got null'],
  [30, TypeError, '"opts" expected an object, got 30'],
  ['opts', TypeError, '"opts" expected an object, got string'],
  [[], TypeError, '"opts" expected an object, got an array'],
];

/** Verifier-only options (threads: 0 is added unless the row sets threads). */
const verifierBad: Bad[] = [
  [{ window: 11 }, RangeError, '"window" expected an integer 0..10, got 11'],
  [{ window: -1 }, RangeError, '"window" expected an integer 0..10, got -1'],
  [{ window: 1.5 }, TypeError, '"window" expected an integer 0..10, got 1.5'],
  [{ window: { past: 12 } }, RangeError, '"window.past" expected an integer 0..10, got 12'],
  [{ window: { future: -1 } }, RangeError, '"window.future" expected an integer 0..10, got -1'],
  [{ window: { past: '1' } }, TypeError, '"window.past" expected an integer 0..10, got string'],
  [{ window: null }, TypeError, '"window" expected an integer 0..10 or { past, future }, got null'],
  [{ window: '1' }, TypeError, '"window" expected an integer 0..10 or { past, future }, got string'],
  [{ window: [1, 1] }, TypeError, '"window" expected an integer 0..10 or { past, future }, got an array'],
  [{ keyCacheSize: -1 }, RangeError, '"keyCacheSize" expected an integer 0..100000000, got -1'],
  [{ threads: -1 }, RangeError, '"threads" expected an integer 0..256, got -1'],
  [{ threads: 1.5 }, TypeError, '"threads" expected an integer 0..256, got 1.5'],
  [{ inlineThreshold: -1 }, RangeError, '"inlineThreshold" expected an integer 0..9007199254740991, got -1'],
  [{ maxQueue: 0 }, RangeError, '"maxQueue" expected an integer 1..9007199254740991, got 0'],
  [{ taskTimeout: 0 }, RangeError, '"taskTimeout" expected an integer 1..3600000, got 0'],
  [{ workerHeapMb: 8 }, RangeError, '"workerHeapMb" expected an integer 16..65536, got 8'],
  [{ batching: 5 }, TypeError, '"batching" expected an object, got 5'],
  [{ batching: { maxBatch: 0 } }, RangeError, '"batching.maxBatch" expected an integer 1..1000000, got 0'],
  [{ batching: { maxDelayMs: 1001 } }, RangeError, '"batching.maxDelayMs" expected an integer 0..1000, got 1001'],
];

const withThreads0 = (opts: unknown): unknown =>
  opts !== null && typeof opts === 'object' && !Array.isArray(opts) && !('threads' in opts) ? { threads: 0, ...opts } : opts;

describe('TotpVerifier.create rejects bad options (it never throws synchronously)', () => {
  it.each([...commonBad, ...timeBad, ...notAnObject, ...verifierBad].map(([o, E, m]) => [m, o, E]))('%s', async (message, opts, E) => {
    let created: Promise<TotpVerifier> | undefined;
    expect(() => { created = TotpVerifier.create(withThreads0(opts) as VerifierOptions); }).not.toThrow();
    const error = await created!.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(E);
    expect((error as Error).message).toBe(message);
  });
});

describe('totp.generate throws for bad options', () => {
  it.each([...commonBad, ...timeBad, ...notAnObject].map(([o, E, m]) => [m, o, E]))('%s', (message, opts, E) => {
    const o = opts !== null && typeof opts === 'object' && !Array.isArray(opts) ? { timestamp: TS, ...opts } : opts;
    expect(() => totp.generate(KEY, o as never)).toThrow(E);
    expect(() => totp.generate(KEY, o as never)).toThrow(message);
  });

  it.each([
    ['NaN', NaN, RangeError], ['Infinity', Infinity, RangeError], ['-1', -1, RangeError], ['2^53', 2 ** 53, RangeError],
    ['a string', String(TS), TypeError], ['a bigint', BigInt(TS), TypeError], ['a Date', new Date(TS), TypeError],
  ] as const)('timestamp %s: %o', (_, timestamp, E) => {
    expect(() => totp.generate(KEY, { timestamp: timestamp as number })).toThrow(E);
    expect(() => totp.generate(KEY, { timestamp: timestamp as number })).toThrow(/"timestamp"/);
  });

  it('a timestamp before t0 is a RangeError', () => {
    expect(() => totp.generate(KEY, { t0: 100, timestamp: 99_999 })).toThrow(RangeError);
    expect(totp.generate(KEY, { t0: 100, timestamp: 100_000 })).toMatch(/^\d{6}$/);
  });

  // An explicit null is not "now" (the verifier answers 'malformed'/'timestamp' for it too).
  it('timestamp null is a TypeError, not "now"', () => {
    expect(() => totp.generate(KEY, { timestamp: null as unknown as number })).toThrow(TypeError);
  });
});

describe('hotp.generate throws for bad options and counters', () => {
  it.each([...commonBad, ...notAnObject].map(([o, E, m]) => [m, o, E]))('%s', (message, opts, E) => {
    expect(() => hotp.generate(KEY, 0, opts as never)).toThrow(E);
    expect(() => hotp.generate(KEY, 0, opts as never)).toThrow(message);
  });

  it.each([
    ['-1', -1, RangeError], ['2^53', 2 ** 53, RangeError], ['-1n', -1n, RangeError], ['2^64 (bigint)', 1n << 64n, RangeError],
    ['1.5', 1.5, TypeError], ['NaN', NaN, TypeError], ['Infinity', Infinity, TypeError], ["'1'", '1', TypeError],
    ['null', null, TypeError], ['undefined', undefined, TypeError],
  ] as const)('counter %s: %o', (_, counter, E) => {
    expect(() => hotp.generate(KEY, counter as number)).toThrow(E);
    expect(() => hotp.generate(KEY, counter as number)).toThrow(/"counter"/);
  });

  it('counters given as a number and as a bigint agree, up to 2^53-1', () => {
    for (const c of [0, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER]) {
      expect(hotp.generate(KEY, c)).toBe(hotp.generate(KEY, BigInt(c)));
    }
  });
});

describe('secrets given to generators: typed errors that never quote the secret', () => {
  const short = 'JBSWY3DPEHPK3PXP'; // 10 bytes
  const badChar = 'JBSWY3DPEHPK3PX0JBSWY3DPEHPK3PXP';
  const trailing = 'S46SQCPPTCNPROMHWYBDCTBZXV';
  const cases: [string, unknown, typeof TypeError | typeof RangeError, string][] = [
    ['10-byte base32', short, RangeError, '"secret" expected 16..256 bytes'],
    ['10 raw bytes', KEY.slice(0, 10), RangeError, '"secret" expected 16..256 bytes'],
    ['257 raw bytes', new Uint8Array(257), RangeError, '"secret" expected 16..256 bytes'],
    ['bad base32 character', badChar, TypeError, '"secret" is not valid base32'],
    ['non-zero trailing bits', trailing, TypeError, '"secret" is not valid base32'],
    ['null', null, TypeError, '"secret" expected a Uint8Array or a base32 string'],
    ['an array', [...KEY], TypeError, '"secret" expected a Uint8Array or a base32 string'],
  ];
  const generators: [string, (secret: unknown) => string][] = [
    ['totp.generate', (s) => totp.generate(s as string, { timestamp: TS })],
    ['hotp.generate', (s) => hotp.generate(s as string, 0)],
  ];
  for (const [gen, call] of generators) {
    it.each(cases)(`${gen}: %s`, (_, secret, E, message) => {
      let error: unknown;
      try {
        call(secret);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(E);
      expect((error as Error).message).toBe(message);
      if (typeof secret === 'string') {
        for (let i = 0; i + 6 <= secret.length; i++) expect((error as Error).message).not.toContain(secret.slice(i, i + 6));
      }
    });
  }

  it('minSecretBytes and allowBase32TrailingBits opt in to legacy secrets', () => {
    expect(totp.generate(short, { timestamp: TS, minSecretBytes: 10 })).toMatch(/^\d{6}$/);
    expect(totp.generate(trailing, { timestamp: 1_612_380_872_000, allowBase32TrailingBits: true })).toBe('100172');
  });
});

describe('verifyBatch misuse and a closed verifier', () => {
  const open = TotpVerifier.create({ threads: 0 });
  afterAll(async () => (await open).close());

  it.each([
    ['null', null], ['undefined', undefined], ['a string', 'requests'], ['an array-like object', { length: 1, 0: {} }],
    ['a Set', new Set([{}])], ['a request object', { secret: KEY, code: CODE, timestamp: TS }],
  ])('verifyBatch(%s) rejects with a TypeError (it does not throw synchronously)', async (_, requests) => {
    const v = await open;
    let pending: Promise<unknown> | undefined;
    expect(() => { pending = v.verifyBatch(requests as never); }).not.toThrow();
    await expect(pending).rejects.toThrow(TypeError);
    await expect(pending).rejects.toThrow('"requests" expected an array');
  });

  it('verify(non-request) answers malformed, it does not reject', async () => {
    const v = await open;
    expect(await v.verify(null as never)).toEqual({ status: 'malformed', reason: 'request' });
    expect(await v.verifyBatch([])).toEqual([]);
  });

  it('after close(): verify, verifyBatch and importKey fail with ERR_CLOSED; close is idempotent', async () => {
    const v = await TotpVerifier.create({ threads: 0 });
    expect(await v.verify({ secret: KEY, code: CODE, timestamp: TS })).toMatchObject({ status: 'valid' });
    await v.close();
    await v.close();
    for (const call of [() => v.verifyBatch([{ secret: KEY, code: CODE, timestamp: TS }]), () => v.verify({ secret: KEY, code: CODE, timestamp: TS })]) {
      const error = await call().then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(TotpFleetError);
      expect(error).toMatchObject({ name: 'TotpFleetError', code: 'ERR_CLOSED' });
    }
    expect(() => v.importKey(KEY)).toThrow(TotpFleetError);
    await expect(v.verifyBatch('not even an array' as never)).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });

  it('Symbol.asyncDispose closes', async () => {
    const v = await TotpVerifier.create({ threads: 0 });
    await v[Symbol.asyncDispose]();
    await expect(v.verifyBatch([])).rejects.toMatchObject({ code: 'ERR_CLOSED' });
  });

  it('importKey errors never quote the secret', async () => {
    const v = await open;
    const secret = 'MFRGGZDFMZTWQ2LKNNWG23TPOBYXE431';
    const error = (() => { try { v.importKey(secret); } catch (e) { return e as Error; } return undefined; })();
    expect(error).toBeInstanceOf(TypeError);
    expect(error!.message).not.toContain(secret.slice(0, 8));
    expect(() => base32.decode(secret)).toThrow(/^base32: invalid character$/);
  });
});
