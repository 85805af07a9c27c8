// Compares two builds' worker pools in one process: verifyBatch of 100k and 200k requests
// (base32 secrets, cache warm), valid and invalid codes, on verifiers with threads 0, 1 and 2,
// of build A and build B, in interleaved rounds; prints medians, the median of per-round ratios
// B ÷ A per thread count, and each build's pool ÷ its own inline. For dispatch changes (pool.ts,
// the slicing in verifier.ts), where two threads-suite runs minutes apart differ by more than
// the change. Run it in both orders (A B, then B A): the sides are not symmetric here.
//
//   npm run build && flock /work/bench.lock node --expose-gc tools/compare-threads.mjs A B
//
// A and B are package roots with dist/ (another worktree of this repository, built). MS (per
// task per round, default 250; at least one batch), ROUNDS (default 8) and SIZES (default
// 100000,200000) tune the budget: 8 rounds take about 80 s on the 2-core VM.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
if (process.argv.length !== 4) {
  console.error('usage: node --expose-gc tools/compare-threads.mjs A B   (package roots, built)');
  process.exit(2);
}
const [A, B] = process.argv.slice(2).map((p) => pathToFileURL(resolve(p)).href);
const ms = Number(process.env.MS ?? 250), rounds = Number(process.env.ROUNDS ?? 8);
const sizes = (process.env.SIZES ?? '100000,200000').split(',').map(Number);
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
const side = async (root) => {
  const d = root + '/dist';
  const { TotpVerifier } = await import(d + '/index.js');
  const { makeRequests } = await import(d + '/bench/facade.js');
  const { fixtures } = await import(d + '/bench/fixtures.js');
  const fx = fixtures();
  const v = {};
  for (const t of [0, 1, 2]) v[t] = await TotpVerifier.create({ threads: t, window: 1 });
  return { v, fx, makeRequests };
};
const sides = { A: await side(A), B: await side(B) };
for (const size of sizes) for (const kind of ['valid', 'invalid']) {
  const tasks = {};
  for (const [name, s] of Object.entries(sides)) {
    const reqs = s.makeRequests(s.fx, kind, 'base32', size);
    for (const t of [0, 1, 2]) {
      const r = await s.v[t].verifyBatch(reqs);
      const want = kind === 'valid' ? 'valid' : 'invalid';
      if (r.length !== size || r.some((x) => x.status !== want)) throw new Error(`${name} t${t} wrong results`);
      tasks[`${name} t${t}`] = () => s.v[t].verifyBatch(reqs);
    }
  }
  const rates = Object.fromEntries(Object.keys(tasks).map((k) => [k, []]));
  for (let r = 0; r < rounds + 1; r++) {
    for (const [k, fn] of Object.entries(tasks)) {
      globalThis.gc?.();
      let calls = 0; const t0 = performance.now(); let el;
      do { await fn(); calls++; el = performance.now() - t0; } while (el < ms);
      if (r > 0) rates[k].push(calls * size / el * 1000);
    }
  }
  const line = [];
  for (const t of [0, 1, 2]) {
    const ratio = rates[`B t${t}`].map((x, i) => x / rates[`A t${t}`][i]);
    line.push(`t${t} A ${(med(rates[`A t${t}`]) / 1e6).toFixed(3)} B ${(med(rates[`B t${t}`]) / 1e6).toFixed(3)} M/s B÷A ${med(ratio).toFixed(3)}`);
  }
  for (const n of ['A', 'B']) for (const t of [1, 2]) {
    line.push(`${n} t${t}÷t0 ${med(rates[`${n} t${t}`].map((x, i) => x / rates[`${n} t0`][i])).toFixed(3)}`);
  }
  console.log(`--- ${size} ${kind}\n  ${line.join('\n  ')}`);
}
for (const s of Object.values(sides)) for (const v of Object.values(s.v)) await v.close();
