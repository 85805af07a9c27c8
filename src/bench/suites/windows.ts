// Suite: throughput against the window. Window ±0..±3 steps, verifyBatch of 10k inline, base32
// secrets, cache warm. A valid code at delta 0 costs one candidate whatever the window (T is
// tried first); an invalid one costs 2·window + 1, so the window prices every wrong guess.

import { TotpVerifier, type VerifyRequest, type VerifyResult } from '../../index.js';
import { batchTask, type Kind, makeRequests } from '../facade.js';
import { fixtures } from '../fixtures.js';
import type { TaskSpec } from '../measure.js';
import type { Suite, SuiteContext } from '../suite.js';

const ID = 'windows';
const WINDOWS = [0, 1, 2, 3] as const;

async function run(ctx: SuiteContext): Promise<void> {
  const fx = fixtures();
  const verifiers = await Promise.all(WINDOWS.map((window) => TotpVerifier.create({ threads: 0, window })));
  try {
    for (const [k, kind] of (ctx.profile.kinds as Kind[]).entries()) {
      // The fixtures' invalid codes match no step within ±1; at wider windows a few may match
      // T±2 or T±3 (about 4 in a million per extra step), so those are not asserted there.
      const tasks = [];
      for (const [w, window] of WINDOWS.entries()) {
        const reqs = makeRequests(fx, kind, 'base32');
        const spec = {
          id: `${ID}/w${window}/${kind}`,
          scenario: ID,
          label: `verifyBatch(10k), window ±${window}, threads 0, ${kind}`,
          params: { kind, window, threads: 0, batch: fx.count },
        };
        tasks.push(kind === 'invalid' && window > 1
          ? await looseTask(spec, verifiers[w]!, reqs)
          : await batchTask(spec, verifiers[w]!, reqs, kind, fx));
      }
      const figs = await ctx.measure(tasks, { groupsLeft: ctx.profile.kinds.length - k });
      for (let w = 1; w < figs.length; w++) ctx.report.ratio(ID, `window ±${w} ÷ window ±0, ${kind}`, figs[w]!, figs[0]!);
    }
    ctx.report.note(ID, 'no peer runs in this suite: its ratios are between tasks of ours (the price of the window, ' +
      'which a build uniformly slower leaves unchanged), and `bench compare` judges those, not its figures. A valid code ' +
      'costs one candidate at any window, so the valid ratios compare equal work: their distance from 1 is noise.');
  } finally {
    await Promise.all(verifiers.map((v) => v.close()));
  }
}

/** Like batchTask, but only checks that nothing is malformed or failed (the codes may match). */
async function looseTask(
  spec: Parameters<typeof batchTask>[0],
  verifier: TotpVerifier, reqs: readonly VerifyRequest[],
): Promise<TaskSpec> {
  const check = (results: readonly VerifyResult[]): void => {
    const bad = results.findIndex((r) => r.status !== 'valid' && r.status !== 'invalid');
    if (bad >= 0) throw new Error(`${spec.id}: item ${bad} answered ${results[bad]!.status}`);
  };
  check(await verifier.verifyBatch(reqs));
  return { ...spec, items: reqs.length, async: true, fn: async () => check(await verifier.verifyBatch(reqs)) };
}

export const suite: Suite = { id: ID, title: 'verifyBatch throughput by window (±0..±3 steps)', run };
