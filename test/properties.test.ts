// Property tests (fast-check): the window contract of the verifier, batch/single agreement,
// and base32 round trips. fast-check prints the seed and path of any counterexample.

import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { base32, Base32Error, totp, TotpVerifier, type VerifyRequest } from '../src/index.js';
import { refCandidates, refHotp, refStep } from './helpers/reference.js';

const digitsArb = fc.constantFrom(6 as const, 7 as const, 8 as const);
const keyArb = fc.uint8Array({ minLength: 16, maxLength: 100 });

describe('window contract (TotpVerifier vs a code generated k steps away)', () => {
  const verifiers = new Map<string, Promise<TotpVerifier>>();
  const verifier = (digits: number, period: number, past: number, future: number): Promise<TotpVerifier> => {
    const k = `${digits}/${period}/${past}/${future}`;
    if (!verifiers.has(k)) {
      verifiers.set(k, TotpVerifier.create({ threads: 0, digits: digits as 6, period, window: { past, future } }));
    }
    return verifiers.get(k)!;
  };
  afterAll(async () => {
    await Promise.all([...verifiers.values()].map(async (v) => (await v).close()));
  });

  const caseArb = fc.record({
    key: keyArb,
    digits: digitsArb,
    period: fc.constantFrom(1, 30, 60, 3600),
    past: fc.integer({ min: 0, max: 10 }),
    future: fc.integer({ min: 0, max: 10 }),
    // At least 12 steps after the epoch so that T-12 exists.
    stepsIn: fc.integer({ min: 12, max: 2 ** 40 }),
    offsetMs: fc.integer({ min: 0, max: 3_599_999 }),
  });
  const K = Array.from({ length: 25 }, (_, i) => i - 12);

  it('for every k in -12..12, a code from step T+k is valid with delta k and step T+k inside the window, invalid outside', async () => {
    await fc.assert(fc.asyncProperty(caseArb, async (c) => {
      const unit = c.period * 1000;
      const timestamp = c.stepsIn * unit + (c.offsetMs % unit);
      fc.pre(timestamp + 12 * unit <= Number.MAX_SAFE_INTEGER);
      const T = refStep(timestamp, c.period)!;
      const candidates = refCandidates(T, c.past, c.future);
      const cases = K.map((k) => {
        const code = totp.generate(c.key, { digits: c.digits, period: c.period, timestamp: timestamp + k * unit });
        const inside = k >= -c.past && k <= c.future;
        // The one-in-10^digits chance that a step tried earlier has the same code: skip that k.
        const before = inside ? candidates.slice(0, candidates.findIndex((x) => x.delta === k)) : candidates;
        const collides = before.some((x) => refHotp(c.key, x.step, c.digits) === code);
        return { k, code, inside, collides };
      }).filter((x) => !x.collides);

      const v = await verifier(c.digits, c.period, c.past, c.future);
      const results = await v.verifyBatch(cases.map((x) => ({ secret: c.key, code: x.code, timestamp })));
      expect(results).toEqual(cases.map((x) =>
        x.inside ? { status: 'valid', delta: x.k, step: Number(T) + x.k } : { status: 'invalid' }));
    }), { numRuns: 120 });
  });

  it('a batch answers each request as it would be answered alone, in order', async () => {
    const v = await verifier(6, 30, 1, 1);
    const base = 1_700_000_000_000;
    const requestArb = fc.oneof(
      fc.record({ key: keyArb, k: fc.integer({ min: -3, max: 3 }) }).map(({ key, k }): VerifyRequest =>
        ({ secret: key, code: totp.generate(key, { timestamp: base + k * 30_000 }), timestamp: base })),
      fc.record({ key: keyArb, code: fc.stringMatching(/^[0-9]{6}$/) }).map(({ key, code }): VerifyRequest =>
        ({ secret: key, code, timestamp: base })),
      fc.anything().map((junk) => junk as VerifyRequest),
      fc.record({ secret: fc.anything(), code: fc.anything(), timestamp: fc.anything() }).map((r) => r as VerifyRequest),
    );
    await fc.assert(fc.asyncProperty(fc.array(requestArb, { maxLength: 40 }), async (requests) => {
      const batch = await v.verifyBatch(requests);
      const alone = [];
      for (const r of requests) alone.push((await v.verifyBatch([r]))[0]);
      expect(batch).toEqual(alone);
    }), { numRuns: 150 });
  });
});

