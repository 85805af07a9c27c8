// Suite: the key cache warm against cold. Base32 secrets with the cache warm (every secret's
// midstates cached by an untimed batch), base32 with the cache off (`keyCacheSize: 0`: decoded
// and derived in every batch), and raw Uint8Array secrets (never cached: derived in every
// batch, four keys at a time in SIMD). A cold cache behaves as an absent one for a batch of
// distinct secrets (every item misses once), so "off" is measured, repeatably.
//
// Issue 3: raw secrets with the cache cold or off ≥ 12× the node:crypto baseline, which is
// measured here again, interleaved with these tasks.

import { TotpVerifier } from '../../index.js';
import { batchTask, type Kind, makeRequests } from '../facade.js';
import { fixtures } from '../fixtures.js';
import { peerTasks } from '../peer-tasks.js';
import type { Suite, SuiteContext } from '../suite.js';

const ID = 'cold-cache';

async function run(ctx: SuiteContext): Promise<void> {
  const { report } = ctx;
  const fx = fixtures();
  const warmVerifier = await TotpVerifier.create({ threads: 0, window: 1 });
  const coldVerifier = await TotpVerifier.create({ threads: 0, window: 1, keyCacheSize: 0 });
  try {
    const base = await peerTasks(report, ID, 'node-crypto');
    if (base === null) throw new Error(`${ID}: node:crypto is part of Node; it cannot be missing`);
    for (const [k, kind] of (ctx.profile.kinds as Kind[]).entries()) {
      const task = (form: 'bytes' | 'base32', warm: boolean) => batchTask({
        id: `${ID}/facade-${form}${warm ? '-warm' : ''}/${kind}`,
        scenario: ID,
        label: `facade verifyBatch(10k), ${form === 'bytes' ? 'Uint8Array, no cache' : warm ? 'base32, cache warm' : 'base32, cache off'}, threads 0, ${kind}`,
        params: { kind, threads: 0, batch: fx.count },
      }, warm ? warmVerifier : coldVerifier, makeRequests(fx, kind, form), kind, fx);
      const tasks = [base[kind === 'valid' ? 0 : 1]!, await task('base32', true), await task('bytes', false), await task('base32', false)];
      const [node, warm, bytes, text] = await ctx.measure(tasks, { groupsLeft: ctx.profile.kinds.length - k });
      report.ratio(ID, `cache warm ÷ cache off (base32), ${kind}`, warm!, text!);
      report.ratio(ID, `facade (Uint8Array, no cache) ÷ node:crypto, ${kind}`, bytes!, node!, 12);
      report.ratio(ID, `facade (base32, cache off) ÷ node:crypto, ${kind}`, text!, node!, 12);
    }
    const cold = coldVerifier.stats().keyCache;
    if (cold.size !== 0 || cold.hits !== 0) throw new Error(`${ID}: the key cache was used with keyCacheSize 0 (${JSON.stringify(cold)})`);
  } finally {
    await Promise.all([warmVerifier.close(), coldVerifier.close()]);
  }
}

export const suite: Suite = { id: ID, title: 'key cache warm vs cold (base32 cached, base32 cache off, raw bytes)', run };
