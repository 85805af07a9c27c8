// Compares two builds of this package in one process: the raw kernel (8192 pre-packed items)
// and the facade (verifyBatch of the 10,000 fixture requests: key handles, and base32 with the
// cache warm) of build A and build B, and the node:crypto baseline, valid and invalid codes,
// in interleaved rounds; prints medians and medians of per-round ratios. For changes to the
// core or the facade, where two full bench runs minutes apart differ by more than the change.
//
//   npm run build && flock /work/bench.lock node --expose-gc tools/compare-builds.mjs A B
//
// A and B are package roots with dist/ and build/ (another worktree of this repository, built;
// its node_modules may be a link to this one). MS (per task per round, default 150) and ROUNDS
// (default 15) tune the budget. COLD=1 measures the cold-cache suite's facade lines instead:
// verifyBatch of the same requests with base32 secrets and the key cache off (`keyCacheSize: 0`:
// decoded and derived in every call) and with raw Uint8Array secrets (never cached).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

if (process.argv.length !== 4) {
  console.error('usage: node --expose-gc tools/compare-builds.mjs A B   (package roots, built)');
  process.exit(2);
}
const [A, B] = process.argv.slice(2).map((p) => pathToFileURL(resolve(p)).href);
const ms = Number(process.env.MS ?? 150), rounds = Number(process.env.ROUNDS ?? 15);
const cold = process.env.COLD === '1';
const families = cold ? ['facade base32 off', 'facade bytes off'] : ['kernel', 'facade handles', 'facade base32 warm'];
const side = async (root) => {
  const dist = root + '/dist';
  const m = {
    TotpVerifier: (await import(dist + '/index.js')).TotpVerifier,
    instantiateCore: (await import(dist + '/wasm.js')).instantiateCore,
    ...(await import(dist + '/batch.js')), ...(await import(dist + '/bench/kernel.js')),
    ...(await import(dist + '/bench/facade.js')), fixtures: (await import(dist + '/bench/fixtures.js')).fixtures,
  };
  const fx = m.fixtures();
  const core = m.instantiateCore(new WebAssembly.Module(readFileSync(new URL(root + '/build/core.wasm')))); m.warmCore(core);
  const v = await m.TotpVerifier.create({ threads: 0, window: 1, ...(cold ? { keyCacheSize: 0 } : {}) });
  const handles = cold ? [] : v.importKeys(fx.secrets);
  return { m, fx, core, v, handles };
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
    if (cold) {
      for (const form of ['base32', 'bytes']) {
        const reqs = s.m.makeRequests(s.fx, kind, form, s.fx.count);
        s.m.assertResults(`${form} ${name}`, await s.v.verifyBatch(reqs), kind, s.fx);
        tasks[`facade ${form} off ${name}`] = { items: reqs.length, fn: () => s.v.verifyBatch(reqs) };
      }
      continue;
    }
    const n = s.core.layout.maxItems;
    const chunk = s.m.packChunk(s.core, s.fx.secrets.slice(0, n), codes.slice(0, n), s.fx.step);
    tasks[`kernel ${name}`] = { items: n, setup: () => s.m.loadChunk(s.core, chunk), fn: () => s.core.verifyBatch(n) };
    const reqs = s.m.makeRequests(s.fx, kind, 'handle', s.fx.count, s.handles);
    const reqs32 = s.m.makeRequests(s.fx, kind, 'base32', s.fx.count);
    await s.v.verifyBatch(reqs32);
    tasks[`facade handles ${name}`] = { items: reqs.length, fn: () => s.v.verifyBatch(reqs) };
    tasks[`facade base32 warm ${name}`] = { items: reqs32.length, fn: () => s.v.verifyBatch(reqs32) };
  }
  tasks['node:crypto'] = { items: codes.length, fn: () => peer.verifyAll(codes) };
  const rates = Object.fromEntries(Object.keys(tasks).map((k) => [k, []]));
  for (let r = 0; r < rounds + 1; r++) {
    for (const [k, t] of Object.entries(tasks)) {
      t.setup?.();
      let calls = 0; const t0 = performance.now(); let el;
      do { const x = t.fn(); if (x instanceof Promise) await x; calls++; el = performance.now() - t0; } while (el < ms);
      if (r > 0) rates[k].push(calls * t.items / el * 1000);
    }
  }
  console.log(`--- ${kind}`);
  for (const k of Object.keys(tasks)) {
    const ratio = rates[k].map((x, i) => x / rates['node:crypto'][i]);
    console.log(`${k.padEnd(24)} ${(med(rates[k]) / 1e6).toFixed(3)} M/s  ÷ node:crypto ${med(ratio).toFixed(2)}×`);
  }
  for (const k of families) {
    const ratio = rates[`${k} B`].map((x, i) => x / rates[`${k} A`][i]);
    console.log(`${k} B ÷ A: ${med(ratio).toFixed(3)}`);
  }
  for (const n of cold ? [] : ['A', 'B']) {
    const ratio = rates[`facade handles ${n}`].map((x, i) => x / rates[`kernel ${n}`][i]);
    console.log(`facade handles ÷ kernel, ${n}: ${(100 * med(ratio)).toFixed(1)}%`);
  }
}
for (const s of Object.values(sides)) await s.v.close();
