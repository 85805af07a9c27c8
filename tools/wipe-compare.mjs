// core.wipe(8192) at the SHA-1 midstate slot, for one or two builds in one process, interleaved
// rounds (the side that goes first alternates); ns per item, medians and the median of the
// per-round ratios B ÷ A. Hot caches: what the wipe itself costs, not what it evicts.
//
//   npm run build && flock /work/bench.lock node tools/wipe-compare.mjs A [B]
//
// A and B are package roots with dist/ and build/ (as for compare-builds.mjs).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
const roots = process.argv.slice(2).map((p) => resolve(p));
if (roots.length < 1 || roots.length > 2) {
  console.error('usage: node tools/wipe-compare.mjs A [B]   (package roots, built)');
  process.exit(2);
}
const sides = [];
for (const root of roots) {
  const { instantiateCore } = await import(root + '/dist/wasm.js');
  const core = instantiateCore(new WebAssembly.Module(readFileSync(root + '/build/core.wasm')));
  core.setMidStride(40);
  sides.push({ root, core, t: [] });
}
const N = 8192, R = 31;
for (let r = 0; r < R; r++) for (const s of (r % 2 ? [...sides].reverse() : sides)) {
  const t0 = performance.now(); let c = 0;
  while (performance.now() - t0 < 100) { for (let k = 0; k < 10; k++) s.core.wipe(N); c += 10; }
  s.t.push((performance.now() - t0) * 1e6 / c / N);
}
const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
for (const s of sides) console.log(s.root, 'wipe(8192) ns/item median', med(s.t).toFixed(3));
if (sides.length === 2) console.log('B/A median per-round', med(sides[1].t.map((x, i) => x / sides[0].t[i])).toFixed(3));
