// Scenario: what the facade costs on top of the kernel. The raw kernel verifies one pre-packed
// chunk of 8192 items (midstates ready) already in WebAssembly memory; the facade verifies the
// same 8192 (KeyHandle, code, timestamp) requests through verifyBatch, which validates each
// request, packs it, copies the chunk in, runs the same kernel, wipes, and builds result objects.
//
// Issue 3: the facade's throughput ≥ 80 % of the raw kernel's. Also shown: `runChunk` (copy in,
// kernel, copy out, wipe; no validation or result objects), to split the overhead in two; and
// the request floor (read each request's fields, parse its code, compute its step: what any
// facade must do per request, bench/floor.ts) with the ceiling it puts on that fraction,
// kernel ÷ (kernel + floor), beside the 80 % target; and the pack-and-answer floor (the request
// floor plus resolving each KeyHandle, packing its key slot and code, answering it into a
// results array: the least any facade that reads, packs and answers each request adds to the
// kernel, floor.ts) with its ceiling, kernel ÷ (kernel + pack-and-answer floor).
// Uses internals from dist/ (wasm.js, batch.js), the same compiled code the facade runs.

import { TotpVerifier } from '../../index.js';
import { loadChunk, warmCore } from '../../batch.js';
import { instantiateCore } from '../../wasm.js';
import { kernelTask, packChunk, runChunkTask } from '../kernel.js';
import { batchTask, type Kind, makeRequests } from '../facade.js';
import { fixtures } from '../fixtures.js';
import { packAnswerFixture, packAnswerFloor, requestFloor, serialFigure } from '../floor.js';
import type { TaskSpec } from '../measure.js';
import type { Suite, SuiteContext } from '../suite.js';
import { expectCount } from '../peers/peer.js';

const ID = 'overhead';

async function run(ctx: SuiteContext): Promise<void> {
  const { report } = ctx;
  const fx = fixtures();
  const core = instantiateCore();
  warmCore(core);
  const n = core.layout.maxItems; // 8192: one kernel call
  const keys = fx.secrets.slice(0, n);
  const verifier = await TotpVerifier.create({ threads: 0, window: 1 });
  try {
    const handles = verifier.importKeys(keys);
    for (const [k, kind] of (['valid', 'invalid'] as Kind[]).entries()) {
      const codes = (kind === 'valid' ? fx.valid : fx.invalid).slice(0, n);
      const expected = kind === 'valid' ? 0 : core.layout.resultNoMatch;
      const chunk = packChunk(core, keys, codes, fx.step);
      const reqs = makeRequests(fx, kind, 'handle', n, handles);
      const noMatch = core.layout.resultNoMatch;
      const packFx = packAnswerFixture(fx, kind === 'valid' ? fx.valid : fx.invalid, n, expected);
      const packWant = kind === 'valid' ? n : 0;

      loadChunk(core, chunk);
      core.verifyBatch(n);
      if (!core.views.result.subarray(0, n).every((r) => r === expected)) throw new Error(`${ID}: kernel answered wrongly`);
      const tasks: TaskSpec[] = [
        // Raw kernel: the chunk is put in memory before each round (runChunk wipes it); only
        // core.verifyBatch is timed.
        kernelTask(core, chunk, kind, `${ID}/kernel/${kind}`, ID, `raw kernel core.verifyBatch(8192), pre-packed, ${kind}`),
        runChunkTask(core, chunk, kind, `${ID}/runChunk/${kind}`, ID, `runChunk(8192): copy in, kernel, copy out, wipe, ${kind}`),
        await batchTask({
          id: `${ID}/facade/${kind}`, scenario: ID,
          label: `facade verifyBatch(8192), KeyHandle, threads 0, ${kind}`,
        }, verifier, reqs, kind, fx),
        {
          id: `${ID}/floor/${kind}`, scenario: ID, items: n, async: false,
          label: `request floor (8192): read fields, parseCode, timeStep; no packing, no kernel, ${kind}`,
          fn: () => expectCount('floor', requestFloor(reqs, fx, fx.timestamp), n),
        },
        {
          id: `${ID}/pack-floor/${kind}`, scenario: ID, items: n, async: false,
          label: `pack-and-answer floor (8192): request floor + resolve handle, pack slot and code, answer; ${kind}`,
          fn: () => expectCount('pack floor', packAnswerFloor(packFx, fx, fx.timestamp, noMatch), packWant),
        },
      ];
      const [kernel, chunkFig, facade, floor, packFloor] = await ctx.measure(tasks, { groupsLeft: 2 - k });
      core.wipe(n);
      report.ratio(ID, `facade ÷ raw kernel, ${kind}`, facade!, kernel!, 0.8, 'fraction');
      const ceiling = serialFigure(`${ID}/kernel+floor/${kind}`, `kernel + request floor, ${kind}`, kernel!, floor!);
      report.ratio(ID, `ceiling: kernel ÷ (kernel + request floor), ${kind}`, ceiling, kernel!, 0.8, 'fraction', true);
      report.ratio(ID, `facade ÷ (kernel + request floor), ${kind}`, facade!, ceiling, undefined, 'fraction');
      const packCeiling = serialFigure(`${ID}/kernel+pack-floor/${kind}`, `kernel + pack-and-answer floor, ${kind}`, kernel!, packFloor!);
      report.ratio(ID, `ceiling: kernel ÷ (kernel + pack-and-answer floor), ${kind}`, packCeiling, kernel!, 0.8, 'fraction', true);
      report.ratio(ID, `facade ÷ (kernel + pack-and-answer floor), ${kind}`, facade!, packCeiling, undefined, 'fraction');
      report.ratio(ID, `facade ÷ runChunk, ${kind}`, facade!, chunkFig!, undefined, 'fraction');
      report.ratio(ID, `runChunk ÷ raw kernel, ${kind}`, chunkFig!, kernel!, undefined, 'fraction');
    }
  } finally {
    await verifier.close();
  }
}

export const suite: Suite = { id: ID, title: 'facade overhead over the raw kernel (8192 items)', run };

