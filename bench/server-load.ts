// Load test of `totp-fleet serve` over loopback with autocannon: single-item requests (as fast
// as they go, and at a fixed 5,000 requests/s for latency), and batches of 100 and 1,000 items.
// The server runs as a child process with its defaults (in-memory store, one log line per
// request to /dev/null) except room for 4M accounts; autocannon shares the same machine. Bounded: --duration seconds each.
//
//   npm run build && flock /work/bench.lock node --import tsx bench/server-load.ts [--duration 8] [--json out.json]
//
// --redis: the server keeps its state in a private redis-server (started here on a free port,
// never the shared one) instead of in memory: the fleet configuration.
//
// Targets (issue 7, 2-core machine, generator included): >= 500k verifies/s with 1,000-item
// batches; single-item p99 <= 10 ms at 5k requests/s.

import { type ChildProcess, spawn } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { base32, totp } from '../src/index.js';
import { formatMachine, machineInfo } from '../dist/bench/machine.js';

const { values } = parseArgs({
  options: { duration: { type: 'string' }, json: { type: 'string' }, only: { type: 'string' }, redis: { type: 'boolean' } },
});
const DURATION = Number(values.duration ?? 8);
const CLI = fileURLToPath(new URL('../dist/cli/index.js', import.meta.url));
const TOKEN = 'load-test-token-' + Math.random().toString(36).slice(2).padEnd(16, 'x');

interface Scenario {
  name: string;
  batch: number;
  connections: number;
  rate?: number;
  /** Against the baseline: an empty fastify route that parses the body and answers a constant. */
  baseline?: boolean;
}
const SCENARIOS: Scenario[] = [
  { name: 'baseline: empty fastify route, single item, as fast as it goes', batch: 1, connections: 32, baseline: true },
  { name: 'single item, as fast as it goes', batch: 1, connections: 32 },
  { name: 'single item at 5,000 requests/s', batch: 1, connections: 64, rate: 5000 },
  { name: 'batches of 100', batch: 100, connections: 8 },
  { name: 'batches of 1,000', batch: 1000, connections: 4 },
].filter((s) => values.only === undefined || s.name.includes(values.only));

/**
 * The ceiling of this machine for one HTTP request: fastify answering a constant after parsing
 * the JSON body (no authentication, no verification, no logging). Same runtime, same generator.
 */
const BASELINE = `
  const { default: Fastify } = await import(${JSON.stringify(new URL('../node_modules/fastify/fastify.js', import.meta.url).href)});
  const app = Fastify();
  app.post('/v1/verify', async () => ({ status: 'valid', delta: 0, step: 1 }));
  app.get('/metrics', async () => '');
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  process.stderr.write('listening on ' + address + '\\n');
  process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
`;

/** A private redis-server on a free port (no persistence), for --redis. */
async function startRedis(): Promise<{ url: string; process: ChildProcess }> {
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port: p } = probe.address() as { port: number };
      probe.close(() => resolve(p));
    });
  });
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const s = createConnection(port, '127.0.0.1');
      s.once('data', (d) => { s.destroy(); resolve(d.toString().startsWith('+PONG')); });
      s.once('error', () => resolve(false));
      s.write('PING\r\n');
    });
    if (up) return { url: `redis://127.0.0.1:${port}`, process: child };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error('redis-server did not start');
}

const redis = values.redis === true ? await startRedis() : undefined;

async function startServer(baseline = false): Promise<{ url: string; stop(): Promise<number | null> }> {
  // LOAD_NODE_ARGS (e.g. --cpu-prof) and LOAD_SERVER_ARGS (e.g. --log-level warn) for experiments.
  const nodeArgs = (process.env.LOAD_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const serverArgs = (process.env.LOAD_SERVER_ARGS ?? '').split(' ').filter(Boolean);
  const child = baseline
    ? spawn(process.execPath, ['--input-type=module', '-e', BASELINE], { stdio: ['ignore', 'ignore', 'pipe'] })
    : spawn(process.execPath, [...nodeArgs, CLI, 'serve', '--port', '0', '--max-batch', '1000', '--max-credentials', '4000000', ...serverArgs], {
    env: { ...process.env, TOTP_FLEET_TOKENS: TOKEN, ...(redis === undefined ? {} : { TOTP_FLEET_REDIS_URL: redis.url }) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /listening on (\S+)/.exec(err);
      if (m !== null) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`server exited (${code}): ${err}`)));
  });
  return {
    url,
    stop: () => new Promise((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.kill('SIGTERM');
    }),
  };
}

/** Distinct bodies, each `batch` items with distinct accounts and 10,000 secrets cycled (key cache warm). */
function bodies(scenario: number, batch: number, count: number, now: number): string[] {
  const secrets = Array.from({ length: 10_000 }, (_, i) => base32.encode(new Uint8Array(20).map((_, j) => (i * 31 + j * 7 + (i >> 8)) & 255)));
  const codes = secrets.map((s) => totp.generate(s, { timestamp: now }));
  const out: string[] = [];
  let k = 0;
  for (let b = 0; b < count; b++) {
    const items = [];
    for (let i = 0; i < batch; i++, k++) {
      const s = k % secrets.length;
      // Scenarios use accounts of their own: an account used by an earlier one would be 'replayed'.
      items.push({ account: `user-s${scenario}-${k}@example.com`, secret: secrets[s]!, code: codes[s]!, timestamp: now });
    }
    out.push(JSON.stringify(batch === 1 ? items[0] : { items }));
  }
  return out;
}

