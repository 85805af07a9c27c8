// base32 (RFC 4648 §6): the RFC's vectors, what decoding forgives (case, padding, separators)
// and what it refuses (alphabet, impossible lengths, misplaced padding, non-zero trailing
// bits), with errors that never quote the input.

import { describe, expect, it } from 'vitest';
import { base32, Base32Error } from '../src/index.js';
import { ascii, base32Vectors, fromHex, rfc4648 } from './helpers/vectors.js';

/** Decodes, returning the error instead of throwing it. */
function decodeError(text: string, options?: { allowTrailingBits?: boolean }): unknown {
  try {
    base32.decode(text, options);
  } catch (error) {
    return error;
  }
  return undefined;
}

describe(rfc4648.source, () => {
  it.each(rfc4648.vectors)('"$ascii" <-> "$encoded"', ({ ascii: text, encoded }) => {
    const bytes = ascii(text);
    const unpadded = encoded.replace(/=+$/, '');
    expect(base32.encode(bytes)).toBe(unpadded);
    expect(base32.encode(bytes, { padding: true })).toBe(encoded);
    expect(base32.decode(encoded)).toEqual(bytes);
    expect(base32.decode(unpadded)).toEqual(bytes);
    expect(base32.decode(encoded.toLowerCase())).toEqual(bytes);
  });
});

describe(base32Vectors.source, () => {
  it.each(base32Vectors.vectors)('$secret', (v) => {
    const key = fromHex(v.hex);
    expect(base32.decode(v.secret, { allowTrailingBits: true })).toEqual(key);
    if (v.trailingBits) {
      const error = decodeError(v.secret);
      expect(error).toBeInstanceOf(Base32Error);
      expect((error as Error).message).toMatch(/trailing bits/);
      // Re-encoding gives the canonical spelling, which strict decoding accepts.
      expect(base32.encode(key)).not.toBe(v.secret.toUpperCase());
      expect(base32.decode(base32.encode(key))).toEqual(key);
    } else {
      expect(base32.decode(v.secret)).toEqual(key);
      expect(base32.encode(key)).toBe(v.secret.toUpperCase());
    }
  });
});

describe('decode forgives how people type secrets', () => {
  const text = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
  const bytes = ascii('12345678901234567890');
  it.each([
    ['upper case', text],
    ['lower case', text.toLowerCase()],
    ['groups of four with spaces', 'GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ'],
    ['groups with hyphens', 'gezd-gnbv-gy3t-qojq-gezd-gnbv-gy3t-qojq'],
    ['leading and trailing spaces', `  ${text}  `],
  ])('%s', (_, input) => {
    expect(base32.decode(input)).toEqual(bytes);
  });
});

describe('decode refuses', () => {
  const refused: [string, string, RegExp][] = [
    ...['0', '1', '8', '9', '!', '=A', '_', '.', ',', '\t', '\n', '\0', 'é', 'Ａ', '٣', '+', '/'].map(
      (ch): [string, string, RegExp] => [`the character ${JSON.stringify(ch)}`, `MZXW${ch}6YTB`, /invalid character|padding|length/]),
    ...[1, 3, 6, 9, 11, 14].map((n): [string, string, RegExp] => [`${n} characters (${n % 8} mod 8)`, 'A'.repeat(n), /cannot encode whole bytes/]),
    ['padding in the middle', 'MY======MY======', /padding/],
    ['padding not filling the group', 'MY=====', /padding/],
    ['too much padding', 'MY=======', /padding/],
    ['a group of only padding', '========', /padding/],
    ['padding of 2 (an impossible tail of 6)', 'MZXW6Y==', /padding|length/],
    ['padding of 5 (an impossible tail of 3)', 'MZX=====', /padding|length/],
    ['non-zero trailing bits (MZ for "f")', 'MZ', /trailing bits/],
    ['non-zero trailing bits (MZXR for "fo")', 'MZXR', /trailing bits/],
    ['non-zero trailing bits, padded', 'MZ======', /trailing bits/],
  ];
  it.each(refused)('%s', (_, input, message) => {
    const error = decodeError(input);
    expect(error).toBeInstanceOf(Base32Error);
    expect(error).toMatchObject({ name: 'Base32Error' });
    expect((error as Error).message).toMatch(message);
  });

  it('non-zero trailing bits are accepted (and dropped) with allowTrailingBits', () => {
    expect(base32.decode('MZ', { allowTrailingBits: true })).toEqual(ascii('f'));
    expect(base32.decode('MZXR', { allowTrailingBits: true })).toEqual(ascii('fo'));
    // Only the trailing bits are forgiven: the rest stays strict.
    expect(decodeError('MZ1', { allowTrailingBits: true })).toBeInstanceOf(Base32Error);
    expect(decodeError('A', { allowTrailingBits: true })).toBeInstanceOf(Base32Error);
  });

  it('messages never quote the input', () => {
    const secrets = ['JBSWY3DPEHPK3PX1', 'JBSWY3DPEHPK3PXPJ', 'JBSWY3DP=EHPK3PXP', 'JBSWY3DPEHPK3PXPJB', 'JBSWY3DPEHPK3PXP==='];
    for (const s of secrets) {
      const error = decodeError(s);
      expect(error, s).toBeInstanceOf(Base32Error);
      const message = (error as Error).message;
      for (let i = 0; i + 5 <= s.length; i++) expect(message).not.toContain(s.slice(i, i + 5));
      expect(String((error as Error).stack)).not.toContain(s);
    }
  });

  it('wrong argument types are TypeErrors', () => {
    expect(() => base32.decode(42 as never)).toThrow(TypeError);
    expect(() => base32.decode(null as never)).toThrow(TypeError);
    expect(() => base32.encode('foo' as never)).toThrow(TypeError);
    expect(() => base32.encode([1, 2] as never)).toThrow(TypeError);
  });
});
