// Where the policy suite's MemoryStore cost goes, per item, in one process: a verifier with no
// store, a verifier with a MemoryStore in the policy suite's steady state (~1M live
// credentials, 10,000 fresh accounts per call, the clock aged as in bench/policy-loop.ts), and
// the same store's work alone for such a call (stringHash of each account, beginNow, finishNow
// committing a match for each) on a second store in the same steady state. Rounds interleave
// the three; medians of ns per item, and what is left of the MemoryStore verifier's cost once
// the no-store verifier's and the store's own are taken off: the policy path outside the store
// (StatefulItems, the "seen" set, the runner's begin/ops/finish loops, result objects) and
// whatever the store's cache misses cost the rest. Only verifyBatch is timed (the requests are
// built before).
//
// Run: npm run build && flock /work/bench.lock node --expose-gc --import tsx bench/policy-split.ts [rounds] [NAME=DIR ...]
//
// NAME=DIR adds another build (a package root with dist/ built) with its own three, in the same rounds.

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROUNDS = Number(process.argv[2] ?? 40);
const LIVE = 1_000_000;

type Lib = typeof import('../dist/index.js');
type Build = {
  name: string;
  lib: Lib;
  fixtures: typeof import('../dist/bench/fixtures.js');
  strhash: typeof import('../dist/strhash.js');
  types: typeof import('../dist/store/types.js');
  options: typeof import('../dist/policy/options.js');
};

const load = async (name: string, dir: string): Promise<Build> => {
  const at = (p: string): string => `${pathToFileURL(resolve(dir)).href}/dist/${p}`;
  return {
    name,
    lib: await import(at('index.js')) as Lib,
    fixtures: await import(at('bench/fixtures.js')) as Build['fixtures'],
    strhash: await import(at('strhash.js')) as Build['strhash'],
    types: await import(at('store/types.js')) as Build['types'],
    options: await import(at('policy/options.js')) as Build['options'],
  };
};

const builds = [await load('this', '.')];
for (const arg of process.argv.slice(3)) {
  const eq = arg.indexOf('=');
  builds.push(await load(arg.slice(0, eq), arg.slice(eq + 1)));
}
const { formatMachine, machineInfo } = await import('../dist/bench/machine.js');
let generation = 0;

const sides = await Promise.all(builds.map(async (b) => {
  const fx = b.fixtures.fixtures();
  // Mark and failure memory: this build's default mark for window ±1 (policy/options.ts).
  const STATE_MS = b.options.resolvePolicy(undefined, 30, 1, 1).limits.replayMs;
  const aged = (): { store: InstanceType<Lib['MemoryStore']>; age: () => void } => {
    let ms = 0;
    const store = new b.lib.MemoryStore({ maxCredentials: 2 * LIVE, now: () => Date.now() + ms });
    return { store, age: () => { ms += (STATE_MS * fx.count) / LIVE; } };
  };
  const policy = { failureMemoryMs: STATE_MS };
  const now = (): number => fx.timestamp; // the requests' time (policy.timestampSkewMs)
  const plain = await b.lib.TotpVerifier.create({ threads: 0, window: 1, store: null, policy, now });
  const withStore = aged();
  const stateful = await b.lib.TotpVerifier.create({ threads: 0, window: 1, store: withStore.store, policy, now });
  const alone = aged();
  const limits = b.options.resolvePolicy(policy, 30, 1, 1).limits;
  const plainKeys = plain.importKeys(fx.secrets);
  const statefulKeys = stateful.importKeys(fx.secrets);
  const requests = (keys: readonly unknown[]): Parameters<typeof plain.verifyBatch>[0] => {
    const g = ++generation;
    const reqs = new Array(fx.count);
    for (let i = 0; i < fx.count; i++) reqs[i] = { account: `${g}:${i}`, secret: keys[i], code: fx.valid[i], timestamp: fx.timestamp };
    return reqs;
  };
  const timed = async (v: typeof plain, keys: readonly unknown[], age?: () => void): Promise<number> => {
    age?.();
    const reqs = requests(keys);
    const t0 = performance.now();
    const results = await v.verifyBatch(reqs);
    const ms = performance.now() - t0;
    for (const r of results) if (r.status !== 'valid') throw new Error(`${b.name}: ${r.status} for a valid code`);
    return ms;
  };
  const out = b.types.beginResult(fx.count);
  const done = new Uint8Array(fx.count);
  const step = Math.floor(fx.timestamp / 30_000);
  const ops = {
    op: new Uint8Array(fx.count).fill(b.types.OP_SUCCESS),
    step: new Float64Array(fx.count).fill(step),
    drift: new Float64Array(fx.count).fill(Number.NaN),
  };
  const hashes = new Int32Array(fx.count);
  const storeAlone = (): number => {
    alone.age();
    const g = ++generation;
    const accounts = new Array<string>(fx.count);
    for (let i = 0; i < fx.count; i++) accounts[i] = `${g}:${i}`;
    Object.freeze(accounts);
    const t0 = performance.now();
    for (let i = 0; i < fx.count; i++) hashes[i] = b.strhash.stringHash(accounts[i]!);
    alone.store.beginNow(accounts, hashes, limits, out);
    alone.store.finishNow(accounts, ops, limits, done);
    const ms = performance.now() - t0;
    for (let i = 0; i < fx.count; i++) if (done[i] !== b.types.DONE_COMMITTED) throw new Error(`${b.name}: the store did not commit`);
    return ms;
  };
  return {
    name: b.name, count: fx.count,
    run: [() => timed(plain, plainKeys), () => timed(stateful, statefulKeys, withStore.age), async () => storeAlone()],
    close: async () => { await plain.close(); await stateful.close(); await withStore.store.close(); await alone.store.close(); },
  };
}));

const median = (a: number[]): number => [...a].sort((p, q) => p - q)[a.length >> 1]!;
console.log(formatMachine(machineInfo()));
// To the steady state (~1M live in both stores of each build), then rounds.
for (let k = 0; k < LIVE / 10_000 + 2; k++) for (const s of sides) { await s.run[1]!(); await s.run[2]!(); await s.run[0]!(); }
const times = sides.map(() => [[], [], []] as number[][]);
for (let round = 0; round < ROUNDS; round++) {
  for (const [b, s] of sides.entries()) for (const [w, run] of s.run.entries()) times[b]![w]!.push(await run());
}
for (const [b, s] of sides.entries()) {
  const [none, memory, store] = times[b]!.map((t) => (1e6 * median(t)) / s.count);
  console.log(`${s.name.padEnd(6)} ns per item: no store ${none!.toFixed(0)}  MemoryStore ${memory!.toFixed(0)}  ` +
    `store alone (hash, beginNow, finishNow) ${store!.toFixed(0)}  the rest ${(memory! - none! - store!).toFixed(0)}  |  ` +
    `no store ÷ MemoryStore ${(100 * median(times[b]![0]!.map((x, i) => x / times[b]![1]![i]!))).toFixed(1)} %`);
}
for (const s of sides) await s.close();
