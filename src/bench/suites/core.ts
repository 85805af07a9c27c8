// Suite: the WebAssembly kernel alone, SIMD (four lanes of v128) against the scalar reference
// it is tested against, on the same pre-packed chunk of 8192 items (midstates ready). Nothing
// of the facade is timed: this is the ceiling a thread can reach.

import { loadChunk, warmCore } from '../../batch.js';
import { instantiateCore } from '../../wasm.js';
import type { Kind } from '../facade.js';
import { fixtures } from '../fixtures.js';
import { packChunk } from '../kernel.js';
import type { TaskSpec } from '../measure.js';
import { expectCount } from '../peers/peer.js';
import type { Suite, SuiteContext } from '../suite.js';

const ID = 'core';

async function run(ctx: SuiteContext): Promise<void> {
  const fx = fixtures();
  const core = instantiateCore();
  warmCore(core);
  const n = core.layout.maxItems;
  const keys = fx.secrets.slice(0, n);
  try {
    for (const [k, kind] of (ctx.profile.kinds as Kind[]).entries()) {
      const chunk = packChunk(core, keys, (kind === 'valid' ? fx.valid : fx.invalid).slice(0, n), fx.step);
      const want = kind === 'valid' ? n : 0;
      // The chunk is put in core memory before each round (setup, untimed); the kernel reads
      // its inputs and writes only results, so the calls of a round repeat on the same data.
      const task = (simd: boolean): TaskSpec => ({
        id: `${ID}/${simd ? 'simd' : 'scalar'}/${kind}`,
        scenario: ID,
        label: `raw kernel, ${simd ? 'SIMD (4 lanes)' : 'scalar reference'}, 8192 pre-packed items, ${kind}`,
        items: n,
        async: false,
        params: { kind, batch: n },
        setup: () => loadChunk(core, chunk),
        fn: () => expectCount('kernel', simd ? core.verifyBatch(n) : core.verifyBatchScalar(n), want),
      });
      const [simd, scalar] = await ctx.measure([task(true), task(false)], { groupsLeft: ctx.profile.kinds.length - k });
      ctx.report.ratio(ID, `SIMD ÷ scalar, ${kind}`, simd!, scalar!);
    }
  } finally {
    core.wipe(n);
  }
}

export const suite: Suite = { id: ID, title: 'the WebAssembly kernel: SIMD vs scalar (8192 pre-packed items)', run };
