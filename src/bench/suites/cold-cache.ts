// Suite: the key cache warm against cold. Base32 secrets with the cache warm (every secret's
// midstates cached by an untimed batch), base32 with the cache off (`keyCacheSize: 0`: decoded
// and derived in every batch), and raw Uint8Array secrets (never cached: derived in every
// batch, four keys at a time in SIMD). A cold cache behaves as an absent one for a batch of
// distinct secrets (every item misses once), so "off" is measured, repeatably.
//
// Issue 3: raw secrets with the cache cold or off ≥ 12× the node:crypto baseline, which is
// measured here again, interleaved with these tasks. Beside it, the kernel's own work for a
// secret it has not seen, in the same rounds: derive the midstates of 8192 raw keys and verify
// (runChunk of a chunk packed with raw keys; no request read, no base32, no result made).
// That ÷ node:crypto is the most any facade over this kernel can reach with the cache off.

import { TotpVerifier } from '../../index.js';
import { warmCore, wipeChunk } from '../../batch.js';
import { instantiateCore } from '../../wasm.js';
import { batchTask, type Kind, makeRequests } from '../facade.js';
import { fixtures } from '../fixtures.js';
import { packKeyChunk, runChunkTask } from '../kernel.js';
import { peerTasks } from '../peer-tasks.js';
import type { Suite, SuiteContext } from '../suite.js';

const ID = 'cold-cache';

async function run(ctx: SuiteContext): Promise<void> {
  const { report } = ctx;
  const fx = fixtures();
  const warmVerifier = await TotpVerifier.create({ threads: 0, window: 1 });
  const coldVerifier = await TotpVerifier.create({ threads: 0, window: 1, keyCacheSize: 0 });
  const core = instantiateCore();
  warmCore(core);
  const n = core.layout.maxItems;
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
      const chunk = packKeyChunk(core, fx.secrets.slice(0, n), (kind === 'valid' ? fx.valid : fx.invalid).slice(0, n), fx.step);
      const derive = runChunkTask(core, chunk, kind, `${ID}/derive+kernel/${kind}`, ID,
        `kernel: derive 8192 raw keys' midstates, then verify (runChunk), ${kind} (for the ceiling)`);
      const tasks = [base[kind === 'valid' ? 0 : 1]!, await task('base32', true), await task('bytes', false), await task('base32', false), derive];
      const [node, warm, bytes, text, kernel] = await ctx.measure(tasks, { groupsLeft: ctx.profile.kinds.length - k });
      wipeChunk(chunk);
      report.ratio(ID, `cache warm ÷ cache off (base32), ${kind}`, warm!, text!);
      report.ratio(ID, `facade (Uint8Array, no cache) ÷ node:crypto, ${kind}`, bytes!, node!, 12);
      report.ratio(ID, `facade (base32, cache off) ÷ node:crypto, ${kind}`, text!, node!, 12);
      report.ratio(ID, `ceiling: kernel, derive + verify ÷ node:crypto, ${kind}`, kernel!, node!, 12, 'ratio', true);
      report.ratio(ID, `facade (Uint8Array, no cache) ÷ kernel, derive + verify, ${kind}`, bytes!, kernel!, undefined, 'fraction');
    }
    const cold = coldVerifier.stats().keyCache;
    if (cold.size !== 0 || cold.hits !== 0) throw new Error(`${ID}: the key cache was used with keyCacheSize 0 (${JSON.stringify(cold)})`);
  } finally {
    await Promise.all([warmVerifier.close(), coldVerifier.close()]);
  }
}

export const suite: Suite = { id: ID, title: 'key cache warm vs cold (base32 cached, base32 cache off, raw bytes)', run };
