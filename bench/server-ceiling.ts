// What bounds `totp-fleet serve` on 1,000-item batches, measured in-process without HTTP:
// JSON.parse of the request body, and verifyBatch with the server's default in-memory store
// (replay marks and failure counts) beside the stateless verifier (store: null). One thread.
//
//   npm run build && flock /work/bench.lock node --import tsx bench/server-ceiling.ts

import { base32, totp, TotpVerifier } from '../src/index.js';
import { formatMachine, machineInfo } from '../dist/bench/machine.js';

const BATCH = 1000;
const BATCHES = 400;
const now = Date.now();
const secrets = Array.from({ length: 10_000 }, (_, i) => base32.encode(new Uint8Array(20).map((_, j) => (i * 31 + j * 7 + (i >> 8)) & 255)));
const codes = secrets.map((s) => totp.generate(s, { timestamp: now }));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

console.log(formatMachine(machineInfo()));
for (const store of ['in-memory store', 'no store (stateless)'] as const) {
  const verifier = await TotpVerifier.create({ threads: 0, ...(store === 'in-memory store' ? {} : { store: null }) });
  let k = 0;
  // Fresh accounts in every batch: each item takes the store's full path (valid, mark committed).
  const batches = Array.from({ length: BATCHES }, () => Array.from({ length: BATCH }, () => {
    const s = k % secrets.length;
    return { account: `user-${k++}@example.com`, secret: secrets[s]!, code: codes[s]!, timestamp: now };
  }));
  const bodies = batches.map((items) => JSON.stringify({ items }));
  const parse: number[] = [];
  const verify: number[] = [];
  for (let i = 0; i < BATCHES; i++) {
    let t = performance.now();
    JSON.parse(bodies[i]!);
    parse.push(performance.now() - t);
    t = performance.now();
    const results = await verifier.verifyBatch(batches[i]!);
    verify.push(performance.now() - t);
    if (results[0]!.status !== 'valid') throw new Error(`unexpected ${results[0]!.status}`);
  }
  await verifier.close();
  // The first quarter warms up the JIT and the key cache; medians of the rest.
  const v = median(verify.slice(BATCHES / 4));
  const p = median(parse.slice(BATCHES / 4));
  console.log(`${store}: verifyBatch(${BATCH}) ${v.toFixed(2)} ms (${Math.round(BATCH / v)}k verifies/s); ` +
    `JSON.parse of its ${Math.round(bodies[0]!.length / 1024)} KiB body ${p.toFixed(2)} ms`);
}
