// The batcher beside what it is made of, in interleaved rounds: 100k concurrent verify() (default
// options, inline, and full batches sent to the pool: `inlineThreshold` TH, default 8192), a
// coalescer that does nothing (src/bench/floor.ts), no-op async calls, and the facade's own
// verifyBatch of the same 100k requests in 8192-item calls (inline and default). Prints medians
// and the coalescer and verifyBatch in series, 1 / (1/a + 1/b), with each batcher ÷ that.
//
//   npm run build && flock /work/bench.lock node --expose-gc tools/batcher-parts.mjs [DIR] [valid|invalid]
//
// DIR: a package root with dist/ built (default .). ROUNDS (default 15) rounds of ~150 ms per task.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
const dist = pathToFileURL(resolve(process.argv[2] ?? '.')).href + '/dist';
const kind = process.argv[3] ?? 'valid';
const { TotpVerifier } = await import(`${dist}/index.js`);
const { makeRequests, countValid } = await import(`${dist}/bench/facade.js`);
const { fixtures } = await import(`${dist}/bench/fixtures.js`);
const { coalescerFloor, asyncFloor } = await import(`${dist}/bench/floor.js`);
const fx = fixtures();
const N = 100_000;
const reqs = makeRequests(fx, kind, 'base32', N);
const vd = await TotpVerifier.create({ window: 1 }), vi = await TotpVerifier.create({ window: 1, threads: 0 }), vp = await TotpVerifier.create({ window: 1, inlineThreshold: Number(process.env.TH ?? 8192) });
const slices = []; for (let s = 0; s < N; s += 8192) slices.push(reqs.slice(s, s + 8192));
const tasks = {
  'batcher default': async () => countValid(await Promise.all(reqs.map((r) => vd.verify(r)))),
  'batcher inline': async () => countValid(await Promise.all(reqs.map((r) => vi.verify(r)))),
  'batcher pooled': async () => countValid(await Promise.all(reqs.map((r) => vp.verify(r)))),
  'coalescer': async () => coalescerFloor(reqs),
  'async': async () => asyncFloor(reqs),
  'vb8192 inline': async () => { let n = 0; for (const s of slices) n += countValid(await vi.verifyBatch(s)); return n; },
  'vb8192 default': async () => { let n = 0; for (const s of slices) n += countValid(await vd.verifyBatch(s)); return n; },
};
const rates = Object.fromEntries(Object.keys(tasks).map((k) => [k, []]));
for (const f of Object.values(tasks)) for (let w = 0; w < 3; w++) await f();
const R = Number(process.env.ROUNDS ?? 15);
for (let r = 0; r < R; r++) {
  const keys = Object.keys(tasks); if (r % 2) keys.reverse();
  for (const k of keys) { globalThis.gc?.(); const t = performance.now(); let c = 0; while (performance.now() - t < 150 || c < 2) { await tasks[k](); c++; } rates[k].push(c * N / ((performance.now() - t) / 1000)); }
}
const med = (a) => a.slice().sort((x, y) => x - y)[a.length >> 1];
for (const k in rates) console.log(k.padEnd(16), (med(rates[k]) / 1e6).toFixed(3), 'M/s');
const ser = (a, b) => rates[a].map((x, i) => 1 / (1 / x + 1 / rates[b][i]));
console.log('coalescer and verifyBatch (inline) in series:', (med(ser('coalescer', 'vb8192 inline')) / 1e6).toFixed(3), ' batcher inline / it:', med(rates['batcher inline'].map((x, i) => x / ser('coalescer', 'vb8192 inline')[i])).toFixed(3));
console.log('coalescer and verifyBatch (default) in series:', (med(ser('coalescer', 'vb8192 default')) / 1e6).toFixed(3), ' batcher default / it:', med(rates['batcher default'].map((x, i) => x / ser('coalescer', 'vb8192 default')[i])).toFixed(3));
await vd.close(); await vi.close(); await vp.close();
