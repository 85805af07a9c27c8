// Packing a full inline chunk straight into the core (BatchPacker with a core: 8192 addMid
// items of 10 midstate words from a 10,000-key table, as SlicePreparer.prepare
// (src/verify/prepare.ts) packs KeyHandle requests),
// then core.wipe, for one or two builds in one process, interleaved rounds (the side that goes
// first alternates); ns per item, medians and the median of the per-round ratios B ÷ A.
// No kernel call between batches: the packer's own cost, not what a kernel evicts.
// RUN=1: runChunk (verify) instead of the bare wipe, with every item flagged PARAM_SKIP so that
// the kernel hashes nothing: packing plus what runChunk adds around the hashing (deriveKeys'
// scan, the kernel's scan of the items, the results' copy, the wipe).
//
//   npm run build && flock /work/bench.lock node tools/pack-compare.mjs A [B]
//
// A and B are package roots with dist/ and build/ (as for compare-builds.mjs).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const roots = process.argv.slice(2).map((p) => resolve(p));
if (roots.length < 1 || roots.length > 2) {
  console.error('usage: node tools/pack-compare.mjs A [B]   (package roots, built)');
  process.exit(2);
}
const RUN = process.env.RUN === '1';
const KEYS = 10_000, ROUNDS = Number(process.env.ROUNDS ?? 31), MS = Number(process.env.MS ?? 100);
const mids = new Uint32Array(KEYS * 10).map((_, k) => (k * 2654435761) >>> 0);
const sides = [];
for (const root of roots) {
  const { instantiateCore } = await import(root + '/dist/wasm.js');
  const { BatchPacker, packParams, runChunk } = await import(root + '/dist/batch.js');
  const core = instantiateCore(new WebAssembly.Module(readFileSync(root + '/build/core.wasm')));
  const n = core.layout.maxItems;
  const params = (packParams(core.layout, 6, 1, 1) | (RUN ? core.layout.paramSkip : 0)) >>> 0;
  const out = new Int32Array(n);
  const once = () => {
    const packer = new BatchPacker(core.layout, n, n, 10, core);
    for (let j = 0; j < n; j++) packer.addMid(mids, (j % KEYS) * 10, 59_000_000, j % 1_000_000, params);
    const chunks = packer.finish();
    if (chunks.length !== 1 || chunks[0].count !== n) throw new Error('packed wrongly');
    if (RUN) {
      runChunk(core, chunks[0], 'verify', out, 0);
      if (out[n - 1] !== core.layout.resultMalformed) throw new Error('a skipped item was evaluated');
    } else {
      core.setMidStride(40);
      core.wipe(n);
    }
  };
  for (let k = 0; k < 50; k++) once();
  sides.push({ root, once, n, t: [] });
}
for (let r = 0; r < ROUNDS; r++) for (const s of (r % 2 ? [...sides].reverse() : sides)) {
  const t0 = performance.now(); let c = 0;
  while (performance.now() - t0 < MS) { s.once(); c++; }
  s.t.push((performance.now() - t0) * 1e6 / c / s.n);
}
const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
for (const s of sides) console.log(s.root, RUN ? 'pack 8192 in the core + runChunk (items skipped): ns/item median' : 'pack 8192 in the core + wipe: ns/item median', med(s.t).toFixed(2));
if (sides.length === 2) console.log('B/A median per-round', med(sides[1].t.map((x, i) => x / sides[0].t[i])).toFixed(3));
