// otpauth 9: `TOTP#validate({ token, timestamp, window: 1 })`, which tries T, T−1, T+1 and
// stops at the first match. Its Node build computes HMACs with node:crypto.
//
// One TOTP object per secret is built outside the timed region, as our key cache is warmed
// outside it: a server would keep these objects per account rather than rebuild them per call.

import type { Fixtures } from '../fixtures.js';
import { PERIOD, WINDOW } from '../fixtures.js';
import { packageVersion } from '../versions.js';
import { importPeer, type Peer } from './peer.js';

export async function createOtpauthPeer(fx: Fixtures): Promise<Peer> {
  const OTPAuth = await importPeer('otpauth', () => import('otpauth'));
  const { timestamp } = fx;
  const totps = fx.secrets.map((s) => new OTPAuth.TOTP({
    secret: new OTPAuth.Secret({ buffer: s.slice().buffer }),
    algorithm: 'SHA1',
    digits: 6,
    period: PERIOD,
  }));
  return {
    name: 'otpauth',
    version: packageVersion('otpauth') ?? 'unknown',
    verifyAll(codes) {
      let valid = 0;
      for (let i = 0; i < codes.length; i++) {
        if (totps[i]!.validate({ token: codes[i]!, timestamp, window: WINDOW }) !== null) valid++;
      }
      return valid;
    },
  };
}
