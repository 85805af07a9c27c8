// The conformance suite: official vectors and window semantics, run against one backend.
// conformance.test.ts instantiates it for every backend in backends.ts.

import { afterAll, describe, expect, it } from 'vitest';
import type { Backend, VerifyItem } from './backends.js';
import { MAX_U64, refHmac, refHotp, refStep } from './helpers/reference.js';
import {
  ascii, base32Vectors, extendedCounters, fromHex, rfc4226, rfc6238, windowCollisions, type Digits,
} from './helpers/vectors.js';

const RFC_KEY = ascii('12345678901234567890');
const STEP_MS = 30_000;

/** A verify item on the RFC key, T0 = 0, X = 30 s, at the start of step `step`. */
function atStep(step: number, code: string, past: number, future: number, digits: Digits = 6): VerifyItem {
  return { key: RFC_KEY, code, timestamp: step * STEP_MS, period: 30, t0: 0, digits, past, future };
}

export function conformanceSuite(backend: Backend): void {
  describe(`conformance: ${backend.name}`, () => {
    afterAll(() => backend.close());

    describe(rfc4226.source, () => {
      const key = fromHex(rfc4226.secret.hex);

      it('gives the 6-digit HOTP value for counters 0-9', async () => {
        const codes = await backend.hotp(rfc4226.vectors.map((v) => ({ key, counter: BigInt(v.counter), digits: 6 })));
        expect(codes).toEqual(rfc4226.vectors.map((v) => v.code));
      });

      it.each([7, 8] as const)('gives the truncated value mod 10^%i for 7 and 8 digits', async (digits) => {
        const codes = await backend.hotp(rfc4226.vectors.map((v) => ({ key, counter: BigInt(v.counter), digits })));
        expect(codes).toEqual(rfc4226.vectors.map((v) => String(v.truncated % 10 ** digits).padStart(digits, '0')));
      });
    });

    describe(rfc6238.source, () => {
      for (const v of rfc6238.vectors) {
        const item = {
          key: ascii(rfc6238.seeds[v.algorithm]), timestamp: v.time * 1000, period: rfc6238.period, t0: rfc6238.t0,
          digits: rfc6238.digits, algorithm: v.algorithm,
        };

        it(`${v.algorithm} t=${v.time} generates ${v.code}`, async () => {
          expect(await backend.totp([item])).toEqual([v.code]);
        });

        it(`${v.algorithm} t=${v.time} verifies ${v.code} at delta 0, step 0x${v.stepHex}, and at ±1 step`, async () => {
          const step = BigInt(`0x${v.stepHex}`);
          const results = await backend.verify([
            { ...item, code: v.code, past: 0, future: 0 },
            // The same code 30 s later is one step old; 30 s earlier it is one step ahead.
            { ...item, timestamp: item.timestamp + 30_000, code: v.code, past: 1, future: 0 },
            { ...item, timestamp: item.timestamp - 30_000, code: v.code, past: 0, future: 1 },
          ]);
          expect(results).toEqual([
            { status: 'valid', delta: 0, step },
            { status: 'valid', delta: -1, step },
            { status: 'valid', delta: 1, step },
          ]);
        });
      }
    });

    describe(extendedCounters.source, () => {
      const key = ascii(extendedCounters.secret.ascii);
      for (const digits of [6, 8] as const) {
        it(`gives the ${digits}-digit codes of 64-bit counters ${extendedCounters.vectors.map((v) => v.expression).join(', ')}`, async () => {
          const codes = await backend.hotp(extendedCounters.vectors.map((v) => ({ key, counter: BigInt(v.counter), digits })));
          expect(codes).toEqual(extendedCounters.vectors.map((v) => v.codes[String(digits) as '6' | '8']));
        });
      }

      it('does not truncate time to 32 bits (t = 20000000000)', async () => {
        const t = extendedCounters.truncatedTime;
        const item = { key, timestamp: t.time * 1000, period: t.period, t0: 0, digits: t.digits };
        const [code] = await backend.totp([item]);
        expect(code).toBe(t.code);
        expect(code).not.toBe(t.wrongCode);
        const results = await backend.verify([
          { ...item, code: t.code, past: 0, future: 0 },
          { ...item, code: t.wrongCode, past: 0, future: 0 },
        ]);
        expect(results.map((r) => r.status)).toEqual(['valid', 'invalid']);
      });
    });

    describe(base32Vectors.source, () => {
      for (const v of base32Vectors.vectors) {
        it(`${v.secret} (${v.kind}) gives ${v.code}`, async () => {
          const key = fromHex(v.hex);
          const [code] = v.kind === 'hotp'
            ? await backend.hotp([{ key, counter: BigInt(v.counter), digits: v.digits }])
            : await backend.totp([{ key, timestamp: v.time * 1000, period: v.period, t0: v.t0, digits: v.digits }]);
          expect(code).toBe(v.code);
        });
      }
    });

    describe('window', () => {
      const T = 1000;
      // Codes of steps T-11..T+11 on the RFC key; the assertion below makes sure none repeat,
      // so "invalid" can only mean "outside the window".
      const codes = new Map<number, string>();
      for (let d = -11; d <= 11; d++) codes.set(d, refHotp(RFC_KEY, BigInt(T + d), 6));
      const code = (d: number): string => codes.get(d)!;

      it('precondition: the codes of steps T-11..T+11 are distinct', () => {
        expect(new Set(codes.values()).size).toBe(23);
      });

      it('accepts exactly the steps in an asymmetric window {past: 2, future: 1}', async () => {
        const deltas = [-3, -2, -1, 0, 1, 2];
        const results = await backend.verify(deltas.map((d) => atStep(T, code(d), 2, 1)));
        expect(results).toEqual([
          { status: 'invalid' },
          { status: 'valid', delta: -2, step: BigInt(T - 2) },
          { status: 'valid', delta: -1, step: BigInt(T - 1) },
          { status: 'valid', delta: 0, step: BigInt(T) },
          { status: 'valid', delta: 1, step: BigInt(T + 1) },
          { status: 'invalid' },
        ]);
      });

      it('accepts only the current step with window 0', async () => {
        const results = await backend.verify([-1, 0, 1].map((d) => atStep(T, code(d), 0, 0)));
        expect(results.map((r) => r.status)).toEqual(['invalid', 'valid', 'invalid']);
      });

      it('accepts ±10 and refuses ±11 with the largest window', async () => {
        const results = await backend.verify([-11, -10, 10, 11].map((d) => atStep(T, code(d), 10, 10)));
        expect(results).toEqual([
          { status: 'invalid' },
          { status: 'valid', delta: -10, step: BigInt(T - 10) },
          { status: 'valid', delta: 10, step: BigInt(T + 10) },
          { status: 'invalid' },
        ]);
      });

      it('accepts a future-only window {past: 0, future: 3} and a past-only {past: 3, future: 0}', async () => {
        const results = await backend.verify([
          atStep(T, code(3), 0, 3), atStep(T, code(-1), 0, 3),
          atStep(T, code(-3), 3, 0), atStep(T, code(1), 3, 0),
        ]);
        expect(results.map((r) => (r.status === 'valid' ? r.delta : r.status))).toEqual([3, 'invalid', -3, 'invalid']);
      });

      it('does not wrap below step 0: the code of step 2^64-1 is not "one step old" at step 0', async () => {
        const wrapped = refHotp(RFC_KEY, MAX_U64, 6);
        const wrapped2 = refHotp(RFC_KEY, MAX_U64 - 1n, 6);
        // Precondition: neither collides with a step really in the window (0 and 1).
        expect([wrapped, wrapped2]).not.toContain(refHotp(RFC_KEY, 0n, 6));
        expect([wrapped, wrapped2]).not.toContain(refHotp(RFC_KEY, 1n, 6));
        const results = await backend.verify([atStep(0, wrapped, 1, 1), atStep(0, wrapped2, 10, 1), atStep(0, refHotp(RFC_KEY, 0n, 6), 10, 1)]);
        expect(results).toEqual([{ status: 'invalid' }, { status: 'invalid' }, { status: 'valid', delta: 0, step: 0n }]);
      });

      describe('candidate order on colliding codes (vectors/window-collisions.json)', () => {
        const key = ascii(windowCollisions.secret.ascii);
        for (const c of windowCollisions.cases) {
          it(`${c.why}: step ${c.step}, window {past: ${c.past}, future: ${c.future}} gives delta ${c.delta}`, async () => {
            const step = BigInt(c.step);
            const [result] = await backend.verify([{
              key, code: c.code, timestamp: Number(step) * windowCollisions.period * 1000,
              period: windowCollisions.period, t0: 0, digits: windowCollisions.digits, past: c.past, future: c.future,
            }]);
            expect(result).toEqual({ status: 'valid', delta: c.delta, step: step + BigInt(c.delta) });
          });
        }
      });
    });

    describe('keys, digits and time settings against the node:crypto reference', () => {
      const LENGTHS = [1, 10, 19, 20, 21, 32, 55, 56, 63, 64, 65, 100, 119, 120, 128, 129, 200, 255, 256];

      it(`handles keys of ${LENGTHS.join(', ')} bytes (over 64: hashed first)`, async () => {
        const items = LENGTHS.flatMap((n) => [6, 7, 8].map((digits) => ({
          key: Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff),
          counter: BigInt(n) * 1_000_003n, digits: digits as Digits,
        })));
        expect(await backend.hotp(items)).toEqual(items.map((it) => refHotp(it.key, it.counter, it.digits)));
        const verified = await backend.verify(items.map((it) => ({
          key: it.key, digits: it.digits, code: refHotp(it.key, it.counter - 1n, it.digits),
          timestamp: Number(it.counter) * 60_000 + 59_999, period: 60, t0: 0, past: 1, future: 0,
        })));
        expect(verified.map((r) => (r.status === 'valid' ? r.delta : r.status))).toEqual(items.map(() => -1));
      });

      // Around each hash's block (64 bytes for SHA-1/256, 128 for SHA-512): longer keys are hashed first.
      const SHA2_LENGTHS = [1, 16, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 200, 255, 256];
      for (const algorithm of ['SHA256', 'SHA512'] as const) {
        const hash = algorithm.toLowerCase() as 'sha256' | 'sha512';
        it(`${algorithm}: handles keys of ${SHA2_LENGTHS.join(', ')} bytes, in one batch with SHA-1 items`, async () => {
          const items = SHA2_LENGTHS.flatMap((n) => [6, 7, 8].flatMap((digits) => (['SHA1', algorithm] as const).map((alg) => ({
            key: Uint8Array.from({ length: n }, (_, i) => (i * 53 + n) & 0xff),
            counter: BigInt(n) * 999_983n + BigInt(digits), digits: digits as Digits, algorithm: alg,
          }))));
          const want = items.map((it) => refHotp(it.key, it.counter, it.digits, it.algorithm === 'SHA1' ? 'sha1' : hash));
          expect(await backend.hotp(items)).toEqual(want);
          const verified = await backend.verify(items.map((it) => ({
            key: it.key, digits: it.digits, algorithm: it.algorithm,
            code: refHotp(it.key, it.counter + 1n, it.digits, it.algorithm === 'SHA1' ? 'sha1' : hash),
            timestamp: Number(it.counter) * 30_000, period: 30, t0: 0, past: 2, future: 2,
          })));
          expect(verified).toEqual(items.map((it) => ({ status: 'valid', delta: 1, step: it.counter + 1n })));
        });
      }

      it('keeps the high bit of the truncated value cleared (offsets 0..15 all occur)', async () => {
        // 400 counters on the RFC key cover every truncation offset; the reference checks the value.
        const items = Array.from({ length: 400 }, (_, i) => ({ key: RFC_KEY, counter: BigInt(i) * 7919n, digits: 8 as Digits }));
        const offsets = new Set(items.map((it) => refHmac(it.key, it.counter)[19]! & 0xf));
        expect(offsets.size).toBe(16);
        expect(await backend.hotp(items)).toEqual(items.map((it) => refHotp(it.key, it.counter, 8)));
      });

      const settings = [
        { period: 30, t0: 0 }, { period: 60, t0: 0 }, { period: 1, t0: 0 }, { period: 86_400, t0: 0 },
        { period: 30, t0: 1_000_000_000 }, { period: 7, t0: 123_456_789 },
      ];
      const instants = [
        0, 29_999, 30_000, 59_999.9, 1_111_111_109_000,
        2 ** 31 * 1000 - 1, 2 ** 31 * 1000, // 2038-01-19
        2 ** 32 * 1000 - 1, 2 ** 32 * 1000, // 2106-02-07
        2 ** 32 * 30_000 - 1, 2 ** 32 * 30_000, // step 2^32 at 30 s
        Number.MAX_SAFE_INTEGER - 1, Number.MAX_SAFE_INTEGER,
      ];

      for (const s of settings) {
        it(`gives and verifies the reference code for period ${s.period}, t0 ${s.t0}, at step boundaries, 2038, 2106 and 2^53 ms`, async () => {
          const items = instants
            .map((ms) => ms + s.t0 * 1000)
            .filter((ms) => ms <= Number.MAX_SAFE_INTEGER)
            .flatMap((timestamp) => [6, 7, 8].map((digits) => ({ key: RFC_KEY, timestamp, digits: digits as Digits, ...s })));
          const steps = items.map((it) => refStep(it.timestamp, it.period, it.t0)!);
          expect(await backend.totp(items)).toEqual(items.map((it, i) => refHotp(it.key, steps[i]!, it.digits)));
          const verified = await backend.verify(items.map((it, i) => ({
            ...it, code: refHotp(it.key, steps[i]!, it.digits), past: 1, future: 1,
          })));
          expect(verified).toEqual(steps.map((step) => ({ status: 'valid', delta: 0, step })));
        });
      }
    });
  });
}