describe('base32 round trips', () => {
  const bytesArb = fc.uint8Array({ maxLength: 80 });

  it('decode(encode(x)) is x, and encode uses only A-Z2-7 with the right length', () => {
    fc.assert(fc.property(bytesArb, (x) => {
      const text = base32.encode(x);
      expect(text).toMatch(/^[A-Z2-7]*$/);
      expect(text.length).toBe(Math.ceil((x.length * 8) / 5));
      expect(base32.decode(text)).toEqual(x);
    }));
  });

  it('with padding: a multiple of 8 characters that decodes to x', () => {
    fc.assert(fc.property(bytesArb, (x) => {
      const text = base32.encode(x, { padding: true });
      expect(text.length % 8).toBe(0);
      expect(text.replace(/=+$/, '')).toBe(base32.encode(x));
      expect(base32.decode(text)).toEqual(x);
    }));
  });

  it('in lower or mixed case, with spaces and hyphens inserted anywhere', () => {
    const spelled = bytesArb.chain((x) => fc.record({
      x: fc.constant(x),
      padding: fc.boolean(),
      cases: fc.array(fc.boolean(), { minLength: 200, maxLength: 200 }),
      separators: fc.array(fc.tuple(fc.nat(), fc.constantFrom(' ', '-', '  ', ' - ')), { maxLength: 10 }),
    }));
    fc.assert(fc.property(spelled, ({ x, padding, cases, separators }) => {
      let text = [...base32.encode(x, { padding })].map((ch, i) => (cases[i] ? ch.toLowerCase() : ch)).join('');
      for (const [at, sep] of separators) {
        const i = at % (text.length + 1);
        text = text.slice(0, i) + sep + text.slice(i);
      }
      expect(base32.decode(text)).toEqual(x);
    }));
  });

  it('any character outside the alphabet, anywhere, is refused with Base32Error', () => {
    const bad = fc.constantFrom('0', '1', '8', '9', '!', '_', '\t', '\n', '\0', 'é', 'Ａ', '٣', '+', '/');
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 40 }), fc.nat(), bad, (x, at, ch) => {
      const text = base32.encode(x);
      const i = at % (text.length + 1);
      expect(() => base32.decode(text.slice(0, i) + ch + text.slice(i))).toThrow(Base32Error);
    }));
  });
});

describe('parseCode (the hot path\'s code parser) against a regular expression', () => {
  // Strings near a code: digits mixed with what R4 refuses (signs, spaces, Unicode digits,
  // characters just outside '0'..'9'), at and around each code length.
  const charArb = fc.constantFrom(...'0123456789', '/', ':', ' ', '+', '-', '.', 'e', '\u0660', '\uff11', '\u0000', '\uffff');
  const textArb = fc.array(charArb, { minLength: 0, maxLength: 9 }).map((cs) => cs.join(''));

  it('answers the number exactly when the text is `digits` ASCII digits, else -1', async () => {
    const { parseCode } = await import('../src/otp.js');
    fc.assert(fc.property(textArb, digitsArb, (text, digits) => {
      const want = new RegExp(`^[0-9]{${digits}}$`).test(text) ? Number(text) : -1;
      expect(parseCode(text, digits)).toBe(want);
    }), { numRuns: 5000 });
    for (const value of [123456, '12345\u0660', ['123456'], { toString: () => '123456' }, null, undefined]) {
      expect(parseCode(value, 6)).toBe(-1);
    }
  });
});
