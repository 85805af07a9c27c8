// Scenario: secrets that the key cache does not help: raw Uint8Array secrets (never cached:
// their midstates are derived in every batch, four keys at a time in SIMD) and base32 text
// with the cache off (`keyCacheSize: 0`: decoded and derived in every batch).
//
// Issue 3: raw secrets with the cache cold or off ≥ 12× the node:crypto baseline. A cold
// cache behaves as an absent one for a batch of distinct secrets (every item misses once), so
// "off" is measured, repeatably. The baseline is measured here again, interleaved with these
// tasks, so that each ratio compares figures taken under the same conditions.
//
// Run alone: node --expose-gc --import tsx bench/cold-cache.ts

import { TotpVerifier } from '../dist/index.js';
import { batchTask, type Kind, makeRequests } from './lib/facade.js';
import { fixtures } from './lib/fixtures.js';
import { measureGroup, type TaskSpec } from './lib/measure.js';
import { peerTasks } from './lib/peers.js';
import type { Report, Scenario } from './lib/report.js';
import { isMain, runScenarios } from './lib/run.js';
import { createNodeCryptoPeer } from './peers/node-crypto.js';

const ID = 'cold-cache';

async function run(report: Report): Promise<void> {
  const fx = fixtures();
  const verifier = await TotpVerifier.create({ threads: 0, window: 1, keyCacheSize: 0 });
  try {
    const facade = (form: 'bytes' | 'base32', kind: Kind): Promise<TaskSpec> => batchTask({
      id: `${ID}/facade-${form}/${kind}`,
      scenario: ID,
      label: `facade verifyBatch(10k), ${form === 'bytes' ? 'Uint8Array' : 'base32'} secrets, cache off, threads 0, ${kind}`,
    }, verifier, makeRequests(fx, kind, form), kind, fx);
    const [nodeV, nodeI] = peerTasks(ID, 'node-crypto', createNodeCryptoPeer);
    // Partners of a ratio next to each other: each round measures them seconds apart.
    const tasks = [
      nodeV, await facade('bytes', 'valid'), await facade('base32', 'valid'),
      nodeI, await facade('bytes', 'invalid'), await facade('base32', 'invalid'),
    ];
    const [baseV, bytesV, textV, baseI, bytesI, textI] = report.add(...await measureGroup(tasks));
    const cache = verifier.stats().keyCache;
    if (cache.size !== 0 || cache.hits !== 0) throw new Error(`${ID}: the key cache was used (${JSON.stringify(cache)})`);
    report.ratio(ID, 'facade (Uint8Array, no cache) ÷ node:crypto, valid', bytesV!, baseV!, 12);
    report.ratio(ID, 'facade (base32, cache off) ÷ node:crypto, valid', textV!, baseV!, 12);
    report.ratio(ID, 'facade (Uint8Array, no cache) ÷ node:crypto, invalid', bytesI!, baseI!, 12);
    report.ratio(ID, 'facade (base32, cache off) ÷ node:crypto, invalid', textI!, baseI!, 12);
  } finally {
    await verifier.close();
  }
}

export const scenario: Scenario = { id: ID, title: 'raw secrets, key cache off (one thread)', run };

if (isMain(import.meta.url)) await runScenarios([scenario]);
