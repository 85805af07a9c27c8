// Load test of `totp-fleet serve` over loopback with autocannon, one long run per scenario:
// single-item requests (as fast as they go, and at a fixed 5,000 requests/s for latency), and
// batches of 100 and 1,000 items, beside the empty fastify route (the machine's ceiling). The
// logic is src/bench/http-load.ts, shared with the "http" suite of `totp-fleet bench` (which
// measures the same in interleaved rounds within a time budget); this script is for long runs
// and experiments. Bounded: --duration seconds each.
//
//   npm run build && flock /work/bench.lock node --import tsx bench/server-load.ts [--duration 8] [--json out.json]
//
// --redis: the server keeps its state in a private redis-server (started here on a free port,
// never the shared one) instead of in memory: the fleet configuration.
// LOAD_NODE_ARGS (e.g. --cpu-prof) and LOAD_SERVER_ARGS (e.g. --log-level info) for experiments;
// --cli DIR/dist/cli/index.js serves another build (e.g. main's) under the same load;
// --warmup S: seconds of paced load not counted before a paced scenario (default 2).
// --accounts N: fresh accounts before the run turns to replays (default 3,500,000; the server's
// --max-credentials is N plus a margin; with npm start's --pretouch it takes that memory at start).
//
// Targets (issue 7, 2-core machine, generator included): >= 500k verifies/s with 1,000-item
// batches; single-item p99 <= 10 ms at 5k requests/s. For the latency target this script also
// has an open-loop generator of its own (`paced`, below): autocannon's overallRate sends each
// second's quota in bursts.

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  AccountTags, checkRequest, generateToken, httpLoad, loadAutocannon, pacedLoad, requestBodies, startPrivateRedis, startServe,
} from '../dist/bench/http-load.js';
import { formatMachine, machineInfo } from '../dist/bench/machine.js';

const { values } = parseArgs({
  options: {
    duration: { type: 'string' }, json: { type: 'string' }, only: { type: 'string' }, redis: { type: 'boolean' },
    cli: { type: 'string' }, warmup: { type: 'string' }, accounts: { type: 'string' },
  },
});
const DURATION = Number(values.duration ?? 8);
// A scenario's items carry the time its bodies were made (with its warm-up), and serve refuses
// items more than 5 minutes from its clock (--timestamp-skew-ms).
if (!(DURATION > 0 && DURATION <= 240)) throw new Error('--duration expected seconds from 1 to 240 per scenario (serve refuses item times more than 5 minutes old)');
const ACCOUNTS = Number(values.accounts ?? 3_500_000);
if (!Number.isSafeInteger(ACCOUNTS) || ACCOUNTS < 0) throw new Error('--accounts expected a whole number');
const TOKEN = generateToken();
const split = (v: string | undefined): string[] => (v ?? '').split(' ').filter(Boolean);

const SCENARIOS = [
  { name: 'baseline: empty fastify route, single item, as fast as it goes', batch: 1, connections: 32, baseline: true },
  { name: 'single item, as fast as it goes', batch: 1, connections: 32 },
  { name: 'single item at 5,000 requests/s', batch: 1, connections: 64, rate: 5000 },
  { name: 'single item at 5,000 requests/s, evenly paced', batch: 1, connections: 64, rate: 5000, paced: true },
  { name: 'batches of 100', batch: 100, connections: 8 },
  { name: 'batches of 1,000', batch: 1000, connections: 4 },
  // The empty route at the target rate, and with the 1,000-item bodies (parsed, then a constant
  // answer): what HTTP and JSON.parse alone leave of the two cores beside the generator.
  { name: 'baseline: empty fastify route, single item at 5,000 requests/s', batch: 1, connections: 64, rate: 5000, baseline: true },
  { name: 'baseline: empty fastify route, single item at 5,000 requests/s, evenly paced', batch: 1, connections: 64, rate: 5000, paced: true, baseline: true },
  { name: 'baseline: empty fastify route, batches of 1,000', batch: 1000, connections: 4, baseline: true },
].filter((s) => values.only === undefined || s.name.includes(values.only));

const autocannon = await loadAutocannon();

const redis = values.redis === true ? await startPrivateRedis() : undefined;
const machine = machineInfo();
console.log(formatMachine(machine));
const server = await startServe({
  token: TOKEN, nodeArgs: split(process.env.LOAD_NODE_ARGS), serverArgs: split(process.env.LOAD_SERVER_ARGS),
  ...(redis === undefined ? {} : { redisUrl: redis.url }), ...(values.cli === undefined ? {} : { cli: values.cli }),
  maxCredentials: Math.max(4_000_000, ACCOUNTS + 500_000),
});
console.log(`server: ${server.url} (${redis === undefined ? 'in-memory store' : `private Redis at ${redis.url}`}), ${DURATION} s per scenario\n`);
const baseline = SCENARIOS.some((s) => s.baseline) ? await startServe({ token: TOKEN, baseline: true }) : undefined;
const tags = new AccountTags(ACCOUNTS);
const rows: Record<string, unknown>[] = [];
try {
  for (const [index, s] of SCENARIOS.entries()) {
    const target = s.baseline ? baseline! : server;
    // Made for each scenario: their items carry this time, and serve refuses one more than its
    // --timestamp-skew-ms (5 minutes) away, so bodies made once would turn 'malformed' in a long run.
    const bodies = requestBodies(`s${index}`, s.batch, s.batch === 1 ? 10_000 : Math.max(8, Math.ceil(20_000 / s.batch)), Date.now());
    const firstResponse = s.baseline ? {} : await checkRequest(target.url, TOKEN, bodies[0]!);
    const load = {
      url: target.url, token: TOKEN, bodies, batch: s.batch, connections: s.connections, seconds: DURATION,
      ...(s.rate === undefined ? {} : { rate: s.rate }), tags, counters: !s.baseline, pid: target.pid,
    };
    const r = s.paced === true
      ? await pacedLoad({ ...load, rate: s.rate!, ...(values.warmup === undefined ? {} : { warmupSeconds: Number(values.warmup) }) })
      : await httpLoad(autocannon, load);
    const row = { scenario: s.name, batch: s.batch, connections: s.connections, ...r, firstResponse };
    rows.push(row);
    console.log(`${s.name}: ${Math.round(r.requestsPerSecond)} req/s, ${Math.round(r.verifiesPerSecond)} verifies/s, ` +
      `p50 ${r.p50} ms, p99 ${r.p99} ms, max ${r.max} ms; non-2xx ${r.non2xx}, errors ${r.errors}, timeouts ${r.timeouts}; ` +
      `results ${JSON.stringify(r.statuses)}` +
      (s.baseline ? '' : `; server CPU ${r.serverCpuMicrosPerItem.toFixed(1)} µs per item (${Math.round(1e6 / r.serverCpuMicrosPerItem)} verifies per CPU-second), ` +
        `${r.serverFaultsPerItem.toFixed(3)} page faults per item`) +
      (r.generatorCores === undefined ? '' : `; generator ${r.generatorCores.toFixed(2)} cores`));
  }
} finally {
  await baseline?.stop();
  const code = await server.stop();
  console.log(`server exited with ${code} after SIGTERM`);
  redis?.stop();
}
if (values.json !== undefined) writeFileSync(values.json, JSON.stringify({ machine, rows }, null, 2));
