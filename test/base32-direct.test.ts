// Base32 decoded straight into a buffer (decodeInto) and into a chunk (BatchPacker.addBase32,
// the verifier's path with the key cache off), checked against an independent reference
// decoder written here (regular expressions and BigInt, no shared code): the same bytes, the
// same refusals in the same order of checks, decode()'s messages, and no decoded byte left
// behind by a refused secret.

import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { decode, encode } from '../src/base32.js';
import {
  BASE32_CHARACTER, BASE32_LENGTH, BASE32_PADDING, BASE32_TRAILING_BITS, decodeInto, maxDecodedBytes,
} from '../src/base32-into.js';
import { BatchPacker, chunkViews, packParams, wipeCore } from '../src/batch.js';
import { Base32Error, TotpVerifier, type VerifyRequest } from '../src/index.js';
import { secretBytes, type SecretRules } from '../src/secret.js';
import { instantiateCore } from '../src/wasm.js';
import { Prng, testSeed } from './helpers/prng.js';
import { refHotp } from './helpers/reference.js';

type Problem = 'padding' | 'length' | 'character' | 'trailing';
type Ref = { bytes: Uint8Array } | { problem: Problem };

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const CODES: Record<Problem, number> = {
  padding: BASE32_PADDING, length: BASE32_LENGTH, character: BASE32_CHARACTER, trailing: BASE32_TRAILING_BITS,
};
const MESSAGES: Record<Problem, RegExp> = {
  padding: /^base32: misplaced or wrong padding$/,
  length: /^base32: a length of \d+ characters cannot encode whole bytes$/,
  character: /^base32: invalid character$/,
  trailing: /^base32: non-zero trailing bits/,
};

/** RFC 4648 §6 with decode()'s documented forgiveness and strictness, written independently. */
function reference(text: string, allowTrailingBits: boolean): Ref {
  const compact = text.replace(/[ -]/g, '');
  const m = /^([^=]*)(=*)$/.exec(compact);
  if (m === null) return { problem: 'padding' };
  const data = m[1]!;
  const pad = m[2]!.length;
  if (pad > 0 && ((data.length + pad) % 8 !== 0 || pad > 6)) return { problem: 'padding' };
  if (![0, 2, 4, 5, 7].includes(data.length % 8)) return { problem: 'length' };
  let value = 0n;
  for (const unit of data.split('')) { // UTF-16 code units, as a surrogate pair is two
    const v = ALPHABET.indexOf(unit) >= 0 ? ALPHABET.indexOf(unit)
      : /^[a-z]$/.test(unit) ? ALPHABET.indexOf(unit.toUpperCase()) : -1;
    if (v < 0) return { problem: 'character' };
    value = (value << 5n) | BigInt(v);
  }
  const bytes = Math.floor((data.length * 5) / 8);
  const spare = BigInt(data.length * 5 - bytes * 8);
  if (!allowTrailingBits && (value & ((1n << spare) - 1n)) !== 0n) return { problem: 'trailing' };
  value >>= spare;
  const out = new Uint8Array(bytes);
  for (let k = bytes - 1; k >= 0; k--) {
    out[k] = Number(value & 0xffn);
    value >>= 8n;
  }
  return { bytes: out };
}

it('the reference agrees with the RFC 4648 vector and refuses what it should', () => {
  expect(reference('MZXW6YTBOI======', false)).toEqual({ bytes: new TextEncoder().encode('foobar') });
  expect(reference('mzxw-6ytb oi', false)).toEqual({ bytes: new TextEncoder().encode('foobar') });
  expect(reference('MZXW6YTBOI=', false)).toEqual({ problem: 'padding' });
  expect(reference('MZX', false)).toEqual({ problem: 'length' });
  expect(reference('MZXW6YTBO1', false)).toEqual({ problem: 'character' });
  expect(reference('MZXW6YTBOJ', false)).toEqual({ problem: 'trailing' });
  expect(reference('MZXW6YTBOJ', true)).toEqual({ bytes: new TextEncoder().encode('foobar') });
});

/** Characters edits put in: alphabet, separators, padding, and what is refused (non-ASCII too). */
const EDIT_CHARS = ['A', 'z', '7', '2', ' ', '-', '=', '0', '1', '8', '9', '@', '\0', '\x7f', 'é', 'ı', 'ſ', 'K', '€', '\u0100', '\ud83d', '\uff21'];

