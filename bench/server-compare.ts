// Two or more `totp-fleet serve` variants (builds, node flags, environment) under the same load
// in one process, in interleaved rounds: what a change to the server costs or saves per item.
// Each round sends every variant the same number of requests of fresh accounts (so that their
// in-memory stores are the same size at the same round) and reads from each server its CPU time
// (/metrics), its page faults (/proc/PID/stat) and its RSS. Per round and variant: server CPU µs
// per item, page faults per request and RSS after the round; at the end, medians, and the median
// of the per-round ratios to the first variant (the figure to quote: the machine drifts between
// rounds, a ratio within a round much less).
//
// CPU per item, not requests/s: with a fixed number of requests autocannon ends on its
// one-second tick, so its rate says little here; the server's CPU per item is what bounds the
// rate once its event-loop thread is saturated (bench/server-load.ts measures the rate).
//
//   npm run build && flock /work/bench.lock node --import tsx bench/server-compare.ts \
//     --variant base=../http3-base --variant this=. [--rounds 8] [--requests 400] [--batch 1000]
//
// A variant is NAME=DIR (a package root, built: DIR/dist/cli/index.js), then optionally
// ",node:FLAG" and ",env:KEY=VALUE" parts. Every server gets npm start's environment
// (SERVE_ENV: glibc's malloc with huge pages) unless a variant overrides it, e.g.
//   --variant nohuge=.,env:GLIBC_TUNABLES= --variant semi64=.,node:--max-semi-space-size=64
// Bounded: (rounds + 1 warm-up) × variants × requests.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  generateToken, loadAutocannon, requestBodies, type RunningServe, serverCounters, serverFaults, startServe,
} from '../dist/bench/http-load.js';
import { formatMachine, machineInfo } from '../dist/bench/machine.js';

const { values } = parseArgs({
  options: {
    variant: { type: 'string', multiple: true }, rounds: { type: 'string' }, requests: { type: 'string' }, batch: { type: 'string' },
  },
});
const ROUNDS = Number(values.rounds ?? 8);
const REQUESTS = Number(values.requests ?? 400);
const BATCH = Number(values.batch ?? 1000);
const CONNECTIONS = BATCH === 1 ? 16 : BATCH <= 100 ? 8 : 4;

interface Variant {
  name: string;
  root: string;
  nodeArgs: string[];
  env: Record<string, string>;
  server?: RunningServe;
  cpu: number[];
  faults: number[];
}

function parseVariant(spec: string): Variant {
  const [head, ...parts] = spec.split(',');
  const eq = head!.indexOf('=');
  if (eq < 1) throw new Error(`--variant ${spec}: expected NAME=DIR[,node:FLAG][,env:KEY=VALUE]`);
  const v: Variant = { name: head!.slice(0, eq), root: resolve(head!.slice(eq + 1)), nodeArgs: [], env: {}, cpu: [], faults: [] };
  for (const part of parts) {
    if (part.startsWith('node:')) v.nodeArgs.push(part.slice(5));
    else if (part.startsWith('env:') && part.includes('=')) v.env[part.slice(4, part.indexOf('='))] = part.slice(part.indexOf('=') + 1);
    else throw new Error(`--variant ${spec}: unknown part "${part}"`);
  }
  return v;
}

const variants = (values.variant ?? []).map(parseVariant);
if (variants.length < 2) throw new Error('give at least two --variant NAME=DIR');
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
/** The server's counters by status, its CPU seconds ('cpu') and its page faults ('faults'). */
const reading = async (server: RunningServe): Promise<Record<string, number>> =>
  ({ ...(await serverCounters(server.url, token)), faults: serverFaults(server.pid), rss: serverRss(server.pid) });
/** The server's resident memory, MB (VmRSS), or NaN. */
function serverRss(pid: number | undefined): number {
  try {
    return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'latin1'))![1]) / 1024;
  } catch {
    return Number.NaN;
  }
}

const token = generateToken();
console.log(formatMachine(machineInfo()));
console.log(`${ROUNDS} rounds × ${variants.length} variants × ${REQUESTS} requests of ${BATCH} fresh accounts, ${CONNECTIONS} connections\n`);
const autocannon = await loadAutocannon();
const bodies = requestBodies('c', BATCH, Math.max(8, Math.ceil(20_000 / BATCH)), Date.now());
try {
  for (const v of variants) {
    v.server = await startServe({ token, cli: `${v.root}/dist/cli/index.js`, nodeArgs: v.nodeArgs, env: v.env, maxCredentials: 8_000_000 });
  }
  // Round 0 warms up (a fresh server runs its first requests unoptimised) and is not counted.
  for (let round = 0; round <= ROUNDS; round++) {
    // Alternate the order: neither variant always runs right after the other's load.
    for (const v of round % 2 === 0 ? variants : [...variants].reverse()) {
      const server = v.server!;
      let sent = 0;
      const next = (): string => {
        const pass = Math.floor(sent / bodies.length);
        return bodies[sent++ % bodies.length]!.replaceAll('"account":"user-', `"account":"r${round}p${pass}-`);
      };
      const before = await reading(server);
      const result = await autocannon({
        url: server.url + '/v1/verify', method: 'POST', connections: CONNECTIONS, amount: REQUESTS,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        requests: [{ setupRequest: (req) => ({ ...req, body: next() }) }],
      });
      const after = await reading(server);
      // Every item a fresh account with a valid code: anything else is not the load this compares.
      const valid = (after['valid'] ?? 0) - (before['valid'] ?? 0);
      if (result.non2xx > 0 || result.errors > 0 || valid !== REQUESTS * BATCH) {
        throw new Error(`${v.name}: ${result.non2xx} non-2xx, ${result.errors} errors, ${valid} valid of ${REQUESTS * BATCH}`);
      }
      const cpu = ((after['cpu']! - before['cpu']!) / (REQUESTS * BATCH)) * 1e6;
      const faults = (after['faults']! - before['faults']!) / REQUESTS;
      if (round > 0) {
        v.cpu.push(cpu);
        v.faults.push(faults);
      }
      console.log(`round ${round} ${v.name.padEnd(12)} server CPU ${cpu.toFixed(2)} µs per item, ${faults.toFixed(1)} page faults per request, ` +
        `RSS ${after['rss']!.toFixed(0)} MB${round === 0 ? ' (warm-up)' : ''}`);
    }
  }
} finally {
  for (const v of variants) await v.server?.stop();
}
console.log('');
const first = variants[0]!;
for (const v of variants) {
  const ratio = v.cpu.map((us, i) => us / first.cpu[i]!);
  const lower = ratio.filter((r) => r < 1).length;
  console.log(`${v.name.padEnd(12)} median ${median(v.cpu).toFixed(2)} µs per item, ${median(v.faults).toFixed(1)} page faults per request` +
    (v === first ? '' : `; CPU per item ÷ ${first.name}: median ${median(ratio).toFixed(3)} over ${ratio.length} rounds, lower in ${lower}`));
}
