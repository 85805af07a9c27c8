// otpauth 9: `TOTP#validate({ token, timestamp, window: 1 })`, which tries T, T−1, T+1 and
// stops at the first match. Its Node build computes HMACs with node:crypto.
//
// One TOTP object per secret is built outside the timed region, as our key cache is warmed
// outside it: a server would keep these objects per account rather than rebuild them per call.

import { readFileSync } from 'node:fs';
import * as OTPAuth from 'otpauth';
import type { Fixtures } from '../lib/fixtures.js';
import { PERIOD, WINDOW } from '../lib/fixtures.js';
import type { Peer } from './peer.js';

function version(): string {
  const url = new URL('../../node_modules/otpauth/package.json', import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}

export function createOtpauthPeer(fx: Fixtures): Peer {
  const { timestamp } = fx;
  const totps = fx.secrets.map((s) => new OTPAuth.TOTP({
    secret: new OTPAuth.Secret({ buffer: s.slice().buffer }),
    algorithm: 'SHA1',
    digits: 6,
    period: PERIOD,
  }));
  return {
    name: 'otpauth',
    version: version(),
    verifyAll(codes) {
      let valid = 0;
      for (let i = 0; i < codes.length; i++) {
        if (totps[i]!.validate({ token: codes[i]!, timestamp, window: WINDOW }) !== null) valid++;
      }
      return valid;
    },
  };
}
