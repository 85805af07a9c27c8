// Compares two builds of this package in one process on the cold-cache suite's facade lines:
// verifyBatch of the 10,000 fixture requests with base32 secrets and the key cache off
// (`keyCacheSize: 0`), and with raw Uint8Array secrets (never cached), of build A and build B,
// and the node:crypto baseline, valid and invalid codes, in interleaved rounds; prints medians
// and medians of per-round ratios. For changes to the cache-off path, where two suite runs
// minutes apart differ by more than the change.
//
//   npm run build && flock /work/bench.lock node --expose-gc tools/compare-cold.mjs A B
//
// A and B are package roots with dist/ and build/ (another worktree of this repository, built).
// MS (per task per round, default 150) and ROUNDS (default 15) tune the budget.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

if (process.argv.length !== 4) {
  console.error('usage: node --expose-gc tools/compare-cold.mjs A B   (package roots, built)');
  process.exit(2);
}
const [A, B] = process.argv.slice(2).map((p) => pathToFileURL(resolve(p)).href);
const ms = Number(process.env.MS ?? 150), rounds = Number(process.env.ROUNDS ?? 15);
const side = async (root) => {
  const dist = root + '/dist';
  const { TotpVerifier } = await import(dist + '/index.js');
  const { makeRequests, assertResults } = await import(dist + '/bench/facade.js');
  const fx = (await import(dist + '/bench/fixtures.js')).fixtures();
  const v = await TotpVerifier.create({ threads: 0, window: 1, keyCacheSize: 0 });
  return { makeRequests, assertResults, fx, v };
};
const sides = { A: await side(A), B: await side(B) };
const { createNodeCryptoPeer } = await import(B + '/dist/bench/peers/node-crypto.js');
const fx = sides.B.fx;
const peer = await createNodeCryptoPeer(fx);
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[s.length >> 1]; };
for (const kind of ['valid', 'invalid']) {
  const codes = kind === 'valid' ? fx.valid : fx.invalid;
  const tasks = {};
  for (const [name, s] of Object.entries(sides)) {
    for (const form of ['base32', 'bytes']) {
      const reqs = s.makeRequests(s.fx, kind, form);
      s.assertResults(`${form} ${name}`, await s.v.verifyBatch(reqs), kind, s.fx);
      tasks[`${form} cache off ${name}`] = { items: reqs.length, fn: () => s.v.verifyBatch(reqs) };
    }
  }
  tasks['node:crypto'] = { items: codes.length, fn: () => peer.verifyAll(codes) };
  const rates = Object.fromEntries(Object.keys(tasks).map((k) => [k, []]));
  for (let r = 0; r < rounds + 1; r++) {
    for (const [k, t] of Object.entries(tasks)) {
      globalThis.gc?.();
      let calls = 0; const t0 = performance.now(); let el;
      do { const x = t.fn(); if (x instanceof Promise) await x; calls++; el = performance.now() - t0; } while (el < ms);
      if (r > 0) rates[k].push(calls * t.items / el * 1000);
    }
  }
  console.log(`--- ${kind}`);
  for (const k of Object.keys(tasks)) {
    const ratio = rates[k].map((x, i) => x / rates['node:crypto'][i]);
    console.log(`${k.padEnd(22)} ${(med(rates[k]) / 1e6).toFixed(3)} M/s  ${(1e9 / med(rates[k])).toFixed(0).padStart(5)} ns/item  ÷ node:crypto ${med(ratio).toFixed(2)}×`);
  }
  for (const form of ['base32', 'bytes']) {
    const ratio = rates[`${form} cache off B`].map((x, i) => x / rates[`${form} cache off A`][i]);
    console.log(`${form} cache off B ÷ A: ${med(ratio).toFixed(3)}`);
  }
}
for (const s of Object.values(sides)) await s.v.close();
