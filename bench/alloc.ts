// What one verification allocates (issue 7's single-item tail): heap bytes per call and
// scavenges per 10,000 calls, for a single verify(), verifyBatch of 1, 10 and 100 items, with a
// MemoryStore and fresh accounts, base32 secrets (key cache warm), valid codes
// (src/bench/alloc.ts says how bytes are counted). One or more builds in one process, in
// interleaved rounds; medians over rounds.
//
//   npm run build && flock /work/bench.lock node --import tsx bench/alloc.ts [--rounds 5] [--calls 5000] [ROOT ...]
//
// ROOT: a package root with dist/ built (default: this one); several are measured side by side,
// e.g. `bench/alloc.ts /work/main .`.

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  options: { rounds: { type: 'string' }, calls: { type: 'string' } },
  allowPositionals: true,
});
const ROUNDS = Number(values.rounds ?? 5);
const CALLS = Number(values.calls ?? 5000);
const roots = positionals.length > 0 ? positionals : ['.'];

const SHAPES = [
  ['verify', 1], ['verifyBatch', 1], ['verifyBatch', 10], ['verifyBatch', 100],
] as const;

const builds = await Promise.all(roots.map(async (root) => {
  const dist = `${pathToFileURL(resolve(root)).href}/dist`;
  const { TotpVerifier } = await import(`${dist}/index.js`);
  const { fixtures } = await import(`${dist}/bench/fixtures.js`);
  const { measureAllocation } = await import(`${dist}/bench/alloc.js`).catch(() => import('../dist/bench/alloc.js'));
  const fx = fixtures();
  // As `totp-fleet serve` makes it: no workers, its own MemoryStore; its clock is the fixtures'
  // time, the requests' timestamp.
  const verifier = await TotpVerifier.create({ threads: 0, window: 1, now: () => fx.timestamp });
  const figures = SHAPES.map(() => [] as { bytes: number; item: number; caller: number; scav: number }[]);
  const measure = async (s: number, calls: number) => {
    const [shape, items] = SHAPES[s]!;
    const f = await measureAllocation(verifier, fx, shape, items, Math.max(1, Math.round(calls / items)));
    return { bytes: f.bytesPerCall, item: f.bytesPerItem, caller: f.callerBytesPerCall, scav: f.scavengesPer10k };
  };
  return { root, verifier, figures, measure };
}));

const { formatMachine, machineInfo } = await import('../dist/bench/machine.js');
console.log(formatMachine(machineInfo()));
// Warm-up: the key cache takes the 10,000 secrets, the JIT the loops.
for (const b of builds) for (let s = 0; s < SHAPES.length; s++) await b.measure(s, 10_000);
for (let round = 0; round < ROUNDS; round++) {
  for (let s = 0; s < SHAPES.length; s++) {
    for (const b of builds) b.figures[s]!.push(await b.measure(s, CALLS));
  }
}
const median = (a: number[]): number => [...a].sort((p, q) => p - q)[a.length >> 1]!;
for (const [s, [shape, items]] of SHAPES.entries()) {
  const label = shape === 'verify' ? 'verify(1)' : `verifyBatch(${items})`;
  for (const b of builds) {
    const f = b.figures[s]!;
    const calls = Math.max(1, Math.round(CALLS / items));
    console.log(`${label.padEnd(17)} ${b.root.padEnd(12)} ${median(f.map((x) => x.bytes)).toFixed(0).padStart(8)} B/call`
      + ` ${median(f.map((x) => x.item)).toFixed(0).padStart(7)} B/item  scavenges ${median(f.map((x) => x.scav)).toFixed(1).padStart(6)} per 10k calls`
      + `  (caller's requests ${median(f.map((x) => x.caller)).toFixed(0)} B/call; ${calls} calls × ${ROUNDS} rounds)`);
  }
}
await Promise.all(builds.map((b) => b.verifier.close()));