/** Base32 texts as people and panels write them, then possibly broken by a few edits. */
const textArb = fc.record({
  bytes: fc.uint8Array({ maxLength: 262 }), // up to 420 characters unpadded
  padding: fc.boolean(),
  lower: fc.integer({ min: 0, max: 3 }), // 0: upper, 1: lower, 2/3: mixed
  separators: fc.array(fc.tuple(fc.nat(), fc.constantFrom(' ', '-', '  ')), { maxLength: 6 }),
  edits: fc.array(fc.tuple(fc.nat(), fc.constantFrom('insert', 'replace', 'delete'), fc.constantFrom(...EDIT_CHARS)), { maxLength: 2 }),
}).map(({ bytes, padding, lower, separators, edits }) => {
  const chars = [...encode(bytes, { padding })].map((ch, i) => (lower === 1 || (lower > 1 && i % lower === 0) ? ch.toLowerCase() : ch));
  for (const [at, sep] of separators) chars.splice(at % (chars.length + 1), 0, sep);
  for (const [at, op, ch] of edits) {
    const k = at % (chars.length + 1);
    if (op === 'insert') chars.splice(k, 0, ch);
    else if (k < chars.length) chars.splice(k, 1, ...(op === 'replace' ? [ch] : []));
  }
  return chars.join('');
});

/** Any text at all, mostly of characters base32 gives meaning to. */
const anyTextArb = fc.string({ unit: fc.constantFrom(...EDIT_CHARS, ...ALPHABET, ...ALPHABET.toLowerCase()), maxLength: 420 });

const texts = fc.oneof({ arbitrary: textArb, weight: 4 }, { arbitrary: anyTextArb, weight: 1 });
const runs = { numRuns: 3000, seed: testSeed() };

describe(`decodeInto against the reference (seed ${testSeed()})`, () => {
  it('same bytes or the same problem; nothing outside its bytes written; a refusal leaves no decoded byte', () => {
    const seen = new Set<string>();
    fc.assert(fc.property(texts, fc.boolean(), fc.nat(40), (text, allow, offset) => {
      const want = reference(text, allow);
      seen.add('bytes' in want ? 'bytes' : want.problem);
      const out = new Uint8Array(offset + maxDecodedBytes(text.length) + 8).fill(0xa5);
      const got = decodeInto(text, out, offset, allow);
      if ('bytes' in want) {
        expect(got).toBe(want.bytes.length);
        expect(out.subarray(offset, offset + got)).toEqual(want.bytes);
        expect(out.subarray(0, offset).every((b) => b === 0xa5)).toBe(true);
        expect(out.subarray(offset + got).every((b) => b === 0xa5)).toBe(true);
      } else {
        expect(got).toBe(CODES[want.problem]);
        // Whatever was written is zero again; the rest untouched.
        expect(out.every((b) => b === 0xa5 || b === 0)).toBe(true);
      }
    }), runs);
    // The generators reach every outcome.
    expect([...seen].sort()).toEqual(['bytes', 'character', 'length', 'padding', 'trailing']);
  });

  it('decode() gives the same bytes, or a Base32Error with its message that does not quote the text', () => {
    fc.assert(fc.property(texts, fc.boolean(), (text, allow) => {
      const want = reference(text, allow);
      let got: Uint8Array | unknown;
      try {
        got = decode(text, { allowTrailingBits: allow });
      } catch (error) {
        got = error;
      }
      if ('bytes' in want) {
        expect(got).toEqual(want.bytes);
        expect((got as Uint8Array).buffer.byteLength).toBe(want.bytes.length); // exact, not a view of a larger buffer
      } else {
        expect(got).toBeInstanceOf(Base32Error);
        const message = (got as Error).message;
        expect(message).toMatch(MESSAGES[want.problem]);
        if (text.length >= 8) expect(message).not.toContain(text.slice(0, 8));
      }
    }), runs);
  });

  it('the length message counts the data characters', () => {
    expect(() => decode('AB-C DEF GH=')).toThrow('base32: misplaced or wrong padding');
    expect(() => decode('ABCDEFGH A')).toThrow('base32: a length of 9 characters cannot encode whole bytes');
    expect(() => decode('ABCDEFGH-ABC')).toThrow('base32: a length of 11 characters cannot encode whole bytes');
  });

  it('refuses too little room with a RangeError, and has wiped what it wrote', () => {
    const text = encode(new Uint8Array(20).fill(0x5c)) + 'AA'; // 34 characters: 21 bytes
    const out = new Uint8Array(20);
    expect(() => decodeInto(text, out, 0, false)).toThrow(RangeError);
    expect(out.every((b) => b === 0)).toBe(true);
  });
});

