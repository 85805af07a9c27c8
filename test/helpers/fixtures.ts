// Shared fixtures for the facade tests: a deterministic valid request and text transforms.

import { base32, totp } from '../../src/index.js';
import { Prng } from './prng.js';

/** A fixed instant (2023-11-14) and a 20-byte key; CODE is its valid 6-digit code. */
export const TS = 1_700_000_000_000;
export const KEY = new Prng(20).bytes(20);
export const KEY_B32 = base32.encode(KEY);
export const CODE = totp.generate(KEY, { timestamp: TS });

/** The same digits in another Unicode digit block (zero at `zero`). */
export function otherDigits(code: string, zero: number): string {
  return [...code].map((ch) => String.fromCodePoint(zero + ch.charCodeAt(0) - 48)).join('');
}
