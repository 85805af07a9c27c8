// Where a facade call spends its time, for two builds in one process: prepare (validate and
// pack a slice: SlicePreparer.prepare, #prepare before the split of verifier.ts), the kernel
// call, #answer, and the rest, in ns per request, interleaved rounds (the
// side that goes first alternates), medians and medians of per-round ratios B ÷ A. For changes
// too small for tools/compare-builds.mjs to resolve on this VM (it measured the same build
// against itself at 0.84–1.13 on the facade rows): a phase's own time moves less than the total.
// Run it both ways round (A B, then B A): the side loaded second showed prepare at 0.85–0.90
// of the first's whichever build it was (2026-11-24 00:56 UTC), #answer did not.
//
//   npm run build && flock /work/bench.lock node tools/phase-timers.mjs A B
//
// A and B are package roots with dist/ and build/ (as for compare-builds.mjs). Each side's
// dist/ is copied to a temporary directory and timers are put around three calls in the copy
// (verifier.js: preparing an inline slice; verify/run.js: its runInline and #answer (both in
// verifier.js before the split); batch.js: core.verifyBatch); a build whose code no longer has
// those lines is refused. Inline batches only (threads 0).
// KIND (valid|invalid, default valid), FORM (handle|base32|bytes, default handle), N (requests
// per call, default 8192), ROUNDS (default 21), MS (per side per round, default 150).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { distCopy } from './dist-copy.mjs';

if (process.argv.length !== 4) {
  console.error('usage: node tools/phase-timers.mjs A B   (package roots, built)');
  process.exit(2);
}
const kind = process.env.KIND ?? 'valid', form = process.env.FORM ?? 'handle';
const N = Number(process.env.N ?? 8192), ROUNDS = Number(process.env.ROUNDS ?? 21), MS = Number(process.env.MS ?? 150);

/** Timers in a copy of `root`'s dist/; returns the copy's root. */
function instrument(root, tmp, name) {
  const { dir, edit, editFirst } = distCopy(root, join(tmp, name));
  const T = 'globalThis.__phase';
  // The slice is prepared in verifier.js (by #prepare before src/verifier.ts was split into
  // src/verify/, by its SlicePreparer since) and answered in verify/run.js (verifier.js before).
  const prepare = (call) => `{ const t = performance.now(); prepared = ${call}; ${T}.prepare += performance.now() - t; }`;
  editFirst([
    ['verifier.js', 'prepared = this.#preparer.prepare(requests, 0, n, now, results, pooled, round);',
      prepare('this.#preparer.prepare(requests, 0, n, now, results, pooled, round)')],
    ['verifier.js', 'prepared = this.#prepare(requests, 0, n, now, results, pooled, round);',
      prepare('this.#prepare(requests, 0, n, now, results, pooled, round)')],
  ]);
  const answer = "this.#answer(p, this.#dispatcher.runInline(p.chunks, p.total, 'verify'), undefined, results);";
  const timed = `{ const t = performance.now(); const raw = this.#dispatcher.runInline(p.chunks, p.total, 'verify'); const t2 = performance.now(); ${T}.run += t2 - t; this.#answer(p, raw, undefined, results); ${T}.answer += performance.now() - t2; }`;
  editFirst([['verify/run.js', answer, timed], ['verifier.js', answer, timed]]);
  edit('batch.js', "if (mode === 'verify')\n            core.verifyBatch(n);",
    `if (mode === 'verify') { const t = performance.now(); core.verifyBatch(n); ${T}.kernel += performance.now() - t; }`);
  return dir;
}

const tmp = mkdtempSync(join(tmpdir(), 'phase-timers-'));
try {
  globalThis.__phase = { prepare: 0, run: 0, answer: 0, kernel: 0 };
  const side = async (root, name) => {
    const dist = pathToFileURL(instrument(resolve(root), tmp, name)).href + '/dist';
    const { TotpVerifier } = await import(dist + '/index.js');
    const { makeRequests } = await import(dist + '/bench/facade.js');
    const fx = (await import(dist + '/bench/fixtures.js')).fixtures();
    const v = await TotpVerifier.create({ threads: 0, window: 1 });
    const reqs = makeRequests(fx, kind, form, N, v.importKeys(fx.secrets));
    for (let i = 0; i < 30; i++) await v.verifyBatch(reqs); // warm: optimised code, key cache filled
    return { v, reqs };
  };
  const sides = { A: await side(process.argv[2], 'A'), B: await side(process.argv[3], 'B') };
  const per = { A: [], B: [] };
  for (let r = 0; r < ROUNDS; r++) {
    for (const name of r % 2 === 0 ? ['A', 'B'] : ['B', 'A']) {
      const { v, reqs } = sides[name];
      const p = Object.assign(globalThis.__phase, { prepare: 0, run: 0, answer: 0, kernel: 0 });
      const t0 = performance.now();
      let calls = 0;
      while (performance.now() - t0 < MS) { await v.verifyBatch(reqs); calls++; }
      const k = 1e6 / (calls * N), total = (performance.now() - t0) * k;
      per[name].push({ total, prepare: p.prepare * k, kernel: p.kernel * k, answer: p.answer * k, 'total − kernel': total - p.kernel * k });
    }
  }
  const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[s.length >> 1]; };
  console.log(`${kind} codes, ${form}, ${N} requests per call, ns per request, medians of ${ROUNDS} rounds`);
  for (const f of Object.keys(per.A[0])) {
    const ratio = per.B.map((b, i) => b[f] / per.A[i][f]);
    console.log(`${f.padEnd(16)} A ${med(per.A.map((x) => x[f])).toFixed(1).padStart(7)}  B ${med(per.B.map((x) => x[f])).toFixed(1).padStart(7)}  B ÷ A ${med(ratio).toFixed(3)}`);
  }
  for (const s of Object.values(sides)) await s.v.close();
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
