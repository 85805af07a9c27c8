// Suite: throughput against batch size. verifyBatch with 1, 10, 100, 1k, 10k and 100k items on
// a verifier with the default options (threads = available parallelism, inlineThreshold
// 16,384: the smaller batches run inline, 100k goes to the workers), base32 secrets with the
// key cache warm. Small batches show the fixed cost per call (a promise, validation set-up,
// one kernel call) that single verify() calls are coalesced to avoid.

import { TotpVerifier } from '../../index.js';
import { batchTask, type Kind, makeRequests } from '../facade.js';
import { fixtures } from '../fixtures.js';
import type { Suite, SuiteContext } from '../suite.js';

const ID = 'batch-sizes';
export const BATCH_SIZES = [1, 10, 100, 1_000, 10_000, 100_000] as const;

async function run(ctx: SuiteContext): Promise<void> {
  const fx = fixtures();
  const verifier = await TotpVerifier.create({ window: 1 });
  try {
    const threads = verifier.options.threads;
    for (const [k, kind] of (ctx.profile.kinds as Kind[]).entries()) {
      const tasks = [];
      for (const size of BATCH_SIZES) {
        tasks.push(await batchTask({
          id: `${ID}/${size}/${kind}`,
          scenario: ID,
          label: `verifyBatch(${size.toLocaleString('en-US')}), default options (threads ${threads}), ${kind}`,
          params: { kind, batch: size, threads },
        }, verifier, makeRequests(fx, kind, 'base32', size), kind, fx));
      }
      const figs = await ctx.measure(tasks, { groupsLeft: ctx.profile.kinds.length - k });
      ctx.report.ratio(ID, `batch of 10,000 ÷ batch of 1, ${kind}`, figs[4]!, figs[0]!);
    }
  } finally {
    await verifier.close();
  }
}

export const suite: Suite = { id: ID, title: 'verifyBatch throughput by batch size (1 to 100k, default options)', run };
