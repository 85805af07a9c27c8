// Scenario: what the facade costs on top of the kernel. The raw kernel verifies one pre-packed
// chunk of 8192 items (midstates ready) already in WebAssembly memory; the facade verifies the
// same 8192 (KeyHandle, code, timestamp) requests through verifyBatch, which validates each
// request, packs it, copies the chunk in, runs the same kernel, wipes, and builds result objects.
//
// Issue 3: the facade's throughput ≥ 80 % of the raw kernel's. Also shown: `runChunk` (copy in,
// kernel, copy out, wipe; no validation or result objects), to split the overhead in two.
// Uses internals from dist/ (wasm.js, batch.js), the same compiled code the facade runs.
//
// Run alone: node --expose-gc --import tsx bench/overhead.ts

import { TotpVerifier } from '../dist/index.js';
import { BatchPacker, deriveMidstates, loadChunk, type PackedChunk, packParams, runChunk, warmCore } from '../dist/batch.js';
import { type Core, instantiateCore } from '../dist/wasm.js';
import { batchTask, type Kind, makeRequests } from './lib/facade.js';
import { fixtures } from './lib/fixtures.js';
import { measureGroup, type TaskSpec } from './lib/measure.js';
import type { Report, Scenario } from './lib/report.js';
import { isMain, runScenarios } from './lib/run.js';
import { expectCount } from './peers/peer.js';

const ID = 'overhead';

/** One chunk of `n` items: secret i's midstates, code and step T, window ±1, 6 digits. */
function packChunk(core: Core, keys: readonly Uint8Array[], codes: readonly string[], step: number): PackedChunk {
  const { layout } = core;
  const w = 10; // SHA-1's midstate words, as the facade packs them
  const mids = new Uint32Array(keys.length * w);
  deriveMidstates(core, keys, mids, layout.algSha1, w);
  const params = packParams(layout, 6, 1, 1);
  const packer = new BatchPacker(layout, keys.length, layout.maxItems, w);
  for (let i = 0; i < keys.length; i++) packer.addMid(mids, i * w, step, Number(codes[i]), params);
  const chunks = packer.finish();
  if (chunks.length !== 1) throw new Error(`${ID}: expected one chunk, got ${chunks.length}`);
  return chunks[0]!;
}

async function run(report: Report): Promise<void> {
  const fx = fixtures();
  const core = instantiateCore();
  warmCore(core);
  const n = core.layout.maxItems; // 8192: one kernel call
  const keys = fx.secrets.slice(0, n);
  const verifier = await TotpVerifier.create({ threads: 0, window: 1 });
  try {
    const handles = verifier.importKeys(keys);
    for (const kind of ['valid', 'invalid'] as Kind[]) {
      const codes = (kind === 'valid' ? fx.valid : fx.invalid).slice(0, n);
      const want = kind === 'valid' ? n : 0;
      const expected = kind === 'valid' ? 0 : core.layout.resultNoMatch;
      const chunk = packChunk(core, keys, codes, fx.step);

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
        }, verifier, makeRequests(fx, kind, 'handle', n, handles), kind, fx),
      ];
      const [kernel, chunkFig, facade] = report.add(...await measureGroup(tasks));
      core.wipe(n);
      report.ratio(ID, `facade ÷ raw kernel, ${kind}`, facade!, kernel!, 0.8, 'fraction');
      report.ratio(ID, `facade ÷ runChunk, ${kind}`, facade!, chunkFig!, undefined, 'fraction');
      report.ratio(ID, `runChunk ÷ raw kernel, ${kind}`, chunkFig!, kernel!, undefined, 'fraction');
    }
  } finally {
    await verifier.close();
  }
}

export const scenario: Scenario = { id: ID, title: 'facade overhead over the raw kernel (8192 items)', run };

if (isMain(import.meta.url)) await runScenarios([scenario]);
