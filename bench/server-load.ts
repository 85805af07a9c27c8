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
// LOAD_NODE_ARGS (e.g. --cpu-prof) and LOAD_SERVER_ARGS (e.g. --log-level info) for experiments.
//
// Targets (issue 7, 2-core machine, generator included): >= 500k verifies/s with 1,000-item
// batches; single-item p99 <= 10 ms at 5k requests/s. For the latency target this script also
// has an open-loop generator of its own (`paced`, below): autocannon's overallRate sends each
// second's quota in bursts.

import { writeFileSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { parseArgs } from 'node:util';
import {
  AccountTags, checkRequest, generateToken, type HttpLoadResult, httpLoad, loadAutocannon, requestBodies, serverCounters,
  startPrivateRedis, startServe,
} from '../dist/bench/http-load.js';
import { formatMachine, machineInfo } from '../dist/bench/machine.js';

const { values } = parseArgs({
  options: { duration: { type: 'string' }, json: { type: 'string' }, only: { type: 'string' }, redis: { type: 'boolean' } },
});
const DURATION = Number(values.duration ?? 8);
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

/**
 * An open-loop generator: `rate` requests per second at evenly spaced planned times (sent in
 * ticks of about 1 ms), whatever the answers, over `connections` keep-alive connections (one
 * request at a time on each; a planned request waits for a free one). Latency runs from a
 * request's planned time to its response, so a late generator or a queue in front of the
 * server counts against the server (no coordinated omission). Raw sockets and prepared request
 * bytes, as autocannon does: node:http's client costs more CPU than the server it measures.
 *
 * autocannon's `overallRate` paces differently: each connection sends its whole quota for a
 * second back to back at the start of that second, so "5,000/s" on 64 connections is bursts
 * of 64 concurrent requests until the quota is spent, then a pause.
 */
async function paced(url: string, rate: number, seconds: number, connections: number, nextBody: () => string): Promise<HttpLoadResult> {
  const { hostname, port } = new URL(url);
  const head = `POST /v1/verify HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAuthorization: Bearer ${TOKEN}\r\n` +
    'Content-Type: application/json\r\nConnection: keep-alive\r\nContent-Length: ';
  const total = Math.round(rate * seconds);
  const latencies: number[] = [];
  const planned: number[] = []; // planned times of requests not yet sent
  const sentAt = new Map<Socket, number>(); // the planned time of each connection's request out
  const idle: Socket[] = [];
  let sent = 0;
  let answered = 0;
  let non2xx = 0;
  let errors = 0;
  let timeouts = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => { done = resolve; });
  const settle = (): void => {
    if (++answered === total) done();
  };
  const sockets = await Promise.all(Array.from({ length: connections }, () => new Promise<Socket>((resolve, reject) => {
    const socket = createConnection(Number(port), hostname, () => resolve(socket)).once('error', reject);
  })));
  const fire = (socket: Socket): void => {
    const at = planned.shift();
    if (at === undefined) {
      idle.push(socket);
      return;
    }
    const body = nextBody();
    sentAt.set(socket, at);
    socket.write(head + Buffer.byteLength(body) + '\r\n\r\n' + body);
  };
  for (const socket of sockets) {
    let buffer = '';
    socket.setEncoding('latin1');
    // Bounded: a connection silent for 10 s with a request out is a timeout.
    socket.setTimeout(10_000, () => {
      if (sentAt.delete(socket)) { timeouts++; settle(); }
      socket.destroy();
    });
    socket.on('error', () => { errors++; });
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      for (;;) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(buffer.slice(0, end))?.[1] ?? 0);
        if (buffer.length < end + 4 + length) return;
        if (!buffer.startsWith('HTTP/1.1 200')) non2xx++;
        buffer = buffer.slice(end + 4 + length);
        latencies.push(performance.now() - sentAt.get(socket)!);
        sentAt.delete(socket);
        settle();
        fire(socket);
      }
    });
    idle.push(socket);
  }
  const start = performance.now();
  const tick = (): void => {
    const due = Math.min(total, Math.floor(((performance.now() - start) * rate) / 1000));
    for (; sent < due; sent++) planned.push(start + (sent * 1000) / rate);
    while (idle.length > 0 && planned.length > 0) fire(idle.pop()!);
    if (sent < total) setTimeout(tick, 1);
  };
  tick();
  await Promise.race([finished, new Promise((resolve) => setTimeout(resolve, (seconds + 15) * 1000))]);
  for (const socket of sockets) socket.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]! * 10) / 10;
  return {
    requestsPerSecond: latencies.length / seconds, verifiesPerSecond: latencies.length / seconds, requests: latencies.length,
    p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1), non2xx, errors, timeouts, statuses: {}, serverCpuMicrosPerItem: Number.NaN,
  };
}

