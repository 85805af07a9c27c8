// otplib 13 as its README recommends for synchronous use: the functional `verifySync` with its
// default plugins (@noble/hashes HMAC, @scure/base base32). `epochTolerance` is in seconds:
// 30 at a mid-period epoch covers exactly steps T−1, T, T+1 (otplib tries them oldest first).
// Secrets are passed as raw bytes, otplib's cheapest input (no base32 decoding per call).

import type { Fixtures } from '../fixtures.js';
import { WINDOW, PERIOD } from '../fixtures.js';
import { packageVersion } from '../versions.js';
import { importPeer, type Peer } from './peer.js';

export async function createOtplibPeer(fx: Fixtures): Promise<Peer> {
  const { verifySync } = await importPeer('otplib', () => import('otplib'));
  const { secrets, epochSeconds } = fx;
  const epochTolerance = WINDOW * PERIOD;
  return {
    name: 'otplib',
    version: packageVersion('otplib') ?? 'unknown',
    verifyAll(codes) {
      let valid = 0;
      for (let i = 0; i < codes.length; i++) {
        const r = verifySync({ secret: secrets[i]!, token: codes[i]!, epoch: epochSeconds, epochTolerance });
        if (r.valid) valid++;
      }
      return valid;
    },
  };
}
