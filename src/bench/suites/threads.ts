// Suite: throughput against worker threads. Large batches (100k, and 200k in the full
// profile; 10,000 distinct base32 secrets recurring, key cache warm) on `threads: 0` (inline
// on the calling thread, no pool) and on pools of 1..N workers, N the available parallelism.
// In every case the calling thread validates and packs the batch (the key cache lives there);
// workers run the kernel on packed chunks, so a pool of N uses up to N + 1 cores.
//
// Issue 3: two threads on batches of ≥ 100k items ≥ 1.7× one thread.

import { TotpVerifier } from '../../index.js';
import { batchTask, type Kind, makeRequests } from '../facade.js';
import { fixtures } from '../fixtures.js';
import type { Suite, SuiteContext } from '../suite.js';

const ID = 'threads';

async function run(ctx: SuiteContext): Promise<void> {
  const fx = fixtures();
  const counts = Array.from({ length: ctx.maxThreads + 1 }, (_, t) => t);
  const verifiers = await Promise.all(counts.map((threads) => TotpVerifier.create({ threads, window: 1 })));
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
        const figs = await ctx.measure(tasks, { groupsLeft: groupsLeft-- });
        for (let t = 2; t < figs.length; t++) {
          const target = t === 2 ? 1.7 : undefined;
          ctx.report.ratio(ID, `${t} threads ÷ threads 0 (inline), ${size / 1000}k, ${kind}`, figs[t]!, figs[0]!, target);
          ctx.report.ratio(ID, `${t} threads ÷ 1 thread (pool), ${size / 1000}k, ${kind}`, figs[t]!, figs[1]!, target);
        }
        if (figs.length === 2) ctx.report.ratio(ID, `1 thread (pool) ÷ threads 0 (inline), ${size / 1000}k, ${kind}`, figs[1]!, figs[0]!);
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
