// Load on `totp-fleet serve` over loopback with autocannon: the server as a child process on an
// ephemeral port with a generated token, request bodies with fresh accounts, one bounded
// autocannon run, and the server's own counters (results by status, CPU seconds) from /metrics.
// Used by the "http" suite (suites/http.ts) and by bench/server-load.ts; nothing here knows
// the server's internals: it is driven through its command line, its environment and HTTP.

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type autocannonFn from 'autocannon';
import { base32, totp } from '../index.js';

type Autocannon = typeof autocannonFn;

/** autocannon (a dev dependency) is not installed: the HTTP suite is skipped with this message. */
export class AutocannonMissingError extends Error {
  constructor() {
    super('autocannon is not installed (a dev dependency): the HTTP suite was not measured');
    this.name = 'AutocannonMissingError';
  }
}

/** autocannon, loaded when first needed. */
export async function loadAutocannon(): Promise<Autocannon> {
  try {
    return (await import('autocannon')).default as Autocannon;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') throw new AutocannonMissingError();
    throw error;
  }
}

/** A random bearer token (256 bits, base64url: within the server's token alphabet). */
export function generateToken(): string {
  return randomBytes(32).toString('base64url');
}

// The compiled CLI (and the baseline's body parser), from dist/bench/ (the installed package) and
// from src/bench/ (the tests) alike.
const CLI = fileURLToPath(new URL('../../dist/cli/index.js', import.meta.url));

/**
 * The ceiling of this machine for one HTTP request: fastify answering a constant after parsing
 * the JSON body (no authentication, no verification, no logging). Same runtime, same generator.
 */
const BASELINE = `
  const { default: Fastify } = await import('fastify');
  const { jsonBodyParser } = await import(${JSON.stringify(new URL('../../dist/server/body.js', import.meta.url).href)});
  const app = Fastify();
  // Bodies parsed as serve parses them (src/server/body.ts), so that this stays the ceiling.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, jsonBodyParser);
  app.post('/v1/verify', async () => ({ status: 'valid', delta: 0, step: 1 }));
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  process.stderr.write('listening on ' + address + '\\n');
  process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
`;

export interface ServeOptions {
  readonly token: string;
  /** Share state through this Redis (TOTP_FLEET_REDIS_URL) instead of the in-memory store. */
  readonly redisUrl?: string;
  readonly redisPrefix?: string;
  /** More `serve` flags, and node flags (e.g. --cpu-prof). */
  readonly serverArgs?: readonly string[];
  readonly nodeArgs?: readonly string[];
  /** The empty fastify route instead of `serve`. */
  readonly baseline?: boolean;
  /** Accounts the in-memory store may hold. */
  readonly maxCredentials?: number;
  /** Another build's CLI (dist/cli/index.js) instead of this one's: to compare builds under the same load. */
  readonly cli?: string;
  /** More environment variables for the server, over this process's and SERVE_ENV (e.g. `GLIBC_TUNABLES: ''` to measure without it). */
  readonly env?: Readonly<Record<string, string>>;
}

export interface RunningServe {
  readonly url: string;
  /** The server's process id: its page faults are read from /proc (see serverFaults). */
  readonly pid: number | undefined;
  /** SIGTERM, and the exit code once it exited. */
  stop(): Promise<number | null>;
}

/**
 * The environment `npm start` gives the server (package.json), and so every server these
 * benches start unless `ServeOptions.env` says otherwise: glibc's malloc asks for transparent
 * huge pages, so the in-memory store's pages fault 2 MiB at a time (~40 → ~2 page faults per
 * 1,000-item request of new accounts, ~13 % less server CPU per item; README, Operations;
 * glibc reads it at process start, so `serve` cannot set it for itself), and `--pretouch`: the
 * in-memory store's memory for `--max-credentials` accounts is made and written at start, so
 * that new accounts fault no pages under load (README, Operations).
 */
