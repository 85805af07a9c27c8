// Compares two builds of this package in one process on issue 3's batcher scenario: 100k
// concurrent verify() calls (base32 secrets, key cache warm, valid codes) awaited with
// Promise.all, on an inline verifier (threads 0) and one with the default options, in
// interleaved rounds; prints each side's median rate and heap bytes per call, and the median
// of per-round ratios B ÷ A. Then the latency of a lone verify() on an idle verifier (each
// call awaited before the next), 1000 calls per side per round: p50 and p99 over all rounds,
// and the median of per-round p50 ratios. The side loaded second measures a little slower on
// this machine even when A = B: run both orders.
//
//   npm run build && flock /work/bench.lock node --expose-gc tools/compare-batcher.mjs A B
//
// A and B are package roots with dist/ built. ROUNDS (default 15) tunes the budget.
import v8 from 'node:v8';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

if (process.argv.length !== 4) {
  console.error('usage: node --expose-gc tools/compare-batcher.mjs A B   (package roots, built)');
  process.exit(2);
}
const N = 100_000;
const rounds = Number(process.env.ROUNDS ?? 15);
const configs = [['inline', { window: 1, threads: 0 }], ['default', { window: 1 }]];
const sides = [];
for (const [name, root] of [['A', process.argv[2]], ['B', process.argv[3]]]) {
  const dist = pathToFileURL(resolve(root)).href + '/dist';
  const { TotpVerifier } = await import(dist + '/index.js');
  const { fixtures } = await import(dist + '/bench/fixtures.js');
  const { makeRequests, countValid } = await import(dist + '/bench/facade.js');
  const reqs = makeRequests(fixtures(), 'valid', 'base32', N);
  for (const [config, opts] of configs) {
    const v = await TotpVerifier.create(opts);
    const run = async () => countValid(await Promise.all(reqs.map((r) => v.verify(r))));
    if (await run() !== N) throw new Error(`${name} ${config}: not every call valid`);
    const lone = reqs.slice(0, 1000);
    const loneRun = async (out) => {
      for (const r of lone) {
        const t0 = performance.now();
        if ((await v.verify(r)).status !== 'valid') throw new Error(`${name} ${config}: a lone call not valid`);
        out.push(performance.now() - t0);
      }
    };
    sides.push({ key: `${config} ${name}`, config, name, v, run, loneRun, ms: [], bytes: [], lone: [], p50s: [] });
  }
}
/** One timed call: its time and the heap bytes it allocated (what GCProfiler saw freed, plus growth). */
async function timed(run) {
  const profiler = new v8.GCProfiler();
  profiler.start();
  const h0 = v8.getHeapStatistics().used_heap_size;
  const t0 = performance.now();
  const n = await run();
  const ms = performance.now() - t0;
  const h1 = v8.getHeapStatistics().used_heap_size;
  let freed = 0;
  for (const s of profiler.stop().statistics) freed += s.beforeGC.heapStatistics.usedHeapSize - s.afterGC.heapStatistics.usedHeapSize;
  if (n !== N) throw new Error(`${n} of ${N} valid`);
  return { ms, bytes: (h1 - h0 + freed) / N };
}
for (let r = 0; r < rounds + 1; r++) {
  for (const s of sides) {
    const { ms, bytes } = await timed(s.run);
    if (r > 0) { s.ms.push(ms); s.bytes.push(bytes); }
    await new Promise((done) => setImmediate(done));
  }
}
for (let r = 0; r < rounds + 1; r++) {
  for (const s of sides) {
    const out = [];
    await s.loneRun(out);
    if (r > 0) { s.lone.push(...out); s.p50s.push(pct(out, 0.5)); }
  }
}
function pct(a, q) { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(q * s.length))]; }
const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
for (const s of sides) {
  console.log(`${s.key.padEnd(10)} ${(N / med(s.ms) / 1000).toFixed(3)} M/s  ${med(s.bytes).toFixed(0)} B/call`);
}
for (const [config] of configs) {
  const [a, b] = [sides.find((s) => s.key === `${config} A`), sides.find((s) => s.key === `${config} B`)];
  const ratio = a.ms.map((m, i) => m / b.ms[i]);
  console.log(`${config}: B ÷ A ${med(ratio).toFixed(3)} (B faster in ${ratio.filter((x) => x > 1).length} of ${ratio.length} rounds)`);
}
for (const s of sides) {
  console.log(`lone verify(), ${s.key.padEnd(10)} p50 ${(pct(s.lone, 0.5) * 1000).toFixed(1)} µs  p99 ${(pct(s.lone, 0.99) * 1000).toFixed(1)} µs`);
}
for (const [config] of configs) {
  const [a, b] = [sides.find((s) => s.key === `${config} A`), sides.find((s) => s.key === `${config} B`)];
  console.log(`lone verify(), ${config}: p50 B ÷ A ${med(b.p50s.map((x, i) => x / a.p50s[i])).toFixed(3)} (median of per-round ratios)`);
}
for (const s of sides) await s.v.close();