async function check(url: string, body: string): Promise<Record<string, number>> {
  const res = await fetch(url + '/v1/verify', { method: 'POST', body, headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' } });
  const json = await res.json() as { results?: { status: string }[]; status?: string };
  const statuses: Record<string, number> = {};
  for (const r of json.results ?? [json as { status: string }]) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  return statuses;
}

/** The server's verification counters by status, and its CPU seconds ('cpu'), from /metrics. */
async function statusCounts(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(url + '/metrics', { headers: { authorization: `Bearer ${TOKEN}` } })).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^totp_fleet_verifications_total\{status="(\w+)"\} (\d+)/gm)) out[m[1]!] = Number(m[2]);
  out.cpu = Number(/^totp_fleet_process_cpu_seconds_total (\S+)/m.exec(text)?.[1] ?? NaN);
  return out;
}

const machine = machineInfo();
console.log(formatMachine(machine));
const server = await startServer();
console.log(`server: ${server.url} (${redis === undefined ? 'in-memory store' : `private Redis at ${redis.url}`}), ${DURATION} s per scenario\n`);
const baseline = SCENARIOS.some((s) => s.baseline) ? await startServer(true) : undefined;
const now = Date.now();
const rows: Record<string, unknown>[] = [];
try {
  for (const [index, s] of SCENARIOS.entries()) {
    const target = s.baseline ? baseline! : server;
    const list = bodies(index, s.batch, s.batch === 1 ? 10_000 : Math.max(8, Math.ceil(20_000 / s.batch)), now);
    const sample = await check(target.url, list[0]!);
    // Each pass over the bodies renames their accounts, so that codes are fresh ('valid', the
    // store's full path) until about 800,000 accounts have been used in this scenario; after
    // that the bodies repeat and their items are 'replayed' (the same store round trips).
    const rounds = Math.max(1, Math.floor(800_000 / (list.length * s.batch)));
    let next = 0;
    const before = s.baseline ? {} : await statusCounts(server.url);
    const result = await autocannon({
      url: target.url + '/v1/verify',
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      connections: s.connections,
      duration: DURATION,
      ...(s.rate === undefined ? {} : { overallRate: s.rate }),
      requests: [{
        setupRequest: (req) => {
          const round = Math.floor(next / list.length) % rounds;
          const body = list[next++ % list.length]!;
          return { ...req, body: round === 0 ? body : body.replaceAll('"account":"user-', `"account":"r${round}-`) };
        },
      }],
    });
    const after = s.baseline ? {} : await statusCounts(server.url);
    const cpuSeconds = after.cpu! - before.cpu!;
    delete after.cpu;
    const mix: Record<string, number> = {};
    for (const [k, v] of Object.entries(after)) if (v - (before[k] ?? 0) > 0) mix[k] = v - (before[k] ?? 0);
    const verified = Object.values(mix).reduce((a, b) => a + b, 0);
    const rps = result.requests.average;
    const row = {
      scenario: s.name,
      batch: s.batch,
      connections: s.connections,
      requestsPerSecond: Math.round(rps),
      verifiesPerSecond: Math.round(rps * s.batch),
      latencyP50Ms: result.latency.p50,
      latencyP99Ms: result.latency.p99,
      latencyMaxMs: result.latency.max,
      non2xx: result.non2xx,
      errors: result.errors,
      timeouts: result.timeouts,
      firstResponse: sample,
      statuses: mix,
      // The server's own CPU time per item: what one core of the server could do without a
      // load generator beside it (the generator here takes the other core).
      serverCpuMicrosPerItem: Math.round((cpuSeconds / verified) * 1e7) / 10,
      verifiesPerServerCpuSecond: Math.round(verified / cpuSeconds),
    };
    rows.push(row);
    console.log(`${s.name}: ${row.requestsPerSecond} req/s, ${row.verifiesPerSecond} verifies/s, ` +
      `p50 ${row.latencyP50Ms} ms, p99 ${row.latencyP99Ms} ms, max ${row.latencyMaxMs} ms; ` +
      `non-2xx ${row.non2xx}, errors ${row.errors}, timeouts ${row.timeouts}; results ${JSON.stringify(mix)}; ` +
      (s.baseline ? '' : `server CPU ${row.serverCpuMicrosPerItem} µs per item (${row.verifiesPerServerCpuSecond} verifies per CPU-second)`));
  }
} finally {
  await baseline?.stop();
  const code = await server.stop();
  console.log(`server exited with ${code} after SIGTERM`);
  redis?.process.kill();
}
if (values.json !== undefined) writeFileSync(values.json, JSON.stringify({ machine, rows }, null, 2));