export const SERVE_ENV: Readonly<Record<string, string>> = { GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1', TOTP_FLEET_PRETOUCH: '1' };

/**
 * Starts `totp-fleet serve` (or the baseline) as a child process on an ephemeral loopback port;
 * resolves once it listens. The token travels in the environment, never on the command line.
 */
export async function startServe(opts: ServeOptions): Promise<RunningServe> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...SERVE_ENV, ...opts.env, TOTP_FLEET_TOKENS: opts.token };
  delete env['TOTP_FLEET_REDIS_URL'];
  if (opts.redisUrl !== undefined) env['TOTP_FLEET_REDIS_URL'] = opts.redisUrl;
  const args = opts.baseline === true
    ? ['--input-type=module', '-e', BASELINE]
    : [...(opts.nodeArgs ?? []), opts.cli ?? CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--max-batch', '1000',
      '--max-credentials', String(opts.maxCredentials ?? 4_000_000), '--log-level', 'warn',
      ...(opts.redisPrefix === undefined ? [] : ['--redis-prefix', opts.redisPrefix]), ...(opts.serverArgs ?? [])];
  // The baseline imports fastify from this package's own dependencies.
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'], cwd: fileURLToPath(new URL('../..', import.meta.url)) });
  const url = await new Promise<string>((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('the server did not listen within 20 s')); }, 20_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /listening on (\S+)/.exec(err);
      if (m !== null) { clearTimeout(timer); resolve(m[1]!); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`the server exited (${code}) before listening: ${err.slice(0, 500)}`)); });
  });
  return { url, pid: child.pid, stop: () => stopChild(child) };
}

function stopChild(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', (code) => { clearTimeout(kill); resolve(code); });
    child.kill('SIGTERM');
  });
}

/** A private redis-server on a free port (no persistence), never the shared one. */
export async function startPrivateRedis(): Promise<{ url: string; stop(): void }> {
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
    if (up) return { url: `redis://127.0.0.1:${port}`, stop: () => child.kill() };
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill();
  throw new Error('redis-server did not start');
}

/** The secrets and codes of the load: 10,000 secrets, each item's code valid at `now`. */
function loadSecrets(now: number): { secrets: string[]; codes: string[] } {
  const secrets = Array.from({ length: 10_000 }, (_, i) => base32.encode(new Uint8Array(20).map((_, j) => (i * 31 + j * 7 + (i >> 8)) & 255)));
  return { secrets, codes: secrets.map((s) => totp.generate(s, { timestamp: now })) };
}

/**
 * `count` distinct request bodies of `batch` items (one bare item when batch is 1), accounts
 * `user-<tag>-<k>@example.com`, the 10,000 secrets cycled (the server's key cache is warm after a pass).
 */
export function requestBodies(tag: string, batch: number, count: number, now: number): string[] {
  const { secrets, codes } = loadSecrets(now);
  const out: string[] = [];
  let k = 0;
  for (let b = 0; b < count; b++) {
    const items = [];
    for (let i = 0; i < batch; i++, k++) {
      const s = k % secrets.length;
      items.push({ account: `user-${tag}-${k}@example.com`, secret: secrets[s]!, code: codes[s]!, timestamp: now });
    }
    out.push(JSON.stringify(batch === 1 ? items[0] : { items }));
  }
  return out;
}

const headers = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });

/** One request; its results counted by status. */
export async function checkRequest(url: string, token: string, body: string): Promise<Record<string, number>> {
  const res = await fetch(url + '/v1/verify', { method: 'POST', body, headers: headers(token) });
  if (res.status !== 200) throw new Error(`the server answered HTTP ${res.status} to a well-formed request`);
  const json = await res.json() as { results?: { status: string }[]; status?: string };
  const statuses: Record<string, number> = {};
  for (const r of json.results ?? [json as { status: string }]) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
  return statuses;
}

/** The server's verification counters by status, and its CPU seconds ('cpu'), from /metrics. */
export async function serverCounters(url: string, token: string): Promise<Record<string, number>> {
  const res = await fetch(url + '/metrics', { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^totp_fleet_verifications_total\{status="(\w+)"\} (\d+)/gm)) out[m[1]!] = Number(m[2]);
  out['cpu'] = Number(/^totp_fleet_process_cpu_seconds_total (\S+)/m.exec(text)?.[1] ?? Number.NaN);
  return out;
}

/**
 * Minor page faults of a process so far (Linux: /proc/PID/stat), NaN elsewhere. Each is a page
 * the kernel had to find and zero: a server whose in-memory store grows takes about one per
 * 20 new accounts, and on a VM a fault can cost 10-30 µs (measured on the 2-core Firecracker
 * VM of the README), enough to move the server's CPU per item.
 */
