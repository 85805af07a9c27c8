// Scenario: what the facade costs on top of the kernel. The raw kernel verifies one pre-packed
// chunk of 8192 items (midstates ready) already in WebAssembly memory; the facade verifies the
// same 8192 (KeyHandle, code, timestamp) requests through verifyBatch, which validates each
// request, packs it, copies the chunk in, runs the same kernel, wipes, and builds result objects.
//
// Issue 3: the facade's throughput ≥ 80 % of the raw kernel's. Also shown: `runChunk` (copy in,
// kernel, copy out, wipe; no validation or result objects), to split the overhead in two; and
// the request floor (read each request's fields, parse its code, compute its step: what any
// facade must do per request, bench/floor.ts) with the ceiling it puts on that fraction,
// kernel ÷ (kernel + floor), beside the 80 % target.
// Uses internals from dist/ (wasm.js, batch.js), the same compiled code the facade runs.

import { TotpVerifier } from '../../index.js';
import { loadChunk, runChunk, warmCore } from '../../batch.js';
import { instantiateCore } from '../../wasm.js';
import { packChunk } from '../kernel.js';
import { batchTask, type Kind, makeRequests } from '../facade.js';
import { fixtures } from '../fixtures.js';
import { requestFloor, serialFigure } from '../floor.js';
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
      const want = kind === 'valid' ? n : 0;
      const expected = kind === 'valid' ? 0 : core.layout.resultNoMatch;
      const chunk = packChunk(core, keys, codes, fx.step);
      const reqs = makeRequests(fx, kind, 'handle', n, handles);

      loadChunk(core, chunk);
      core.verifyBatch(n);
      if (!core.views.result.subarray(0, n).every((r) => r === expected)) throw new Error(`${ID}: kernel answered wrongly`);
      const out = new Int32Array(n);
      const tasks: TaskSpec[] = [
        {
          // Raw kernel: the chunk is put in memory before each round (runChunk wipes it); only
          // core.verifyBatch is timed.
          id: `${ID}/kernel/${kind}`, scenario: ID, items: n, async: false,
          label: `raw kernel core.verifyBatch(8192), pre-packed, ${kind}`,
          setup: () => loadChunk(core, chunk),
          fn: () => expectCount('kernel', core.verifyBatch(n), want),
        },
        {
          id: `${ID}/runChunk/${kind}`, scenario: ID, items: n, async: false,
          label: `runChunk(8192): copy in, kernel, copy out, wipe, ${kind}`,
          fn: () => {
            runChunk(core, chunk, 'verify', out, 0);
            if (out[0] !== expected || out[n - 1] !== expected) throw new Error(`${ID}: runChunk answered wrongly`);
          },
        },
        await batchTask({
          id: `${ID}/facade/${kind}`, scenario: ID,
          label: `facade verifyBatch(8192), KeyHandle, threads 0, ${kind}`,
        }, verifier, reqs, kind, fx),
        {
          id: `${ID}/floor/${kind}`, scenario: ID, items: n, async: false,
          label: `request floor (8192): read fields, parseCode, timeStep; no packing, no kernel, ${kind}`,
          fn: () => expectCount('floor', requestFloor(reqs, fx, fx.timestamp), n),
        },
      ];
      const [kernel, chunkFig, facade, floor] = await ctx.measure(tasks, { groupsLeft: 2 - k });
      core.wipe(n);
      report.ratio(ID, `facade ÷ raw kernel, ${kind}`, facade!, kernel!, 0.8, 'fraction');
      const ceiling = serialFigure(`${ID}/kernel+floor/${kind}`, `kernel + request floor, ${kind}`, kernel!, floor!);
      report.ratio(ID, `ceiling: kernel ÷ (kernel + request floor), ${kind}`, ceiling, kernel!, 0.8, 'fraction', true);
      report.ratio(ID, `facade ÷ (kernel + request floor), ${kind}`, facade!, ceiling, undefined, 'fraction');
      report.ratio(ID, `facade ÷ runChunk, ${kind}`, facade!, chunkFig!, undefined, 'fraction');
      report.ratio(ID, `runChunk ÷ raw kernel, ${kind}`, chunkFig!, kernel!, undefined, 'fraction');
    }
  } finally {
    await verifier.close();
  }
}

export const suite: Suite = { id: ID, title: 'facade overhead over the raw kernel (8192 items)', run };

