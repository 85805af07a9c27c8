// Chunks for timing the raw kernel: the shared fixtures packed exactly as the facade packs
// them (midstates ready, window ±1, 6 digits), so the kernel can be timed without the facade.
// Uses the facade's own internals (batch.ts, wasm.ts), the same compiled code it runs.

import { BatchPacker, deriveMidstates, type PackedChunk, packParams } from '../batch.js';
import type { Core } from '../wasm.js';

/**
 * One chunk of `keys.length` items (at most one kernel call): key i's midstates, code i, step
 * `step`, window ±`window`, 6 digits.
 */
export function packChunk(core: Core, keys: readonly Uint8Array[], codes: readonly string[], step: number, window = 1): PackedChunk {
  const { layout } = core;
  const w = 10; // SHA-1's midstate words, as the facade packs them
  const mids = new Uint32Array(keys.length * w);
  deriveMidstates(core, keys, mids, layout.algSha1, w);
  const params = packParams(layout, 6, window, window);
  const packer = new BatchPacker(layout, keys.length, layout.maxItems, w);
  for (let i = 0; i < keys.length; i++) packer.addMid(mids, i * w, step, Number(codes[i]), params);
  const chunks = packer.finish();
  if (chunks.length !== 1) throw new Error(`packChunk: expected one chunk, got ${chunks.length}`);
  return chunks[0]!;
}
