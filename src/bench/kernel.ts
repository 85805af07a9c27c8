// Chunks for timing the raw kernel: the shared fixtures packed exactly as the facade packs
// them (midstates ready, window ±1, 6 digits), so the kernel can be timed without the facade.
// Uses the facade's own internals (batch.ts, wasm.ts), the same compiled code it runs.

import { BatchPacker, deriveMidstates, loadChunk, type PackedChunk, packParams, runChunk } from '../batch.js';
import type { Core } from '../wasm.js';
import type { TaskSpec } from './measure.js';
import { expectCount } from './peers/peer.js';

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

/**
 * One chunk of `keys.length` items carrying their raw keys (no midstates): running it derives
 * each key's midstates and then verifies, the kernel's whole work for a secret it has not seen.
 */
export function packKeyChunk(core: Core, keys: readonly Uint8Array[], codes: readonly string[], step: number, window = 1): PackedChunk {
  const { layout } = core;
  const params = packParams(layout, 6, window, window);
  const packer = new BatchPacker(layout, keys.length, layout.maxItems, 10);
  for (let i = 0; i < keys.length; i++) packer.addKey(keys[i]!, step, Number(codes[i]), params);
  const chunks = packer.finish();
  if (chunks.length !== 1) throw new Error(`packKeyChunk: expected one chunk, got ${chunks.length}`);
  return chunks[0]!;
}

/**
 * The raw kernel as a bench task: `core.verifyBatch` over `chunk` (midstates ready, from
 * packChunk), put in the core's memory before each round and only the kernel call timed. Every
 * call checks its count: all accepted for valid codes, none for invalid ones.
 */
export function kernelTask(core: Core, chunk: PackedChunk, kind: 'valid' | 'invalid', id: string, scenario: string, label: string): TaskSpec {
  const n = chunk.count;
  const want = kind === 'valid' ? n : 0;
  return {
    id, scenario, label, items: n, async: false,
    setup: () => loadChunk(core, chunk),
    fn: () => expectCount('kernel', core.verifyBatch(n), want),
  };
}

/**
 * `runChunk` of `chunk` as a bench task: copy in, derive the midstates of any raw keys, verify,
 * copy out, wipe the core. Every call checks its first and last results: delta 0 for valid
 * codes, no match for invalid ones.
 */
export function runChunkTask(core: Core, chunk: PackedChunk, kind: 'valid' | 'invalid', id: string, scenario: string, label: string): TaskSpec {
  const n = chunk.count;
  const out = new Int32Array(n);
  const expected = kind === 'valid' ? 0 : core.layout.resultNoMatch;
  return {
    id, scenario, label, items: n, async: false,
    fn: () => {
      runChunk(core, chunk, 'verify', out, 0);
      if (out[0] !== expected || out[n - 1] !== expected) throw new Error(`${scenario}: runChunk answered wrongly`);
    },
  };
}
