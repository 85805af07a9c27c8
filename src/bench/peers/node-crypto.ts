// The baseline of issue 3: a hand-written TOTP verifier on node:crypto, the way a careful
// developer would write one without a library. One `createHmac` per candidate step, in the
// order T, T−1, T+1, stopping at the first match. Single thread, no caching: each candidate
// hashes the key blocks again, as `createHmac(key)` must.
//
// Stopping at the first match leaks which step matched through timing; for a baseline that is
// the cheap choice, and it is the one the issue defines.

import { createHmac } from 'node:crypto';
import type { Fixtures } from '../fixtures.js';
import type { Peer } from './peer.js';

const PERIOD_MS = 30_000;
const TWO_32 = 2 ** 32;
const CODE = /^[0-9]{6}$/;

/** One 8-byte counter block, reused: the hash reads it before the next candidate writes it. */
const block = Buffer.alloc(8);

/** HOTP(key, counter) as a number below 10^6 (RFC 4226 §5.3). */
function hotp(key: Uint8Array, counter: number): number {
  block.writeUInt32BE(Math.floor(counter / TWO_32), 0);
  block.writeUInt32BE(counter >>> 0, 4);
  const mac = createHmac('sha1', key).update(block).digest();
  const o = mac[19]! & 0x0f;
  return (((mac[o]! & 0x7f) << 24) | (mac[o + 1]! << 16) | (mac[o + 2]! << 8) | mac[o + 3]!) % 1_000_000;
}

/**
 * The delta of the first matching step among T, T−1, T+1, or null.
 *
 * @example
 * verifyTotp(key, '287082', Date.now()) // 0, -1, 1 or null
 */
export function verifyTotp(key: Uint8Array, code: string, timestampMs: number): number | null {
  if (!CODE.test(code)) return null;
  const want = Number(code);
  const t = Math.floor(timestampMs / PERIOD_MS);
  if (hotp(key, t) === want) return 0;
  if (t > 0 && hotp(key, t - 1) === want) return -1;
  if (hotp(key, t + 1) === want) return 1;
  return null;
}

export async function createNodeCryptoPeer(fx: Fixtures): Promise<Peer> {
  const { secrets, timestamp } = fx;
  return {
    name: 'node:crypto',
    version: `Node ${process.version}, OpenSSL ${process.versions.openssl}`,
    verifyAll(codes) {
      let valid = 0;
      for (let i = 0; i < codes.length; i++) if (verifyTotp(secrets[i]!, codes[i]!, timestamp) !== null) valid++;
      return valid;
    },
  };
}
