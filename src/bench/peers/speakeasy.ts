// speakeasy 2: `totp.verify({ secret, token, window: 1, time, step })`, which tries T−1, T,
// T+1 (oldest first) with node:crypto HMACs. Unmaintained since 2017, and still among the most
// installed TOTP packages, so still what many control-panel integrations run.
//
// Secrets are passed as Buffers, built outside the timed region: speakeasy's cheapest input
// (a string would be decoded on every call).

import type { Fixtures } from '../fixtures.js';
import { PERIOD, WINDOW } from '../fixtures.js';
import { packageVersion } from '../versions.js';
import { importPeer, type Peer } from './peer.js';

export async function createSpeakeasyPeer(fx: Fixtures): Promise<Peer> {
  // A CommonJS package: imported from ESM, its module.exports is the default export.
  const { default: speakeasy } = await importPeer('speakeasy', () => import('speakeasy'));
  // speakeasy takes a Buffer as it is (index.js: Buffer.isBuffer(secret)); its types say string.
  const secrets = fx.secrets.map((s) => Buffer.from(s));
  const time = fx.epochSeconds;
  return {
    name: 'speakeasy',
    version: packageVersion('speakeasy') ?? 'unknown',
    verifyAll(codes) {
      let valid = 0;
      for (let i = 0; i < codes.length; i++) {
        if (speakeasy.totp.verify({ secret: secrets[i]! as unknown as string, token: codes[i]!, window: WINDOW, time, step: PERIOD })) valid++;
      }
      return valid;
    },
  };
}
