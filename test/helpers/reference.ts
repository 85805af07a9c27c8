// An independent reference for HOTP/TOTP built on node:crypto, with exact bigint arithmetic.
// It shares no code with src/ or assembly/, so agreeing with it means something.

import { createHmac } from 'node:crypto';

export type HashName = 'sha1' | 'sha256' | 'sha512';

export const MAX_U64 = (1n << 64n) - 1n;

/** The 8-byte big-endian counter block of RFC 4226 §5.2. */
function counterBlock(counter: bigint): Buffer {
  if (counter < 0n || counter > MAX_U64) throw new RangeError('reference: counter out of range');
  const block = Buffer.alloc(8);
  block.writeBigUInt64BE(counter);
  return block;
}

/** HMAC(key, counter) — RFC 2104 hashes keys longer than a block first; node:crypto does too. */
export function refHmac(key: Uint8Array, counter: bigint, hash: HashName = 'sha1'): Buffer {
  return createHmac(hash, key).update(counterBlock(counter)).digest();
}

/** Dynamic truncation (RFC 4226 §5.3): a 31-bit number. */
export function refTruncate(mac: Uint8Array): number {
  const offset = mac[mac.length - 1]! & 0x0f;
  return (((mac[offset]! & 0x7f) << 24) | (mac[offset + 1]! << 16) | (mac[offset + 2]! << 8) | mac[offset + 3]!) >>> 0;
}

/** The HOTP code as the zero-padded string a user types. */
export function refHotp(key: Uint8Array, counter: bigint, digits: number, hash: HashName = 'sha1'): string {
  return String(refTruncate(refHmac(key, counter, hash)) % 10 ** digits).padStart(digits, '0');
}

/** T = floor((t - T0) / X) on whole milliseconds, exactly (bigint); null before T0. */
export function refStep(timestampMs: number, period: number, t0 = 0): bigint | null {
  const elapsed = BigInt(Math.floor(timestampMs)) - BigInt(t0) * 1000n;
  if (elapsed < 0n) return null;
  return elapsed / (BigInt(period) * 1000n);
}

/** The window candidates in the order they are tried: T, T-1, T+1, T-2, T+2, ... (within 0..2^64-1). */
export function refCandidates(step: bigint, past: number, future: number): { delta: number; step: bigint }[] {
  const out = [{ delta: 0, step }];
  for (let k = 1; k <= Math.max(past, future); k++) {
    const b = BigInt(k);
    if (k <= past && step - b >= 0n) out.push({ delta: -k, step: step - b });
    if (k <= future && step + b <= MAX_U64) out.push({ delta: k, step: step + b });
  }
  return out;
}

/** The delta of the first candidate whose code is `code`, or null. */
export function refVerify(
  key: Uint8Array, step: bigint, code: string, digits: number, past: number, future: number, hash: HashName = 'sha1',
): number | null {
  for (const c of refCandidates(step, past, future)) {
    if (refHotp(key, c.step, digits, hash) === code) return c.delta;
  }
  return null;
}
