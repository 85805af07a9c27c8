// The policy suite's comparison without the bench runner: three verifiers (no store, a store
// that answers at once, a MemoryStore in its ~1M-credential steady state) called in turn, one
// verifyBatch of 10,000 fresh accounts each, round after round in one process; the figure is
// the median of the per-round ratios to no store. Same fixtures, options and steady state as
// src/bench/suites/policy.ts. The "null store" shows what the policy path costs around any
// store; the rest of the MemoryStore's cost is the store's own.
//
// Run: npm run build && flock /work/bench.lock node --expose-gc --import tsx bench/policy-loop.ts [rounds] [NAME=DIR]
//
// NAME=DIR adds another build's verifier and MemoryStore (a package root with dist/ built, e.g.
// a worktree of main) as one more variant in the same rounds: the two stores' ratios to this
// build's "no store" side by side, measured in the same moments.

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MemoryStore, type Store, TotpVerifier, type VerifyRequest } from '../dist/index.js';
import { fixtures } from '../dist/bench/fixtures.js';
import { formatMachine, machineInfo } from '../dist/bench/machine.js';
import { beginResult } from '../dist/store/types.js';
import { resolvePolicy } from '../dist/policy/options.js';

const ROUNDS = Number(process.argv[2] ?? 30);
/** Live credentials, and the mark / failure memory (ms), as in the policy suite. */
const LIVE = 1_000_000;
const STATE_MS = resolvePolicy(undefined, 30, 1, 1).limits.replayMs;

/**
 * A store that lets every account go and commits or counts everything, with no state. (Only
 * what TotpVerifier's policy path calls; the other Store methods serve HOTP and backup codes.)
 */
const nullStore = {
  begin: async (accounts: readonly string[]) => beginResult(accounts.length),
  finish: async (accounts: readonly string[], ops: { op: Uint8Array }) =>
    Uint8Array.from(ops.op.subarray(0, accounts.length), (op) => (op === 0 ? 0 : 2)),
  health: async () => {},
  close: async () => {},
} as unknown as Store;

const fx = fixtures();
/** A MemoryStore whose clock the calls age (see above). */
const agedStore = (Memory: typeof MemoryStore): { store: MemoryStore; age: () => void } => {
  let aged = 0;
  const store = new Memory({ maxCredentials: 2 * LIVE, now: () => Date.now() + aged });
  return { store, age: () => { aged += (STATE_MS * fx.count) / LIVE; } };
};
const memory = agedStore(MemoryStore);
const variants: [string, Store | null, typeof TotpVerifier, (() => void) | undefined][] = [
  ['no store', null, TotpVerifier, undefined], ['null store', nullStore, TotpVerifier, undefined], ['MemoryStore', memory.store, TotpVerifier, memory.age],
];
const other = process.argv[3];
if (other !== undefined) {
  const eq = other.indexOf('=');
  const lib = await import(`${pathToFileURL(resolve(other.slice(eq + 1))).href}/dist/index.js`) as { MemoryStore: typeof MemoryStore; TotpVerifier: typeof TotpVerifier };
  const m = agedStore(lib.MemoryStore);
  variants.push([`MemoryStore (${other.slice(0, eq)})`, m.store, lib.TotpVerifier, m.age]);
}
let generation = 0;

const runners = await Promise.all(variants.map(async ([name, store, Verifier, age]) => {
  const verifier = await Verifier.create({ threads: 0, window: 1, store, policy: { failureMemoryMs: STATE_MS }, now: () => fx.timestamp });
  const handles = verifier.importKeys(fx.secrets);
  const call = async (kind: 'valid' | 'invalid'): Promise<void> => {
    age?.();
    const g = ++generation;
    const codes = kind === 'valid' ? fx.valid : fx.invalid;
    const reqs: VerifyRequest[] = new Array(fx.count);
    for (let i = 0; i < fx.count; i++) reqs[i] = { account: `${g}:${i}`, secret: handles[i]!, code: codes[i]!, timestamp: fx.timestamp };
    const results = await verifier.verifyBatch(reqs);
    for (const r of results) if (r.status !== kind) throw new Error(`${name} answered ${r.status} for a ${kind} code`);
  };
  return { name, verifier, call, store, age };
}));

const median = (a: number[]): number => [...a].sort((p, q) => p - q)[a.length >> 1]!;
console.log(formatMachine(machineInfo()));
for (const r of runners) for (let k = 0; r.age !== undefined && k < LIVE / fx.count; k++) await r.call('valid'); // to the steady state
for (const kind of ['valid', 'invalid'] as const) {
  for (const r of runners) await r.call(kind); // warm
  const times = runners.map(() => [] as number[]);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [v, r] of runners.entries()) {
      const t0 = performance.now();
      for (let c = 0; c < 3; c++) await r.call(kind);
      times[v]!.push((performance.now() - t0) / 3);
    }
  }
  const rates = times.map((t) => `${(fx.count / median(t)).toFixed(0)}k/s`); // items per ms = k/s
  const ratios = times.slice(1).map((t, v) => `${runners[v + 1]!.name} ${(100 * median(times[0]!.map((x, i) => x / t[i]!))).toFixed(1)} %`);
  const held = runners.filter((r) => r.age !== undefined).map((r) => (r.store as MemoryStore).size.toLocaleString('en-US'));
  // With another build: the time per call of this MemoryStore's verifier ÷ the other's, per round.
  const versus = times.length > 3 ? `  |  time ÷ ${runners[3]!.name}: ${median(times[2]!.map((x, i) => x / times[3]![i]!)).toFixed(3)}` : '';
  console.log(`${kind.padEnd(8)} ${runners.map((r, v) => `${r.name} ${rates[v]}`).join('  ')}  |  ÷ no store: ${ratios.join(', ')}${versus}  |  MemoryStores held ${held.join(', ')}`);
}
await Promise.all(runners.map((r) => r.verifier.close()));
for (const r of runners) if (r.age !== undefined) await r.store!.close();
