// A timeline of one pooled verifyBatch: for each chunk, when the calling thread packed it,
// posted it, got its answer back and answered its requests, and when its worker started and
// finished it (which worker). For finding where a pool loses time against its ceiling.
//
//   npm run build && flock /work/bench.lock node tools/timeline.mjs [ROOT]
//
// ROOT: a package root with dist/ (default: this one); its dist/ is copied to a temporary
// directory and timestamps are put around the lines named below (a build whose code no longer
// has them is refused). KIND (valid|invalid, default invalid), N (requests, default 100000),
// THREADS (default 2), CALLS (timed calls after warm-up, default 20; the median call is printed
// in full, with its moments (helpOut, each slice's chunks answered, each slot given back), and a
// summary of every call).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { distCopy } from './dist-copy.mjs';

const root = resolve(process.argv[2] ?? '.');
const kind = process.env.KIND ?? 'invalid', N = Number(process.env.N ?? 100_000);
const THREADS = Number(process.env.THREADS ?? 2), CALLS = Number(process.env.CALLS ?? 20);
const tmp = mkdtempSync(join(tmpdir(), 'timeline-'));
const { dir, edit, editFirst } = distCopy(root, join(tmp, 'x'));
const NOW = 'Number(process.hrtime.bigint()) / 1e6';
const EV = (name, extra = '') => `globalThis.__tl?.push(['${name}', ${NOW}${extra}]);`;
edit('verifier.js', 'const prepared = this.#preparer.prepare(requests, start, Math.min(n, start + slice), now, results, pooled, round);',
  `${EV('pack0', ', start')} const prepared = this.#preparer.prepare(requests, start, Math.min(n, start + slice), now, results, pooled, round); ${EV('pack1', ', start')}`);
edit('verifier.js', 'const run = this.#slices.run(prepared, results);', `globalThis.__slice = start; const run = this.#slices.run(prepared, results); ${EV('posted', ', start')}`);
edit('verify/run.js', `            if (items === undefined || statefulSlot !== undefined)
                this.#answer(p, raw, statefulSlot, results);`,
  `            ${EV('ans0', ', p.start')} if (items === undefined || statefulSlot !== undefined)
                this.#answer(p, raw, statefulSlot, results); ${EV('ans1', ', p.start')}`);
edit('pool.js', 'const pool = this.#pool;', 'const pool = this.#pool; const __s = globalThis.__slice;');
// A chunk's task is told apart by its owner slot (+1, so that 0 is no task): slots go round,
// so the few dozen tasks of a call each have their own.
edit('pool.js', 'const open = { chunk, mode, out, offset, slot, ranHere: false, done: undefined };',
  `const open = { chunk, mode, out, offset, slot, ranHere: false, done: undefined }; ${EV('post', ', __s, slot + 1')}`);
edit('pool.js', 'out.set(result, offset);', `${EV('back', ', __s')} out.set(result, offset);`);
edit('worker.js', 'if (!claim(task)) {', `const __t0 = ${NOW}; if (!claim(task)) {`);
edit('worker.js', 'answered(task);',
  `answered(task); { const tl = workerData.timeline; const k = (task.slot % 4096) * 4; tl[k] = __t0; tl[k + 1] = ${NOW}; tl[k + 2] = (await import('node:worker_threads')).threadId; tl[k + 3] = task.slot + 1; }`);
edit('worker.js', 'export default function runTask(task) {', 'export default async function runTask(task) {');
// Moments of the call as a whole, printed in order for the median call: when the calling thread
// starts and ends helping (helpOut), each slice's chunks all answered (all), each slice's raw
// results back in the runner (raw), and each task's slot given back as piscina settles it (free).
const G = (name) => `globalThis.__g?.push(['${name}', ${NOW}]);`;
edit('verifier.js', 'if (pooled)\n                this.#dispatcher.helpOut();', `${G('help0')} if (pooled) this.#dispatcher.helpOut(); ${G('help1')}`);
edit('pool.js', 'await Promise.all(runs);', `await Promise.all(runs); ${G('all')}`);
edit('verify/run.js', "const raw = await this.#dispatcher.run(p.chunks, p.total, 'verify', p.pooled);",
  `const raw = await this.#dispatcher.run(p.chunks, p.total, 'verify', p.pooled); ${G('raw')}`);
// (Since the owner-slot change, the task also leaves the open list there; older builds freed the slot alone.)
editFirst([
  ['pool.js', 'const free = () => {\n                    this.#close(open);', `const free = () => { ${G('free')}\n                    this.#close(open);`],
  ['pool.js', 'const free = () => this.#freeSlot(slot);', `const free = () => { ${G('free')} this.#freeSlot(slot); };`],
]);

