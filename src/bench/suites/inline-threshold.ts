// Scenario: where the inline threshold belongs. The same batch, at sizes around the default
// `inlineThreshold` (16,384), verified inline on the calling thread and on a 2-thread pool that
// takes every batch (`inlineThreshold: 0`). Below the crossing, a pool round trip costs more
// than the work it moves; the default threshold should sit near the crossing.

import { TotpVerifier } from '../../index.js';
import { batchTask, makeRequests } from '../facade.js';
import { fixtures } from '../fixtures.js';
import type { Suite, SuiteContext } from '../suite.js';

const ID = 'inline-threshold';
const SIZES = [512, 2048, 8192, 16_384, 65_536] as const;

async function run(ctx: SuiteContext): Promise<void> {
  const { report } = ctx;
  const fx = fixtures();
  const inline = await TotpVerifier.create({ threads: 0, window: 1 });
  const pooled = await TotpVerifier.create({ threads: 2, inlineThreshold: 0, window: 1 });
  try {
    for (const [k, size] of SIZES.entries()) {
      const reqs = makeRequests(fx, 'valid', 'base32', size);
      const tasks = await Promise.all([
        batchTask({ id: `${ID}/inline/${size}`, scenario: ID, label: `verifyBatch(${size}) inline, valid` }, inline, reqs, 'valid', fx),
        batchTask({ id: `${ID}/pool2/${size}`, scenario: ID, label: `verifyBatch(${size}) on 2 workers, valid` }, pooled, reqs, 'valid', fx),
      ]);
      const [a, b] = await ctx.measure(tasks, { groupsLeft: SIZES.length - k });
      report.ratio(ID, `2 workers ÷ inline, batch of ${size}`, b!, a!);
    }
  } finally {
    await Promise.all([inline.close(), pooled.close()]);
  }
}

export const suite: Suite = { id: ID, title: 'inline vs pool by batch size (the inline threshold)', run };

