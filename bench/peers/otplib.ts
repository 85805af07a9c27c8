// otplib 13 as its README recommends for synchronous use: the functional `verifySync` with its
// default plugins (@noble/hashes HMAC, @scure/base base32). `epochTolerance` is in seconds:
// 30 at a mid-period epoch covers exactly steps T−1, T, T+1 (otplib tries them oldest first).
// Secrets are passed as raw bytes, otplib's cheapest input (no base32 decoding per call).

import { readFileSync } from 'node:fs';
import { verifySync } from 'otplib';
import type { Fixtures } from '../lib/fixtures.js';
import { WINDOW, PERIOD } from '../lib/fixtures.js';
import type { Peer } from './peer.js';

function version(): string {
  const url = new URL('../../node_modules/otplib/package.json', import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}

export function createOtplibPeer(fx: Fixtures): Peer {
  const { secrets, epochSeconds } = fx;
  const epochTolerance = WINDOW * PERIOD;
  return {
    name: 'otplib',
    version: version(),
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