const autocannon = await loadAutocannon();

/** A paced run (single items) with the server's counters around it, as httpLoad reports them. */
async function pacedLoad(url: string, bodies: readonly string[], rate: number, connections: number, counters: boolean): Promise<HttpLoadResult> {
  let next = 0;
  let tag: string | null = null;
  const nextBody = (): string => {
    if (next % bodies.length === 0) tag = tags.next(bodies.length) ?? tag;
    const body = bodies[next++ % bodies.length]!;
    return tag === null ? body : body.replaceAll('"account":"user-', `"account":"${tag}-`);
  };
  const before = counters ? await serverCounters(url, TOKEN) : {};
  const r = await paced(url, rate, DURATION, connections, nextBody);
  if (!counters) return r;
  const after = await serverCounters(url, TOKEN);
  const statuses: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (k !== 'cpu' && v - (before[k] ?? 0) > 0) statuses[k] = v - (before[k] ?? 0);
  const items = Object.values(statuses).reduce((a, b) => a + b, 0);
  return { ...r, statuses, serverCpuMicrosPerItem: ((after['cpu']! - before['cpu']!) / items) * 1e6 };
}
const redis = values.redis === true ? await startPrivateRedis() : undefined;
const machine = machineInfo();
console.log(formatMachine(machine));
const server = await startServe({
  token: TOKEN, nodeArgs: split(process.env.LOAD_NODE_ARGS), serverArgs: split(process.env.LOAD_SERVER_ARGS),
  ...(redis === undefined ? {} : { redisUrl: redis.url }),
});
console.log(`server: ${server.url} (${redis === undefined ? 'in-memory store' : `private Redis at ${redis.url}`}), ${DURATION} s per scenario\n`);
const baseline = SCENARIOS.some((s) => s.baseline) ? await startServe({ token: TOKEN, baseline: true }) : undefined;
const now = Date.now();
const tags = new AccountTags(3_500_000);
const rows: Record<string, unknown>[] = [];
try {
  for (const [index, s] of SCENARIOS.entries()) {
    const target = s.baseline ? baseline! : server;
    const bodies = requestBodies(`s${index}`, s.batch, s.batch === 1 ? 10_000 : Math.max(8, Math.ceil(20_000 / s.batch)), now);
    const firstResponse = s.baseline ? {} : await checkRequest(target.url, TOKEN, bodies[0]!);
    const r = s.paced !== true ? await httpLoad(autocannon, {
      url: target.url, token: TOKEN, bodies, batch: s.batch, connections: s.connections, seconds: DURATION,
      ...(s.rate === undefined ? {} : { rate: s.rate }), tags, counters: !s.baseline,
    }) : await pacedLoad(target.url, bodies, s.rate!, s.connections, !s.baseline);
    const row = { scenario: s.name, batch: s.batch, connections: s.connections, ...r, firstResponse };
    rows.push(row);
    console.log(`${s.name}: ${Math.round(r.requestsPerSecond)} req/s, ${Math.round(r.verifiesPerSecond)} verifies/s, ` +
      `p50 ${r.p50} ms, p99 ${r.p99} ms, max ${r.max} ms; non-2xx ${r.non2xx}, errors ${r.errors}, timeouts ${r.timeouts}; ` +
      `results ${JSON.stringify(r.statuses)}` +
      (s.baseline ? '' : `; server CPU ${r.serverCpuMicrosPerItem.toFixed(1)} µs per item (${Math.round(1e6 / r.serverCpuMicrosPerItem)} verifies per CPU-second)`));
  }
} finally {
  await baseline?.stop();
  const code = await server.stop();
  console.log(`server exited with ${code} after SIGTERM`);
  redis?.stop();
}
if (values.json !== undefined) writeFileSync(values.json, JSON.stringify({ machine, rows }, null, 2));
