// The MemoryStore alone, two or more builds in one process, interleaved rounds: begin → finish
// of 10,000 accounts never seen before per call, in the policy suite's steady state (~1,000,000
// live credentials, the clock aged 1/100 of a mark's life per call (7 minutes here, the default
// before the timestamp bound; the steady state is the same at any life), expired records
// swept and reused), the accounts' hashes noted as the policy runner notes them. Valid calls
// commit a success (OP_SUCCESS), invalid ones count a failure (OP_FAILURE). Per variant: the
// median ns per account of begin+finish, and the median of the per-round ratios to the first;
// then the mean over all measured calls and the slowest call (a rare pause, e.g. the
// MemoryStore making its table again, is in these and not in the medians).
//
//   npm run build && flock /work/bench.lock node --expose-gc --import tsx bench/store-compare.ts \
//     base=/path/to/other/build this=. [--rounds 15] [--calls 4] [--live N] [--max N] [--now] [--cpu-prof FILE]
//
// --now: the synchronous path the verifier takes with a MemoryStore (beginNow / finishNow into
// reused answer columns) instead of begin / finish. --live N: the steady state's live
// credentials (default 1,000,000). With --live 20000 --max 40000 the store's table is 1 MB and
// all of it a few MB, which the last-level cache holds: the random misses of a 64 MB table no
// longer dominate, and what is left is closer to the store's compute.
//
// A variant is NAME=DIR, a package root with dist/ built; with none, this build alone (this=.).

import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  options: {
    rounds: { type: 'string' }, calls: { type: 'string' }, live: { type: 'string' }, max: { type: 'string' }, now: { type: 'boolean' },
    'cpu-prof': { type: 'string' },
  },
  allowPositionals: true,
});
const ROUNDS = Number(values.rounds ?? 15);
/** Calls per variant per round. */
const CALLS = Number(values.calls ?? 4);
const N = 10_000;
const LIVE = Number(values.live ?? 1_000_000);
const NOW = values.now === true;
const STATE_MS = 420_000; // the mark of window ±1 before policy.timestampSkewMs (1,020,000 since)
/** The stores' maxCredentials: twice the live ones, as in the policy suite, unless --max. */
const MAX = Number(values.max ?? 2 * LIVE);
const LIMITS = {
  maxFailures: 10, lockoutMs: 900_000, failureMemoryMs: STATE_MS, reservationMs: 60_000, replayMs: STATE_MS, driftMemoryMs: STATE_MS,
};

const post = (session: Session, method: string, params?: object): Promise<unknown> =>
  new Promise((ok, fail) => session.post(method, params, (err, res) => (err ? fail(err) : ok(res))));

interface Side {
  name: string;
  call: (kind: 'valid' | 'invalid') => Promise<number>;
  size: () => number;
  times: Record<string, number[]>;
  /** Every measured call's ms. */
  calls: number[];
}

let generation = 0;
const sides: Side[] = [];
for (const spec of positionals.length > 0 ? positionals : ['this=.']) {
  const eq = spec.indexOf('=');
  const name = spec.slice(0, eq);
  const dist = pathToFileURL(resolve(spec.slice(eq + 1))).href + '/dist';
  const { MemoryStore } = await import(`${dist}/index.js`);
  const { noteHashes, stringHash } = await import(`${dist}/strhash.js`);
  const { OP_FAILURE, OP_SUCCESS, BEGIN_GO, DONE_COMMITTED, DONE_FAILED, beginResult } = await import(`${dist}/store/types.js`);
  let aged = 0;
  const store = new MemoryStore({ maxCredentials: MAX, now: () => Date.now() + aged });
  const ops = { op: new Uint8Array(N), step: new Float64Array(N), drift: new Float64Array(N).fill(Number.NaN) };
  const beginOut = beginResult(N);
  const finishOut = new Uint8Array(N);
  const call = async (kind: 'valid' | 'invalid'): Promise<number> => {
    aged += (STATE_MS * N) / LIVE;
    const g = ++generation;
    const accounts = new Array<string>(N);
    const hashes = new Int32Array(N);
    for (let i = 0; i < N; i++) hashes[i] = stringHash(accounts[i] = `${g}:${i}`);
    Object.freeze(accounts);
    noteHashes(accounts, hashes);
    ops.op.fill(kind === 'valid' ? OP_SUCCESS : OP_FAILURE);
    ops.step.fill(59_000_000 + (g % 1000));
    const t0 = performance.now();
    let begun, done;
    if (NOW) {
      begun = store.beginNow(accounts, hashes, LIMITS, beginOut);
      done = store.finishNow(accounts, ops, LIMITS, finishOut);
    } else {
      begun = await store.begin(accounts, LIMITS);
      done = await store.finish(accounts, ops, LIMITS);
    }
    const t = performance.now() - t0;
    if (begun.state[N - 1] !== BEGIN_GO || done[N - 1] !== (kind === 'valid' ? DONE_COMMITTED : DONE_FAILED)) throw new Error(`${name}: wrong answer`);
    return t;
  };
  sides.push({ name, call, size: () => store.size, times: { valid: [], invalid: [] }, calls: [] });
}

const median = (a: number[]): number => [...a].sort((p, q) => p - q)[a.length >> 1]!;
for (const s of sides) for (let k = 0; k < LIVE / N + 20; k++) await s.call(k % 2 ? 'valid' : 'invalid'); // to the steady state
// --cpu-prof FILE: a CPU profile of the measured rounds only (not of the fill, whose first
// touches of new pages would dominate it).
const session = values['cpu-prof'] === undefined ? undefined : new Session();
if (session !== undefined) {
  session.connect();
  await post(session, 'Profiler.setSamplingInterval', { interval: 100 });
  await post(session, 'Profiler.enable');
  await post(session, 'Profiler.start');
}
for (let round = 0; round < ROUNDS; round++) {
  for (const kind of ['valid', 'invalid'] as const) {
    for (const s of sides) {
      let t = 0;
      for (let c = 0; c < CALLS; c++) {
        const dt = await s.call(kind);
        s.calls.push(dt);
        t += dt;
      }
      s.times[kind]!.push((t / CALLS / N) * 1e6);
    }
  }
}
if (session !== undefined) {
  const { profile } = await post(session, 'Profiler.stop') as { profile: unknown };
  writeFileSync(values['cpu-prof']!, JSON.stringify(profile));
}
for (const kind of ['valid', 'invalid'] as const) {
  const base = sides[0]!.times[kind]!;
  console.log(`${kind.padEnd(8)} ${sides.map((s) => {
    const t = s.times[kind]!;
    const ratio = median(t.map((x, i) => x / base[i]!));
    return `${s.name} ${median(t).toFixed(0)} ns/account (p25 ${[...t].sort((a, b) => a - b)[t.length >> 2]!.toFixed(0)}, ×${ratio.toFixed(3)})`;
  }).join('  ')}`);
}
console.log(`all calls: ${sides.map((s) => `${s.name} mean ${(s.calls.reduce((a, b) => a + b, 0) / s.calls.length / N * 1e6).toFixed(0)} ns/account, slowest ${Math.max(...s.calls).toFixed(1)} ms`).join('  ')}`);
console.log(`held: ${sides.map((s) => `${s.name} ${s.size().toLocaleString('en-US')}`).join(', ')}`);
process.exit(0);
