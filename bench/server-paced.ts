// Two or more `totp-fleet serve` builds under issue 7's latency load, in one process, in
// interleaved rounds: single-item requests of fresh accounts at a fixed rate (default 5,000/s),
// evenly paced by the open-loop generator of src/bench/http-load.ts (`pacedLoad`: latency from
// each request's planned time). Per round and build: p50, p99, max and the server's CPU µs per
// request, and its young-generation collections (scavenges, from prom-client's GC histogram on
// /metrics) per 10,000 requests and their total ms per second; at the end, medians and the
// median of the per-round ratios to the first build.
// The order of the builds alternates from round to round.
//
//   npm run build && flock /work/bench.lock node --import tsx bench/server-paced.ts \
//     --variant main=../main --variant this=. [--rounds 6] [--seconds 5] [--rate 5000]
//
// A variant is NAME=DIR, a package root with dist/ built, then optionally ",node:FLAG" parts
// (e.g. --variant semi32=.,node:--max-semi-space-size=32). Bounded: rounds × variants × (seconds
// + 1 s of warm-up load), plus a first 2 s warm-up per server.

import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { AccountTags, checkRequest, generateToken, pacedLoad, requestBodies, type RunningServe, startServe } from '../dist/bench/http-load.js';
import { formatMachine, machineInfo } from '../dist/bench/machine.js';

const { values } = parseArgs({
  options: { variant: { type: 'string', multiple: true }, rounds: { type: 'string' }, seconds: { type: 'string' }, rate: { type: 'string' } },
});
const ROUNDS = Number(values.rounds ?? 6);
const SECONDS = Number(values.seconds ?? 5);
const RATE = Number(values.rate ?? 5000);
const CONNECTIONS = 64;
const specs = values.variant ?? [];
if (specs.length < 1) throw new Error('expected --variant NAME=DIR (one or more)');

interface Variant {
  name: string;
  root: string;
  nodeArgs: string[];
  server?: RunningServe;
  tags: AccountTags;
  rows: { p50: number; p99: number; max: number; cpu: number; scavenges: number; scavengeMs: number }[];
}
const variants: Variant[] = specs.map((spec) => {
  const [head, ...parts] = spec.split(',');
  const eq = head!.indexOf('=');
  if (eq < 1) throw new Error(`--variant ${spec}: expected NAME=DIR[,node:FLAG]`);
  const nodeArgs = parts.map((part) => {
    if (!part.startsWith('node:')) throw new Error(`--variant ${spec}: unknown part "${part}"`);
    return part.slice(5);
  });
  return { name: head!.slice(0, eq), root: resolve(head!.slice(eq + 1)), nodeArgs, tags: new AccountTags(3_500_000), rows: [] };
});

console.log(formatMachine(machineInfo()));
console.log(`single items at ${RATE}/s, evenly paced, ${CONNECTIONS} connections, ${SECONDS} s per build per round, ${ROUNDS} rounds`);
const TOKEN = generateToken();
const bodies = requestBodies('p', 1, 10_000, Date.now());
const median = (a: number[]): number => [...a].sort((p, q) => p - q)[a.length >> 1]!;

/** The server's minor (scavenge) collections so far: count and seconds (prom-client's nodejs_gc_duration_seconds). */
async function scavenges(v: Variant): Promise<{ count: number; seconds: number }> {
  const text = await (await fetch(`${v.server!.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
  const read = (what: string): number => Number(new RegExp(`^totp_fleet_nodejs_gc_duration_seconds_${what}\\{kind="minor"\\} (\\S+)`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { count: read('count'), seconds: read('sum') };
}
try {
  for (const v of variants) {
    v.server = await startServe({ token: TOKEN, cli: `${v.root}/dist/cli/index.js`, nodeArgs: v.nodeArgs });
    await checkRequest(v.server.url, TOKEN, bodies[0]!);
  }
  const load = (v: Variant, seconds: number, warmupSeconds: number) => pacedLoad({
    url: v.server!.url, token: TOKEN, bodies, batch: 1, connections: CONNECTIONS, seconds, rate: RATE,
    tags: v.tags, counters: true, pid: v.server!.pid, warmupSeconds,
  });
  for (const v of variants) await load(v, 2, 0); // start-up: not counted
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    const line: string[] = [];
    for (const v of order) {
      await load(v, 1, 0); // the same load, not counted: the server is in its steady state
      const gc0 = await scavenges(v);
      const r = await load(v, SECONDS, 0);
      const gc1 = await scavenges(v);
      const row = {
        p50: r.p50, p99: r.p99, max: r.max, cpu: r.serverCpuMicrosPerItem,
        scavenges: ((gc1.count - gc0.count) * 10_000) / r.requests, scavengeMs: ((gc1.seconds - gc0.seconds) * 1000) / SECONDS,
      };
      v.rows.push(row);
      line.push(`${v.name} p50 ${row.p50} p99 ${row.p99} max ${row.max} ms, ${row.cpu.toFixed(1)} µs CPU/req, ` +
        `${row.scavenges.toFixed(1)} scavenges/10k req (${row.scavengeMs.toFixed(1)} ms/s), non-2xx ${r.non2xx}, errors ${r.errors}`);
    }
    console.log(`round ${round + 1}: ${line.join(' | ')}`);
  }
  const first = variants[0]!;
  for (const v of variants) {
    const ratio = (k: 'p99' | 'cpu'): string => `${median(v.rows.map((x, i) => x[k] / first.rows[i]![k])).toFixed(2)}×`;
    console.log(`${v.name.padEnd(8)} median p50 ${median(v.rows.map((x) => x.p50))} ms, p99 ${median(v.rows.map((x) => x.p99))} ms, ` +
      `max ${median(v.rows.map((x) => x.max))} ms, CPU ${median(v.rows.map((x) => x.cpu)).toFixed(1)} µs/req, ` +
      `${median(v.rows.map((x) => x.scavenges)).toFixed(1)} scavenges/10k req (${median(v.rows.map((x) => x.scavengeMs)).toFixed(1)} ms/s); ` +
      `p99 over rounds ${v.rows.map((x) => x.p99).join(' ')}` +
      (v === first ? '' : `; ÷ ${first.name} per round: p99 ${ratio('p99')}, CPU ${ratio('cpu')}`));
  }
} finally {
  for (const v of variants) await v.server?.stop();
}
