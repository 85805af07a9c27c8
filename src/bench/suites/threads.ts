// Suite: throughput against worker threads. Large batches (100k, and 200k in the full
// profile; 10,000 distinct base32 secrets recurring, key cache warm) on `threads: 0` (inline
// on the calling thread, no pool) and on pools of 1..N workers, N the available parallelism.
// In every case the calling thread validates and packs the batch (the key cache lives there);
// workers run the kernel on packed chunks, so a pool of N uses up to N + 1 cores.
//
// Issue 3: two threads on batches of ≥ 100k items ≥ 1.7× one thread. Beside it, in the same
// rounds, the raw kernel on the same codes (8192 pre-packed items) and the ceilings it implies
// (bench/floor.ts poolCeiling): the calling thread's share of each item (inline − kernel) and
// the machine's cores bound what any number of workers can add. And the machine's own ceiling:
// the same raw kernel on the same chunk in 1..N worker threads at once (kernel-threads.ts, no
// pool, no copies), so "2 workers ÷ 1 worker" of the bare kernel says what a second core gives
// here (a shared VM may give less than 2×), and the pool's ceiling with those measured cores.

import { TotpVerifier } from '../../index.js';
import { batchTask, type Kind, makeRequests } from '../facade.js';
import { warmCore } from '../../batch.js';
import { coreModule, instantiateCore } from '../../wasm.js';
import { fixtures } from '../fixtures.js';
import { derivedFigure, machinePoolCeiling, poolCeiling } from '../floor.js';
import { type KernelGang, startKernelGang } from '../kernel-threads.js';
import { kernelTask, packChunk } from '../kernel.js';
import type { Figure } from '../measure.js';
import type { Suite, SuiteContext } from '../suite.js';

const ID = 'threads';
/** Kernel calls per call of a kernel-gang task (8192 items each: some milliseconds per call). */
const GANG_REPEATS = 4;

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
        const gangs: KernelGang[] = [];
        let figs: Figure[];
        try {
          for (let t = 1; t <= cores; t++) {
            gangs.push(await startKernelGang(coreModule(), chunk, kind, t, GANG_REPEATS, `${ID}/kernel-workers${t}/${size}/${kind}`, ID,
              `raw kernel in ${t} worker thread${t === 1 ? '' : 's'} at once, ${GANG_REPEATS} × 8192 each, ${kind} (machine ceiling)`));
          }
          figs = await ctx.measure([...tasks, ...gangs.map((g) => g.task)], { groupsLeft: groupsLeft-- });
        } finally {
          await Promise.all(gangs.map((g) => g.close()));
        }
        const gang = figs.splice(counts.length + 1);
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
        // The machine: the bare kernel in t workers at once ÷ in one worker (and ÷ the calling
        // thread alone), then the pool's ceiling on the cores so measured.
        const scale = gang[cores - 1]!;
        for (let t = 2; t <= cores; t++) {
          ctx.report.ratio(ID, `machine ceiling: raw kernel in ${t} workers ÷ 1 worker, ${size / 1000}k group, ${kind}`,
            gang[t - 1]!, gang[0]!, t === 2 ? 1.7 : undefined, 'ratio', true);
          ctx.report.ratio(ID, `raw kernel in ${t} workers ÷ on the calling thread, ${size / 1000}k group, ${kind}`, gang[t - 1]!, kernel);
        }
        const measuredCores = derivedFigure(`${ID}/machine-cores/${size}/${kind}`, 'measured cores', scale, gang[0]!, (a, b) => a / b);
        for (let t = 2; t < figs.length; t++) {
          const machine = machinePoolCeiling(`${ID}/machine-ceiling${t}/${size}/${kind}`,
            `ceiling of ${t} workers on the measured cores, ${size / 1000}k, ${kind}`, figs[0]!, kernel, gang[Math.min(t, cores) - 1]!, measuredCores);
          ctx.report.ratio(ID, `machine ceiling: ${t} threads ÷ threads 0 (calling thread's share, measured cores), ${size / 1000}k, ${kind}`,
            machine, figs[0]!, t === 2 ? 1.7 : undefined, 'ratio', true);
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