export function serverFaults(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    // Fields after "(comm) ": state, ppid, pgrp, session, tty_nr, tpgid, flags, minflt, ...
    const fields = readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]!.split(' ');
    return Number(fields[7]);
  } catch {
    return Number.NaN;
  }
}

/** Hands out fresh account tags for passes over a body list, up to an allowance of accounts. */
export class AccountTags {
  #left: number;
  #pass = 0;
  /** `allowance`: accounts the server may be asked to remember (its --max-credentials, less a margin). */
  constructor(allowance: number) {
    this.#left = allowance;
  }

  /** A tag for one more pass of `accounts` accounts, or null once the allowance is spent (bodies repeat: 'replayed'). */
  next(accounts: number): string | null {
    if (accounts > this.#left) return null;
    this.#left -= accounts;
    return `p${++this.#pass}`;
  }
}

export interface HttpLoadOptions {
  readonly url: string;
  readonly token: string;
  /** Request bodies (see requestBodies); sent in turn, renamed per pass by `tags`. */
  readonly bodies: readonly string[];
  readonly batch: number;
  readonly connections: number;
  readonly seconds: number;
  /** Requests per second over all connections; absent: as fast as it goes. */
  readonly rate?: number;
  readonly tags?: AccountTags;
  /** The baseline has no /metrics. */
  readonly counters?: boolean;
  /** The server's process id, for its page faults (serverFaultsPerItem). */
  readonly pid?: number | undefined;
}

export interface HttpLoadResult {
  readonly requestsPerSecond: number;
  readonly verifiesPerSecond: number;
  readonly requests: number;
  /** Milliseconds: httpLoad's from each request's send (autocannon's); pacedLoad's from each request's planned time. */
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  /** Items answered during the run, by status (from the server's counters). */
  readonly statuses: Record<string, number>;
  /**
   * The server's CPU time per item, µs: what one core of it costs without the generator beside
   * it. On a VM without steal accounting (/proc/stat's steal stays 0 on the README's machine)
   * it includes time the vCPU spent on other things (the host's, interrupts): there a fixed work
   * unit took 23 ms of CPU time (median of 60), 28 ms at p90 and 127 ms at worst. Compare
   * medians of rounds, not single figures.
   */
  readonly serverCpuMicrosPerItem: number;
  /** The server's minor page faults per item (NaN without a pid or /proc). */
  readonly serverFaultsPerItem: number;
  /** pacedLoad: the generator's CPU (this process, all threads) in cores over the run. */
  readonly generatorCores?: number;
}

/**
 * The request bodies in turn, forever: each pass over them gives their accounts a fresh tag
 * (codes stay 'valid', the store's full path) while the allowance lasts; after that they
 * repeat ('replayed').
 */
function bodySource(opts: Pick<HttpLoadOptions, 'bodies' | 'batch' | 'tags'>): () => string {
  const { bodies } = opts;
  let next = 0;
  let tag: string | null = null;
  return () => {
    if (next % bodies.length === 0 && opts.tags !== undefined) tag = opts.tags.next(bodies.length * opts.batch) ?? tag;
    const body = bodies[next++ % bodies.length]!;
    return tag === null ? body : body.replaceAll('"account":"user-', `"account":"${tag}-`);
  };
}

/** The server's counters (serverCounters) and its page faults ('faults'), or nothing for the baseline. */
async function readings(opts: Pick<HttpLoadOptions, 'url' | 'token' | 'counters' | 'pid'>): Promise<Record<string, number>> {
  if (opts.counters === false) return {};
  return { ...(await serverCounters(opts.url, opts.token)), faults: serverFaults(opts.pid) };
}

type Counted = Pick<HttpLoadResult, 'statuses' | 'serverCpuMicrosPerItem' | 'serverFaultsPerItem'>;

/**
 * Results by status, server CPU and page faults per item between two readings. Throws when the
 * server answered any item `malformed`: every body requestBodies makes is well formed, so that
 * is a load measuring something else, most likely bodies older than serve's timestamp bound
 * (`--timestamp-skew-ms`, 5 minutes by default: each item carries the time its body was made).
 */
function counted(before: Record<string, number>, after: Record<string, number>): Counted {
  const statuses: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (k !== 'cpu' && k !== 'faults' && v - (before[k] ?? 0) > 0) statuses[k] = v - (before[k] ?? 0);
  if (statuses.malformed !== undefined) {
    throw new Error(`the server answered ${statuses.malformed} items of the load 'malformed' (its figures would measure refusals): ` +
      'are the request bodies older than serve\'s --timestamp-skew-ms (5 minutes by default)? Make them anew for each run.');
  }
  const items = Object.values(statuses).reduce((a, b) => a + b, 0);
  const per = (key: string): number => (items > 0 ? (after[key]! - before[key]!) / items : Number.NaN);
  return { statuses, serverCpuMicrosPerItem: per('cpu') * 1e6, serverFaultsPerItem: per('faults') };
}

/** One bounded autocannon run against POST /v1/verify. */
export async function httpLoad(autocannon: Autocannon, opts: HttpLoadOptions): Promise<HttpLoadResult> {
  const before = await readings(opts);
  const nextBody = bodySource(opts);
  const result = await autocannon({
    url: opts.url + '/v1/verify',
    method: 'POST',
    headers: headers(opts.token),
    connections: opts.connections,
    duration: opts.seconds,
    ...(opts.rate === undefined ? {} : { overallRate: opts.rate }),
    requests: [{
      setupRequest: (req) => ({ ...req, body: nextBody() }),
    }],
  });
  const after = await readings(opts);
  const rps = result.requests.total / Math.max(1e-9, result.duration);
  return {
    requestsPerSecond: rps,
    verifiesPerSecond: rps * opts.batch,
    requests: result.requests.total,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    max: result.latency.max,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    ...counted(before, after),
  };
}

export interface PacedLoadOptions extends HttpLoadOptions {
  readonly rate: number;
  /**
   * Seconds of the same load sent first and not counted (default 2): a server that has just
   * started runs its first thousands of requests unoptimised (measured: at 5,000/s a fresh
   * `serve`, and the empty route too, answer late for the first ~2 s), which is start-up, not
   * the steady state the latency target is about.
   */
  readonly warmupSeconds?: number;
}

/**
 * An open-loop load: `rate` requests per second at evenly spaced planned times (sent in ticks of
 * about 1 ms), whatever the answers, over `connections` keep-alive connections (one request at
 * a time on each; a planned request waits for a free one). Latency runs from a request's planned
 * time to its response, so a late generator or a queue in front of the server counts against
 * the server (no coordinated omission). Raw sockets and prepared request text, as autocannon
 * does: node:http's client costs more CPU than the server it measures.
 *
 * autocannon's `overallRate` paces differently: each connection sends its whole quota for a
 * second back to back at the start of that second, so "5,000/s" on 64 connections is bursts of
 * 64 concurrent requests until the quota is spent, then a pause.
 */
export async function pacedLoad(opts: PacedLoadOptions): Promise<HttpLoadResult> {
  const nextBody = bodySource(opts);
  const warmup = opts.warmupSeconds ?? 2;
  if (warmup > 0) await paced(opts, warmup, nextBody);
  const before = await readings(opts);
  const cpu = process.cpuUsage();
  const r = await paced(opts, opts.seconds, nextBody);
  const { user, system } = process.cpuUsage(cpu);
  const after = await readings(opts);
  return { ...r, verifiesPerSecond: r.requestsPerSecond * opts.batch, ...counted(before, after), generatorCores: (user + system) / 1e6 / opts.seconds };
}

type PacedResult = Omit<HttpLoadResult, keyof Counted | 'generatorCores'>;

async function paced(opts: PacedLoadOptions, seconds: number, nextBody: () => string): Promise<PacedResult> {
  const { hostname, port } = new URL(opts.url);
  const head = `POST /v1/verify HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAuthorization: Bearer ${opts.token}\r\n` +
    'Content-Type: application/json\r\nConnection: keep-alive\r\nContent-Length: ';
  const { rate } = opts;
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
  const sockets = await Promise.all(Array.from({ length: opts.connections }, () => new Promise<Socket>((resolve, reject) => {
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
  let limit: NodeJS.Timeout | undefined;
  await Promise.race([finished, new Promise((resolve) => { limit = setTimeout(resolve, (seconds + 15) * 1000); })]);
  clearTimeout(limit);
  for (const socket of sockets) socket.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies.length === 0 ? Number.NaN
    : Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]! * 10) / 10;
  return {
    requestsPerSecond: latencies.length / seconds, verifiesPerSecond: latencies.length / seconds, requests: latencies.length,
    p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1), non2xx, errors, timeouts,
  };
}
