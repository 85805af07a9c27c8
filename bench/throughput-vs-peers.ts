// Scenario: the facade's verifyBatch on one thread against node:crypto, otplib and otpauth.
//
// Issue 3: facade verifyBatch, key cache warm, one thread ≥ 30× the node:crypto baseline on
// valid codes and on invalid codes; otplib and otpauth printed in the same run (expected ≥ 500×
// and ≥ 60×). "One thread" is `threads: 0`: every batch runs inline on the calling thread.
// Secrets are base32 text (what the key cache is keyed by), the cache warmed by one untimed
// batch; the KeyHandle variant (`importKeys`) is shown for information. All ten tasks are
// measured interleaved, so the ratios compare figures taken under the same conditions.
//
// Run alone: node --expose-gc --import tsx bench/throughput-vs-peers.ts

import { TotpVerifier } from '../dist/index.js';
import { batchTask, type Kind, makeRequests, type SecretForm } from './lib/facade.js';
import { fixtures } from './lib/fixtures.js';
import { measureGroup, type TaskSpec } from './lib/measure.js';
import { peerTasks } from './lib/peers.js';
import type { Report, Scenario } from './lib/report.js';
import { isMain, runScenarios } from './lib/run.js';
import { createNodeCryptoPeer } from './peers/node-crypto.js';
import { createOtpauthPeer } from './peers/otpauth.js';
import { createOtplibPeer } from './peers/otplib.js';

const ID = 'throughput-vs-peers';

async function run(report: Report): Promise<void> {
  const fx = fixtures();
  const verifier = await TotpVerifier.create({ threads: 0, window: 1 });
  try {
    const handles = verifier.importKeys(fx.secrets);
    const facade = (form: SecretForm, kind: Kind): Promise<TaskSpec> => batchTask({
      id: `${ID}/facade-${form}/${kind}`,
      scenario: ID,
      label: `facade verifyBatch(10k), ${form === 'base32' ? 'base32, cache warm' : 'KeyHandle'}, threads 0, ${kind}`,
    }, verifier, makeRequests(fx, kind, form, fx.count, handles), kind, fx);
    const [nodeV, nodeI] = peerTasks(ID, 'node-crypto', createNodeCryptoPeer);
    const [otpauthV, otpauthI] = peerTasks(ID, 'otpauth', createOtpauthPeer);
    const [otplibV, otplibI] = peerTasks(ID, 'otplib', createOtplibPeer);
    // Partners of a ratio next to each other: each round measures them seconds apart.
    const tasks = [
      nodeV, await facade('base32', 'valid'), await facade('handle', 'valid'), otpauthV, otplibV,
      nodeI, await facade('base32', 'invalid'), await facade('handle', 'invalid'), otpauthI, otplibI,
    ];
    const figs = report.add(...await measureGroup(tasks));
    const cache = verifier.stats().keyCache;
    report.note(ID, `key cache after the run: ${cache.size} entries, ${cache.hits} hits, ${cache.misses} misses (the misses are the one untimed warming batch)`);
    if (cache.misses !== fx.count) throw new Error(`${ID}: the key cache missed ${cache.misses} times; it was not warm`);

    for (const [k, kind] of (['valid', 'invalid'] as const).entries()) {
      const [base, warm, handle, otpauth, otplib] = figs.slice(k * 5, k * 5 + 5);
      report.ratio(ID, `facade (cache warm) ÷ node:crypto, ${kind}`, warm!, base!, 30);
      report.ratio(ID, `facade (cache warm) ÷ otplib, ${kind}`, warm!, otplib!, 500);
      report.ratio(ID, `facade (cache warm) ÷ otpauth, ${kind}`, warm!, otpauth!, 60);
      report.ratio(ID, `facade (KeyHandle) ÷ node:crypto, ${kind}`, handle!, base!);
    }
  } finally {
    await verifier.close();
  }
}

export const scenario: Scenario = { id: ID, title: 'facade verifyBatch vs node:crypto, otplib, otpauth (one thread)', run };

if (isMain(import.meta.url)) await runScenarios([scenario]);
