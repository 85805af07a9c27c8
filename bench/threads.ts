// Scenario: the worker pool. Large batches (100k and 200k items; 10,000 distinct base32
// secrets recurring, key cache warm) on one thread and on two.
//
// Issue 3: two threads on batches of ≥ 100k items ≥ 1.7× one thread. "One thread" is
// measured both ways, and both ratios are printed: `threads: 0` (inline on the calling thread,
// no pool) and `threads: 1` (one piscina worker). In every case the calling thread validates
// and packs the batch (the key cache lives there); workers run the kernel on packed chunks.
//
// Run alone: node --expose-gc --import tsx bench/threads.ts

import { TotpVerifier } from '../dist/index.js';
import { batchTask, type Kind, makeRequests } from './lib/facade.js';
import { fixtures } from './lib/fixtures.js';
import { measureGroup } from './lib/measure.js';
import type { Report, Scenario } from './lib/report.js';
import { isMain, runScenarios } from './lib/run.js';

const ID = 'threads';
const SIZES = [100_000, 200_000] as const;
const CONFIGS = [
  { key: 'inline', threads: 0, label: 'threads 0 (inline)' },
  { key: 'pool1', threads: 1, label: 'threads 1 (pool)' },
  { key: 'pool2', threads: 2, label: 'threads 2 (pool)' },
] as const;

async function run(report: Report): Promise<void> {
  const fx = fixtures();
  const verifiers = await Promise.all(CONFIGS.map((c) => TotpVerifier.create({ threads: c.threads, window: 1 })));
  try {
    for (const size of SIZES) {
      for (const kind of ['valid', 'invalid'] as Kind[]) {
        // One group per size and kind: the three configurations interleaved, on the same requests.
        const reqs = makeRequests(fx, kind, 'base32', size);
        const tasks = await Promise.all(CONFIGS.map((cfg, c) => batchTask({
          id: `${ID}/${cfg.key}/${size}/${kind}`,
          scenario: ID,
          label: `facade verifyBatch(${size / 1000}k), ${cfg.label}, ${kind}`,
        }, verifiers[c]!, reqs, kind, fx)));
        const [inline, pool1, pool2] = report.add(...await measureGroup(tasks));
        report.ratio(ID, `2 threads ÷ threads 0 (inline), ${size / 1000}k, ${kind}`, pool2!, inline!, 1.7);
        report.ratio(ID, `2 threads ÷ threads 1 (pool), ${size / 1000}k, ${kind}`, pool2!, pool1!, 1.7);
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

export const scenario: Scenario = { id: ID, title: 'one thread vs two threads, batches of 100k and 200k', run };

if (isMain(import.meta.url)) await runScenarios([scenario]);