const dist = pathToFileURL(dir).href + '/dist';
const { TotpVerifier } = await import(dist + '/index.js');
const { makeRequests } = await import(dist + '/bench/facade.js');
const fx = (await import(dist + '/bench/fixtures.js')).fixtures();
const timeline = new Float64Array(new SharedArrayBuffer(8 * 4 * 4096));
const v = await TotpVerifier.createWithInternals({ threads: THREADS, window: 1 }, { workerData: { timeline } });
const inline = await TotpVerifier.create({ threads: 0, window: 1 });
const reqs = makeRequests(fx, kind, 'base32', N);
for (let i = 0; i < 10; i++) { await v.verifyBatch(reqs); await inline.verifyBatch(reqs); }
const calls = [];
const inlineMs = [];
for (let c = 0; c < CALLS; c++) {
  let t = performance.now(); await inline.verifyBatch(reqs); inlineMs.push(performance.now() - t);
  globalThis.__tl = []; globalThis.__g = [];
  const t0 = Number(process.hrtime.bigint()) / 1e6;
  await v.verifyBatch(reqs);
  const t1 = Number(process.hrtime.bigint()) / 1e6;
  const ev = globalThis.__tl; globalThis.__tl = undefined;
  const chunks = new Map();
  for (const [name, time, at, seq] of ev) {
    const k = at; if (!chunks.has(k)) chunks.set(k, {});
    const c = chunks.get(k); c[name] = time - t0; if (seq !== undefined) c.seq = seq;
  }
  for (const c of chunks.values()) {
    const k = ((c.seq - 1) % 4096) * 4;
    if (timeline[k + 3] === c.seq) { c.w0 = timeline[k] - t0; c.w1 = timeline[k + 1] - t0; c.tid = timeline[k + 2]; }
  }
  calls.push({ moments: globalThis.__g.map(([name, t]) => [name, t - t0]), total: t1 - t0, chunks: [...chunks.entries()].sort((a, b) => a[0] - b[0]) });
}
const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const f = (x) => (x === undefined ? '   -  ' : x.toFixed(2).padStart(6));
const byTotal = [...calls].sort((a, b) => a.total - b.total);
const m = byTotal[calls.length >> 1];
console.log(`${kind}, ${N} requests, threads ${THREADS}: pool call ms median ${m.total.toFixed(2)} (min ${byTotal[0].total.toFixed(2)}), inline median ${med(inlineMs).toFixed(2)} → ${(med(inlineMs) / m.total).toFixed(3)}×`);
console.log('median call, ms from its start:\n  start  pack0  pack1   post posted | wstart   wend  tid | back   ans0   ans1');
for (const [at, c] of m.chunks) {
  console.log(`${String(at).padStart(7)} ${f(c.pack0)} ${f(c.pack1)} ${f(c.post)} ${f(c.posted)} | ${f(c.w0)} ${f(c.w1)} ${String(c.tid ?? '-').padStart(4)} | ${f(c.back)} ${f(c.ans0)} ${f(c.ans1)}`);
}
console.log(`moments: ${m.moments.map(([name, t]) => `${name}@${t.toFixed(2)}`).join(' ')}`);
// Summaries over all calls: per worker busy time, first worker start, last worker end, end.
const sum = { imbalance: [], pack: [], firstStart: [], lastEnd: [], tail: [], busy: [], packEnd: [], answer: [], lastBackLag: [] };
for (const c of calls) {
  const all = c.chunks.map(([, x]) => x);
  sum.pack.push(all.reduce((s, x) => s + (x.pack1 - x.pack0), 0));
  sum.packEnd.push(Math.max(...all.map((x) => x.posted)));
  sum.answer.push(all.reduce((s, x) => s + (x.ans1 - x.ans0), 0));
  // The worker figures are of the chunks a worker ran: those the calling thread ran (helpOut)
  // have no worker stamps, and made every worker figure NaN.
  const ch = all.filter((x) => x.w0 !== undefined);
  if (ch.length === 0) continue;
  sum.firstStart.push(Math.min(...ch.map((x) => x.w0)));
  sum.lastEnd.push(Math.max(...ch.map((x) => x.w1)));
  sum.tail.push(c.total - Math.max(...ch.map((x) => x.w1)));
  sum.busy.push(ch.reduce((s, x) => s + (x.w1 - x.w0), 0));
  sum.lastBackLag.push(Math.max(...ch.map((x) => x.back - x.w1)));
  const ends = new Map();
  for (const x of ch) ends.set(x.tid, Math.max(ends.get(x.tid) ?? 0, x.w1));
  sum.imbalance.push(Math.max(...ends.values()) - Math.min(...ends.values()));
}
{
  const first = calls.map((c) => c.chunks[0][1]), second = calls.map((c) => c.chunks[1][1]);
  const rest = calls.flatMap((c) => c.chunks.slice(1, -1).map(([, x]) => x.pack1 - x.pack0));
  console.log(`first slice: starts ${med(first.map((x) => x.pack0)).toFixed(2)}, packed in ${med(first.map((x) => x.pack1 - x.pack0)).toFixed(2)} (others ${med(rest).toFixed(2)}), posted → worker start ${med(first.map((x) => x.w0 - x.posted)).toFixed(2)}; second slice posted → start ${med(second.map((x) => x.w0 - x.posted)).toFixed(2)}`);
}
console.log(`over ${CALLS} calls (medians, ms): packing ${med(sum.pack).toFixed(2)}, last posted at ${med(sum.packEnd).toFixed(2)}, first worker start ${med(sum.firstStart).toFixed(2)}, last worker end ${med(sum.lastEnd).toFixed(2)}, after it ${med(sum.tail).toFixed(2)}; workers busy ${med(sum.busy).toFixed(2)} in all; answering ${med(sum.answer).toFixed(2)}; longest worker end → back ${med(sum.lastBackLag).toFixed(2)}; one worker's last end → the other's ${med(sum.imbalance).toFixed(2)}`);
await v.close(); await inline.close();
rmSync(tmp, { recursive: true, force: true });
