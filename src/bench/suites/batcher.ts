// Scenario: single verify() calls, coalesced by the batcher.
//
// Issue 3: 100k concurrent single verify() calls through the batcher ≥ 1M verifies/s; and the
// latency of a lone verify() on an idle verifier (p50, p99; no target given). Measured with
// the default options (threads = available parallelism) and with threads 0; base32 secrets,
// key cache warm. One timed call of the throughput task is 100k verify() calls made at once
// and awaited together with Promise.all, as 100k concurrent requests of a server would be.
// In the same rounds, two floors (bench/floor.ts) beside the 1 M/s target: 100k no-op async
// calls, and 100k calls to a coalescer that does nothing but answer them in one microtask (the
// promise handling and collection any batcher of concurrent calls pays), with batcher ÷ floor.

import { TotpVerifier } from '../../index.js';
import { assertResults, countValid, type Kind, makeRequests } from '../facade.js';
import { fixtures } from '../fixtures.js';
import { asyncFloor, coalescerFloor } from '../floor.js';
import { measureLatency, type TaskSpec } from '../measure.js';
import type { Suite, SuiteContext } from '../suite.js';

const ID = 'batcher';
const CONCURRENT = 100_000;
const LONE_CALLS = 2000;

const CONFIGS = [
  { key: 'default', label: 'default options', opts: { window: 1 } },
  { key: 'inline', label: 'inline', opts: { window: 1, threads: 0 } },
] as const;

async function run(ctx: SuiteContext): Promise<void> {
  const { report } = ctx;
  const fx = fixtures();
  const verifiers = await Promise.all(CONFIGS.map((c) => TotpVerifier.create(c.opts)));
  try {
    const tasks: TaskSpec[] = [];
    const rateLabels: string[] = [];
    for (const kind of ['valid', 'invalid'] as Kind[]) {
      const reqs = makeRequests(fx, kind, 'base32', CONCURRENT);
      const want = kind === 'valid' ? CONCURRENT : 0;
      for (let c = 0; c < CONFIGS.length; c++) {
        const cfg = CONFIGS[c]!;
        const v = verifiers[c]!;
        assertResults(`${ID}/${cfg.key}`, await Promise.all(reqs.map((r) => v.verify(r))), kind, fx);
        const label = `${CONCURRENT / 1000}k concurrent verify(), ${cfg.label} (threads ${v.options.threads}), ${kind}`;
        rateLabels.push(label);
        tasks.push({
          id: `${ID}/${cfg.key}/concurrent/${kind}`,
          scenario: ID,
          label,
          items: CONCURRENT,
          async: true,
          fn: async () => {
            const n = countValid(await Promise.all(reqs.map((r) => v.verify(r))));
            if (n !== want) throw new Error(`${ID}: ${n} valid, expected ${want}`);
          },
        });
      }
    }
    const items = makeRequests(fx, 'valid', 'base32', CONCURRENT);
    const floors: [string, string, (items: readonly unknown[]) => Promise<number>][] = [
      ['async', `floor: ${CONCURRENT / 1000}k concurrent no-op async calls (Promise.all)`, asyncFloor],
      ['coalescer', `floor: ${CONCURRENT / 1000}k concurrent calls to a coalescer that does nothing`, coalescerFloor],
    ];
    for (const [key, label, floor] of floors) {
      rateLabels.push(label);
      tasks.push({
        id: `${ID}/floor/${key}`, scenario: ID, label, items: CONCURRENT, async: true,
        fn: async () => {
          const n = await floor(items);
          if (n !== CONCURRENT) throw new Error(`${ID}: floor ${key} answered ${n} of ${CONCURRENT}`);
        },
      });
    }
    // Half the suite's time: the lone-call latencies below take the rest.
    const figs = await ctx.measure(tasks, { groupsLeft: 2 });
    figs.forEach((f, i) => report.rate(ID, rateLabels[i]!, f, 1_000_000, i >= figs.length - floors.length));
    const coalescer = figs[figs.length - 1]!;
    for (let t = 0; t < figs.length - floors.length; t++) {
      report.ratio(ID, `${rateLabels[t]} ÷ coalescer floor`, figs[t]!, coalescer, undefined, 'fraction');
    }
    for (let c = 0; c < CONFIGS.length; c++) {
      report.note(ID, `${CONFIGS[c]!.label}: ${verifiers[c]!.stats().batcher.batches} batches formed in all (maxBatch 8192 by default)`);
    }

    // Lone calls: each awaited before the next, so the verifier is idle when each one arrives.
    const lone = makeRequests(fx, 'valid', 'base32', fx.count);
    for (let c = 0; c < CONFIGS.length; c++) {
      const cfg = CONFIGS[c]!;
      const v = verifiers[c]!;
      let j = 0;
      report.addLatency(await measureLatency({
        id: `${ID}/${cfg.key}/lone`,
        scenario: ID,
        label: `lone verify() on an idle verifier, ${cfg.label} (threads ${v.options.threads}), valid`,
        count: LONE_CALLS,
        warmup: LONE_CALLS,
      }, async () => {
        const r = await v.verify(lone[j++ % lone.length]!);
        if (r.status !== 'valid') throw new Error(`${ID}: lone verify answered ${r.status}`);
      }));
    }
  } finally {
    await Promise.all(verifiers.map((v) => v.close()));
  }
}

export const suite: Suite = { id: ID, title: 'single verify() calls through the batcher', run };