const core = instantiateCore();
const { layout } = core;
const PARAMS = packParams(layout, 6, 1, 1);
const RULES: SecretRules[] = [
  { minSecretBytes: 16, maxSecretBytes: 256, allowBase32TrailingBits: false },
  { minSecretBytes: 10, maxSecretBytes: 64, allowBase32TrailingBits: true },
];
afterAll(() => wipeCore(core));

describe('BatchPacker.addBase32 against secretBytes', () => {
  for (const inCore of [false, true]) {
    it(`${inCore ? 'packed in the core' : 'packed in buffers'}: same keys, same refusals, and a refused secret's bytes are zero afterwards`, () => {
      fc.assert(fc.property(fc.array(texts, { minLength: 1, maxLength: 12 }), fc.constantFrom(...RULES), (batch, rules) => {
        const packer = inCore ? new BatchPacker(layout, batch.length, layout.maxItems, 10, core) : new BatchPacker(layout, batch.length);
        const want: Uint8Array[] = [];
        for (const text of batch) {
          const key = secretBytes(text, rules);
          const got = packer.addBase32(text, rules, 1, 0, PARAMS);
          if (typeof key === 'string') expect(got).toBe(key);
          else {
            expect(got).toBe(want.length);
            want.push(key);
          }
        }
        const chunks = packer.finish();
        expect(chunks.length).toBe(want.length > 0 ? 1 : 0);
        if (chunks.length === 0) {
          // Every secret refused: what was decoded into the core's pool is gone.
          if (inCore) expect(core.views.keyPool.subarray(0, 1024).every((b) => b === 0)).toBe(true);
          return;
        }
        const chunk = chunks[0]!;
        const v = inCore ? { ...core.views, keys: core.views.keyPool } : chunkViews(layout, chunk);
        const keys = v.keys;
        let end = 0;
        for (const [k, key] of want.entries()) {
          expect(keys.subarray(v.keyOff[k]!, v.keyOff[k]! + v.keyLen[k]!)).toEqual(key);
          end = Math.max(end, v.keyOff[k]! + v.keyLen[k]!);
        }
        expect(end).toBe(chunk.keyBytes);
        // Past the packed keys: nothing, though refused secrets were decoded there.
        expect(keys.subarray(chunk.keyBytes, chunk.keyBytes + 1024).every((b) => b === 0)).toBe(true);
        if (inCore) wipeCore(core);
      }), { numRuns: 400, seed: testSeed() });
    });
  }

  it('wipes a refused secret decoded into the chunk: too short, too long, a bad last character', () => {
    const rules = RULES[0]!;
    const good = encode(new Uint8Array(20).fill(0x11));
    const refused = [
      [encode(new Uint8Array(10).fill(0xee)), 'secret-length'], // decodes, too short
      [encode(new Uint8Array(257).fill(0xee)), 'secret-length'], // 412 characters: decoded apart
      [`${encode(new Uint8Array(40).fill(0xee))}1`, 'secret-encoding'], // 320 bits decoded, then a bad character
      [`${encode(new Uint8Array(40).fill(0xee)).slice(0, -1)}9`, 'secret-encoding'], // bad in the last group
    ] as const;
    const packer = new BatchPacker(layout, 3);
    expect(packer.addBase32(good, rules, 1, 0, PARAMS)).toBe(0);
    for (const [text, problem] of refused) expect(packer.addBase32(text, rules, 1, 0, PARAMS)).toBe(problem);
    expect(packer.addBase32(good.toLowerCase(), rules, 1, 0, PARAMS)).toBe(1);
    const [chunk] = packer.finish();
    expect(chunk!.count).toBe(2);
    expect(chunk!.keyBytes).toBe(40);
    const keys = chunkViews(layout, chunk!).keys;
    expect(keys.subarray(0, 40).every((b) => b === 0x11)).toBe(true);
    expect(keys.subarray(40).every((b) => b === 0)).toBe(true);
  });

  it('decodes a text with many separators (more characters than maxKeyBytes allows for) apart, correctly', () => {
    const bytes = new Uint8Array(32).map((_, i) => i * 7);
    const text = [...encode(bytes)].join('  -  -  ');
    expect(maxDecodedBytes(text.length)).toBeGreaterThan(layout.maxKeyBytes);
    const packer = new BatchPacker(layout, 1);
    expect(packer.addBase32(text, RULES[0]!, 1, 0, PARAMS)).toBe(0);
    const [chunk] = packer.finish();
    expect(chunkViews(layout, chunk!).keys.subarray(0, 32)).toEqual(bytes);
  });
});

