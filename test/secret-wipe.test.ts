// A base32 secret refused for its length: its bytes, decoded here, are zeroed before the
// refusal (as every other decoded copy is), not left to the garbage collector.

import { describe, expect, it, vi } from 'vitest';

const decoded: Uint8Array[] = [];
vi.mock('../src/base32.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../src/base32.js')>();
  return {
    ...actual,
    decode: (...args: Parameters<typeof actual.decode>) => {
      const bytes = actual.decode(...args);
      decoded.push(bytes);
      return bytes;
    },
  };
});

const { TotpVerifier } = await import('../src/index.js');
const { base32 } = await import('../src/index.js');

describe('a base32 secret of a refused length', () => {
  // 10 bytes: below the default minimum of 16 (a legacy secret, not opted into).
  const short = base32.encode(Uint8Array.from({ length: 10 }, (_, i) => 0xa0 + i));
  // 300 bytes: above any maximum.
  const long = base32.encode(Uint8Array.from({ length: 300 }, (_, i) => (i * 37 + 1) & 0xff || 1));

  for (const keyCacheSize of [100, 0]) {
    it(`is answered malformed and its decoded bytes are zeroed (keyCacheSize ${keyCacheSize})`, async () => {
      const v = await TotpVerifier.create({ threads: 0, keyCacheSize, store: null });
      try {
        decoded.length = 0;
        const results = await v.verifyBatch([
          { secret: short, code: '123456', timestamp: 1_700_000_000_000 },
          { secret: long, code: '123456', timestamp: 1_700_000_000_000 },
        ]);
        expect(results.map((r) => r.status === 'malformed' && r.reason)).toEqual(['secret-length', 'secret-length']);
        expect(decoded.length).toBeGreaterThan(0);
        for (const bytes of decoded) expect(bytes.every((b) => b === 0)).toBe(true);
      } finally {
        await v.close();
      }
    });
  }
});
