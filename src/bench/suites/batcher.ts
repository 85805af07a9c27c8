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
//
// The same calls (valid codes) and floors also run in a child process started with
// `node --max-semi-space-size=64` (young-child.ts), timed from this suite's own rounds: 100k
// pending calls keep their promises alive through every young-generation collection, and a
// larger young generation is what a server holding that many calls can be given. Each of its
// timed calls runs the 100k calls twice, one after the other, so that it spans about one
// collection cycle at that size (one 100k run alone measures 2x faster or slower depending on
// whether a collection falls inside it). The target line stays the default young generation
// (the scenario on an unmodified node); the child's lines are a documented deployment
// option, printed beside it and not counted.

import { TotpVerifier } from '../../index.js';
import { assertResults, countValid, type Kind, makeRequests } from '../facade.js';
import { fixtures } from '../fixtures.js';
import { asyncFloor, coalescerFloor } from '../floor.js';
import { measureLatency, type TaskSpec } from '../measure.js';
import type { Suite, SuiteContext } from '../suite.js';
import { startYoungChild, type YoungChild } from '../young-child.js';

const ID = 'batcher';
const CONCURRENT = 100_000;
const LONE_CALLS = 2000;
/** The young generation of the child process: `--max-semi-space-size` in MB. */
const SEMI_SPACE_MB = 64;
/** 100k-call runs per timed call of the child (see above). */
const YOUNG_REPEAT = 2;

const CONFIGS = [
  { key: 'default', label: 'default options', opts: { window: 1 } },
  { key: 'inline', label: 'inline', opts: { window: 1, threads: 0 } },
] as const;

async function run(ctx: SuiteContext): Promise<void> {
  const { report } = ctx;
  const fx = fixtures();
  const verifiers = await Promise.all(CONFIGS.map((c) => TotpVerifier.create(c.opts)));
  // Started first: it makes its fixtures and verifiers while this process makes its own.
  const starting = startYoungChild(SEMI_SPACE_MB, { n: CONCURRENT, repeat: YOUNG_REPEAT, configs: CONFIGS.map(({ key, opts }) => ({ key, opts })) });
  starting.catch(() => {}); // awaited below; a failure there is the suite's
  let young: YoungChild | undefined;
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
    // The child's tasks: the batcher's (valid codes), then its two floors, as above.
    const child = young = await starting;
    const flag = `--max-semi-space-size=${SEMI_SPACE_MB}`;
    // Every call of these answers: valid results for the batcher's, all items for the floors.
    const youngTasks: [string, string][] = [
      ...CONFIGS.map((c, i): [string, string] => [`verify/${c.key}/valid`, `${rateLabels[i]!}, node ${flag}`]),
      ...floors.map(([key, label]): [string, string] => [`floor/${key}`, `${label}, node ${flag}`]),
    ];
    const want = CONCURRENT * YOUNG_REPEAT;
    for (const [task, label] of youngTasks) {
      tasks.push({
        id: `${ID}/young/${task}`, scenario: ID, label, items: want, async: true,
        fn: async () => {
          const n = await child.run(task);
          if (n !== want) throw new Error(`${ID}: ${task} in the child answered ${n}, expected ${want}`);
        },
      });
    }
    // Half the suite's time: the lone-call latencies below take the rest.
    const figs = await ctx.measure(tasks, { groupsLeft: 2 });
    const own = figs.slice(0, rateLabels.length);
    const youngFigs = figs.slice(rateLabels.length);
    own.forEach((f, i) => report.rate(ID, rateLabels[i]!, f, 1_000_000, i >= own.length - floors.length));
    const coalescer = own[own.length - 1]!;
    for (let t = 0; t < own.length - floors.length; t++) {
      report.ratio(ID, `${rateLabels[t]} ÷ coalescer floor`, own[t]!, coalescer, undefined, 'fraction');
    }
    // The child's lines: information beside the target lines above, not counted.
    youngFigs.forEach((f, i) => report.rate(ID, youngTasks[i]![1], f));
    const youngCoalescer = youngFigs[youngFigs.length - 1]!;
    for (let c = 0; c < CONFIGS.length; c++) {
      report.ratio(ID, `${youngTasks[c]![1]} ÷ its coalescer floor`, youngFigs[c]!, youngCoalescer, undefined, 'fraction');
      report.ratio(ID, `${CONFIGS[c]!.label}, valid: node ${flag} ÷ default young generation`, youngFigs[c]!, own[c]!);
    }
    report.note(ID, `target lines: the default young generation (node as installed); the node ${flag} lines are a deployment option (README), `
      + `${YOUNG_REPEAT} × ${CONCURRENT / 1000}k calls per timed call, timed from this process (IPC included), not counted`);
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
    await (young ?? await starting.catch(() => undefined))?.close();
    await Promise.all(verifiers.map((v) => v.close()));
  }
}

export const suite: Suite = { id: ID, title: 'single verify() calls through the batcher', run };

