// The vector files checked against the node:crypto reference, all algorithms included: a typo
// in a vector, or a wrong reference, fails here before it can make a backend look wrong.

import { describe, expect, it } from 'vitest';
import { type HashName, refHmac, refHotp, refStep, refTruncate, refVerify } from './helpers/reference.js';
import {
  ascii, base32Vectors, extendedCounters, fromHex, rfc4226, rfc4648, rfc6238, windowCollisions,
} from './helpers/vectors.js';

describe('every vector set names its source', () => {
  it.each([rfc4226, rfc6238, extendedCounters, base32Vectors, rfc4648, windowCollisions].map((v) => [v.source]))('%s', (source) => {
    expect(source).toMatch(/\S{3}/);
  });
});

describe(`${rfc4226.source} agrees with the reference`, () => {
  const key = fromHex(rfc4226.secret.hex);
  it('secret hex is the ASCII secret', () => expect(Buffer.from(key).toString('ascii')).toBe(rfc4226.secret.ascii));
  it.each(rfc4226.vectors)('counter $counter', (v) => {
    const mac = refHmac(key, BigInt(v.counter));
    expect(mac.toString('hex')).toBe(v.hmac);
    expect(refTruncate(mac)).toBe(v.truncated);
    expect(v.truncated.toString(16).padStart(8, '0')).toBe(v.truncatedHex);
    expect(refHotp(key, BigInt(v.counter), 6)).toBe(v.code);
  });
});

describe(`${rfc6238.source} agrees with the reference (all 18 rows)`, () => {
  it.each(rfc6238.vectors)('$algorithm t=$time', (v) => {
    const key = ascii(rfc6238.seeds[v.algorithm]);
    const step = refStep(v.time * 1000, rfc6238.period, rfc6238.t0)!;
    expect(step).toBe(BigInt(`0x${v.stepHex}`));
    expect(new Date(v.time * 1000).toISOString().replace('.000', '')).toBe(v.utc);
    expect(refHotp(key, step, rfc6238.digits, v.algorithm.toLowerCase() as HashName)).toBe(v.code);
  });
  it('holds 6 times for each of SHA1, SHA256, SHA512', () => {
    for (const alg of ['SHA1', 'SHA256', 'SHA512']) {
      expect(rfc6238.vectors.filter((v) => v.algorithm === alg)).toHaveLength(6);
    }
  });
});

describe(`${extendedCounters.source} agrees with the reference`, () => {
  const key = ascii(extendedCounters.secret.ascii);
  it.each(extendedCounters.vectors)('counter $expression', (v) => {
    const evaluated = v.expression.split(/\s*([+-])\s*/).reduce<{ value: bigint; op: string }>((acc, part) => {
      if (part === '+' || part === '-') return { ...acc, op: part };
      const [base, exp] = part.split('^');
      const n = exp === undefined ? BigInt(base!) : BigInt(base!) ** BigInt(exp);
      return { value: acc.op === '-' ? acc.value - n : acc.value + n, op: '+' };
    }, { value: 0n, op: '+' }).value;
    expect(BigInt(v.counter)).toBe(evaluated);
    expect(refHotp(key, evaluated, 6)).toBe(v.codes['6']);
    expect(refHotp(key, evaluated, 8)).toBe(v.codes['8']);
  });
  it('32-bit truncated time gives the wrong code, full time the right one', () => {
    const t = extendedCounters.truncatedTime;
    expect(refHotp(key, refStep(t.time * 1000, t.period)!, t.digits)).toBe(t.code);
    const truncatedStep = BigInt(t.time % 2 ** 32) / BigInt(t.period);
    expect(truncatedStep).toBe(BigInt(t.wrongStep));
    expect(refHotp(key, truncatedStep, t.digits)).toBe(t.wrongCode);
  });
});

describe(`${base32Vectors.source} agree with an independent decoder and the reference`, () => {
  /** RFC 4648 base32 via bigint, dropping unused bits: shares nothing with src/base32.ts. */
  const decode = (text: string): { bytes: Uint8Array; trailing: boolean } => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    let value = 0n;
    for (const ch of text.toUpperCase()) value = (value << 5n) | BigInt(alphabet.indexOf(ch));
    const bits = text.length * 5;
    const extra = BigInt(bits % 8);
    const bytes = new Uint8Array(Math.floor(bits / 8));
    const data = value >> extra;
    for (let i = 0; i < bytes.length; i++) bytes[i] = Number((data >> BigInt(8 * (bytes.length - 1 - i))) & 0xffn);
    return { bytes, trailing: (value & ((1n << extra) - 1n)) !== 0n };
  };
  it.each(base32Vectors.vectors)('$secret', (v) => {
    const { bytes, trailing } = decode(v.secret);
    expect(Buffer.from(bytes).toString('hex')).toBe(v.hex);
    expect(bytes).toHaveLength(16);
    expect(trailing).toBe(v.trailingBits);
    const counter = v.kind === 'hotp' ? BigInt(v.counter) : refStep(v.time * 1000, v.period, v.t0)!;
    expect(refHotp(bytes, counter, v.digits)).toBe(v.code);
  });
});

describe(`window collisions (${windowCollisions.source.split(';')[0]}) are real and agree with the reference`, () => {
  const key = ascii(windowCollisions.secret.ascii);
  it.each(windowCollisions.cases)('$why', (c) => {
    const step = BigInt(c.step);
    expect(refVerify(key, step, c.code, windowCollisions.digits, c.past, c.future)).toBe(c.delta);
    // At least two steps within ±2 of T share the code, or the case would test nothing.
    const sharing = [-2, -1, 0, 1, 2].filter((d) => refHotp(key, step + BigInt(d), windowCollisions.digits) === c.code);
    expect(sharing.length).toBeGreaterThanOrEqual(2);
  });
});