describe('the verifier with the key cache off answers as with it on', () => {
  const TS = 1_700_000_000_000;
  const STEP = BigInt(Math.floor(TS / 30_000));
  const verifiers = {
    off: TotpVerifier.create({ threads: 0, keyCacheSize: 0 }),
    on: TotpVerifier.create({ threads: 0 }),
    tiny: TotpVerifier.create({ threads: 0, keyCacheSize: 4 }),
    legacyOff: TotpVerifier.create({ threads: 0, keyCacheSize: 0, minSecretBytes: 10 }),
    legacyOn: TotpVerifier.create({ threads: 0, minSecretBytes: 10 }),
  };
  afterAll(async () => {
    await Promise.all(Object.values(verifiers).map(async (v) => (await v).close()));
  });

  /** Good and bad base32 secrets, spelled variously; codes valid at -2..2 steps, or not. */
  function mixed(seed: number, n: number): VerifyRequest[] {
    const rng = new Prng(seed);
    const out: VerifyRequest[] = [];
    for (let i = 0; i < n; i++) {
      const bytes = rng.bytes([10, 16, 20, 32, 64, 200, 256, 257][rng.u32() % 8]!);
      let text = encode(bytes, { padding: rng.u32() % 2 === 0 });
      if (rng.u32() % 3 === 0) text = text.toLowerCase().replace(/(.{4})/g, '$1 ');
      const code = rng.u32() % 3 === 0 ? String(rng.u32() % 1_000_000).padStart(6, '0')
        : refHotp(bytes, STEP + BigInt((rng.u32() % 5) - 2), 6);
      switch (rng.u32() % 6) {
        case 0: text = `${text.slice(0, 5)}1${text.slice(6)}`; break; // a bad character
        case 1: text = text.slice(0, -1); break; // a length or trailing-bit problem
        default: break;
      }
      out.push({ secret: text, code, timestamp: TS });
    }
    return out;
  }

  it('mixed good and bad secrets, item for item (and the cache-off answers are not all alike)', async () => {
    const reqs = mixed(testSeed(), 600);
    const off = await (await verifiers.off).verifyBatch(reqs);
    expect(await (await verifiers.on).verifyBatch(reqs)).toEqual(off);
    const tiny = [];
    for (let i = 0; i < reqs.length; i += 50) tiny.push(...(await (await verifiers.tiny).verifyBatch(reqs.slice(i, i + 50))));
    expect(tiny).toEqual(off);
    const statuses = new Set(off.map((r) => (r.status === 'malformed' ? `malformed ${r.reason}` : r.status)));
    expect([...statuses].sort()).toEqual(['invalid', 'malformed secret-encoding', 'malformed secret-length', 'valid']);
    // And one at a time (the batch of one takes the same path).
    for (const r of reqs.slice(0, 60)) expect(await (await verifiers.off).verify(r)).toEqual(await (await verifiers.on).verify(r));
  });

  it('with minSecretBytes lowered: the same answers and the same rotate flags', async () => {
    const reqs = mixed(testSeed() + 1, 400);
    const off = await (await verifiers.legacyOff).verifyBatch(reqs);
    expect(await (await verifiers.legacyOn).verifyBatch(reqs)).toEqual(off);
    expect(off.some((r) => r.status === 'valid' && r.rotate === true)).toBe(true);
  });
});
