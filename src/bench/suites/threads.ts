// Suite: throughput against worker threads. Large batches (100k, and 200k in the full
// profile; 10,000 distinct base32 secrets recurring, key cache warm) on `threads: 0` (inline
// on the calling thread, no pool) and on pools of 1..N workers, N the available parallelism.
// In every case the calling thread validates and packs the batch (the key cache lives there);
// workers run the kernel on packed chunks, so a pool of N uses up to N + 1 cores.
//
// Issue 3: two threads on batches of ≥ 100k items ≥ 1.7× one thread. Beside it, in the same
// rounds, the raw kernel on the same codes (8192 pre-packed items) and the ceilings it implies
// (bench/floor.ts poolCeiling): the calling thread's share of each item (inline − kernel) and
// the machine's cores bound what any number of workers can add.

import { TotpVerifier } from '../../index.js';
import { batchTask, type Kind, makeRequests } from '../facade.js';
import { warmCore } from '../../batch.js';
import { instantiateCore } from '../../wasm.js';
import { fixtures } from '../fixtures.js';
import { poolCeiling } from '../floor.js';
import { kernelTask, packChunk } from '../kernel.js';
import type { Suite, SuiteContext } from '../suite.js';

const ID = 'threads';

async function run(ctx: SuiteContext): Promise<void> {
  const fx = fixtures();
  const counts = Array.from({ length: ctx.maxThreads + 1 }, (_, t) => t);
  const verifiers = await Promise.all(counts.map((threads) => TotpVerifier.create({ threads, window: 1 })));
  const core = instantiateCore();
  warmCore(core);
  const n = core.layout.maxItems;
  const cores = ctx.maxThreads;
  try {
    let groupsLeft = ctx.profile.threadBatches.length * ctx.profile.kinds.length;
    for (const size of ctx.profile.threadBatches) {
      for (const kind of ctx.profile.kinds as Kind[]) {
        // One group per size and kind: every thread count interleaved, on the same requests.
        const reqs = makeRequests(fx, kind, 'base32', size);
        const tasks = await Promise.all(counts.map((threads, c) => batchTask({
          id: `${ID}/${threads === 0 ? 'inline' : `pool${threads}`}/${size}/${kind}`,
          scenario: ID,
          label: `verifyBatch(${size / 1000}k), ${threads === 0 ? 'threads 0 (inline)' : `threads ${threads} (pool)`}, ${kind}`,
          params: { kind, threads, batch: size },
        }, verifiers[c]!, reqs, kind, fx)));
        const chunk = packChunk(core, fx.secrets.slice(0, n), (kind === 'valid' ? fx.valid : fx.invalid).slice(0, n), fx.step);
        tasks.push(kernelTask(core, chunk, kind, `${ID}/kernel/${size}/${kind}`, ID,
          `raw kernel core.verifyBatch(8192), pre-packed, ${kind} (for the ceilings)`));
        const figs = await ctx.measure(tasks, { groupsLeft: groupsLeft-- });
        const kernel = figs.pop()!;
        core.wipe(n);
        const ceiling = (t: number) => poolCeiling(`${ID}/ceiling${t}/${size}/${kind}`,
          `ceiling of ${t} worker${t === 1 ? '' : 's'}, ${size / 1000}k, ${kind}`, figs[0]!, kernel, t, cores);
        for (let t = 2; t < figs.length; t++) {
          const target = t === 2 ? 1.7 : undefined;
          ctx.report.ratio(ID, `${t} threads ÷ threads 0 (inline), ${size / 1000}k, ${kind}`, figs[t]!, figs[0]!, target);
          ctx.report.ratio(ID, `${t} threads ÷ 1 thread (pool), ${size / 1000}k, ${kind}`, figs[t]!, figs[1]!, target);
        }
        if (figs.length === 2) ctx.report.ratio(ID, `1 thread (pool) ÷ threads 0 (inline), ${size / 1000}k, ${kind}`, figs[1]!, figs[0]!);
        for (let t = 2; t < figs.length; t++) {
          ctx.report.ratio(ID, `ceiling: ${t} threads ÷ threads 0 (calling thread's share, ${cores} cores), ${size / 1000}k, ${kind}`,
            ceiling(t), figs[0]!, t === 2 ? 1.7 : undefined, 'ratio', true);
          ctx.report.ratio(ID, `ceiling: ${t} threads ÷ 1 thread (calling thread's share, ${cores} cores), ${size / 1000}k, ${kind}`,
            ceiling(t), ceiling(1), t === 2 ? 1.7 : undefined, 'ratio', true);
        }
      }
    }
    const pools = verifiers.map((v) => v.stats().pool);
    if (pools.some((p) => p.chunksFailed > 0 || p.chunksRetried > 0)) {
      throw new Error(`${ID}: pool chunks failed or were retried: ${JSON.stringify(pools)}`);
    }
  } finally {
    await Promise.all(verifiers.map((v) => v.close()));
  }
}

export const suite: Suite = { id: ID, title: 'verifyBatch throughput by worker threads (0..N, batches of 100k)', run };
