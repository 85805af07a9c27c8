// Issue 7's untested design, measured before building it: the whole engine on a thread of its
// own. A prototype server (this file, run as `... server-engine-thread.ts serve ...`) whose
// event-loop thread only does HTTP: the bearer token check, the body read as bytes (fastify's
// content-type parser with parseAs 'buffer'), the bytes transferred to ONE worker thread, the
// answer's bytes transferred back and written, prom-client's request metrics. The worker does
// everything `serve` does on its event-loop thread after that: JSON.parse of the body, the
// schema's validation (ajv, the same schema and options, the same 400 messages), the real
// TotpVerifier with a MemoryStore built by createEngine as `serve` builds it (threads 0 below the
// inline threshold, the same policy defaults, --max-credentials), serialisation (batchAnswer /
// singleAnswer, fast-json-stringify as the fallback). State lives in that one thread.
//
// The driver (default mode) starts the real `serve` (dist/cli/index.js, npm start's
// GLIBC_TUNABLES, as bench/server-load.ts does) and this prototype side by side and compares
// them in one process, in interleaved rounds (the order alternates by round):
//   1. autocannon, batches of 1,000 fresh accounts on 4 connections (src/bench/http-load.ts's
//      httpLoad and requestBodies): verifies/s and server CPU (all threads) per item;
//   2. paced single items of fresh accounts at --rate per second (pacedLoad, open loop, 64
//      connections; 1 s of the same load uncounted before each measured round): p50/p99/max.
// Per phase: medians, and the median of the per-round ratios engine ÷ serve. Per batch round
// also each server's CPU per item on its event-loop thread and on its other threads, and the
// prototype's two event-loop utilisations (which thread bounds the rate). Run it with both
// --first values: the variant started first measures a little better on this VM.
// Measured 2026-11-24 (README, Load): 0.83-1.10× serve's rate on 1,000-item batches, paced p99 worse;
// `isolated`: the same engine work alone ran 1.27× slower on a worker than on the main thread.
//
//   npm run build && flock /work/bench.lock node --import tsx bench/server-engine-thread.ts \
//     [--first serve|engine] [--rounds 6] [--seconds 2] [--connections 4] [--paced-rounds 6] [--paced-seconds 4] [--rate 5000] \
//     [--engine-env KEY=VALUE]...   (more environment for the prototype only)
//   GLIBC_TUNABLES=glibc.malloc.hugetlb=1 flock /work/bench.lock node --import tsx bench/server-engine-thread.ts isolated \
//     [--rounds 6] [--requests 2000]   (the engine thread's work alone, no HTTP: on this thread, then on a worker)
//
// Bounded: (rounds + 1) × 2 × seconds, then 2 × (2 + paced-rounds × (1 + paced-seconds)) s.
// A prototype, not the server: no /v1/clock, /healthz, /readyz, audit, draining or RedisStore.

import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';

const SELF = fileURLToPath(import.meta.url);

type WorkerData = { role: 'engine'; maxCredentials: number; maxBatch: number } | { role: 'isolated'; tag: string; requests: number };
if (!isMainThread) {
  const data = workerData as WorkerData;
  if (data.role === 'engine') await engineThread(data);
  else parentPort!.postMessage(await engineAlone(data.tag, data.requests));
} else if (process.argv[2] === 'serve') await prototypeServer(process.argv.slice(3));
else if (process.argv[2] === 'isolated') await isolated(process.argv.slice(3));
else await driver();

/** This file again, as a worker thread: a worker does not inherit tsx's loader, so it registers it first. */
function selfWorker(data: WorkerData): Worker {
  const boot = `import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); })`;
  return new Worker(boot, { eval: true, workerData: data });
}

/** The engine as `serve` builds it by default (server.ts: threads 0 below the inline threshold), and its body validator. */
async function makeEngine(maxCredentials: number, maxBatch: number) {
  const { createEngine } = await import('../dist/server/engine.js');
  const { verifyBodySchema } = await import('../dist/server/schema.js');
  const { default: Ajv } = await import('ajv');
  const engine = await createEngine({ redisUrl: undefined, redisPrefix: undefined, maxCredentials, verifier: { threads: 0 }, policy: {} });
  // @fastify/ajv-compiler's defaults with app.ts's customOptions.
  const ajv = new (Ajv as unknown as typeof Ajv.default)({
    coerceTypes: false, useDefaults: true, removeAdditional: false, allErrors: false, unicode: false, addUsedSchema: false, logger: false,
  });
  return { engine, validate: ajv.compile(verifyBodySchema(maxBatch)) };
}

// ---------------------------------------------------------------------------------------------
// The worker: the engine, its state, parsing, validation and serialisation.

interface EngineRequest { id: number; body?: ArrayBuffer; stats?: true; close?: true }
interface EngineAnswer {
  id: number;
  /** HTTP status; 200 with `tally` (count per status, in STATUSES' order) and `items`. */
  status: number;
  body?: ArrayBuffer;
  items?: number;
  tally?: number[];
  stats?: unknown;
}
const STATUSES = ['valid', 'invalid', 'replayed', 'locked', 'malformed', 'error'] as const;

async function engineThread({ maxCredentials, maxBatch }: { maxCredentials: number; maxBatch: number }): Promise<void> {
  const { validationMessage, batchResponseSchema, resultSchema } = await import('../dist/server/schema.js');
  const { batchAnswer, singleAnswer } = await import('../dist/server/serialize.js');
  const { default: fastJson } = await import('fast-json-stringify');
  const { engine, validate } = await makeEngine(maxCredentials, maxBatch);
  const { verifier } = engine;
  const serializeBatch = fastJson(batchResponseSchema as object);
  const serializeOne = fastJson(resultSchema as object);
  const port = parentPort!;
  const bytes = (text: string): ArrayBuffer => {
    // Not Buffer.from: a small one comes from the shared pool, whose memory cannot be transferred.
    const length = Buffer.byteLength(text);
    const out = Buffer.allocUnsafeSlow(length);
    // An answer is ASCII (as many bytes as characters): latin1 copies it without encoding.
    out.write(text, length === text.length ? 'latin1' : 'utf8');
    return out.buffer as ArrayBuffer;
  };
  const answer = (id: number, status: number, text: string, items?: number, tally?: number[]): void => {
    const body = bytes(text);
    port.postMessage({ id, status, body, items, tally } satisfies EngineAnswer, [body]);
  };
  const error = (id: number, status: number, code: string, message: string): void =>
    answer(id, status, JSON.stringify({ statusCode: status, error: code, message }));
  port.on('message', (m: EngineRequest) => {
    if (m.stats) {
      port.postMessage({ id: m.id, status: 200, stats: verifier.stats() } satisfies EngineAnswer);
      return;
    }
    if (m.close) {
      void engine.close().then(() => port.postMessage({ id: m.id, status: 200 } satisfies EngineAnswer));
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(Buffer.from(m.body!).toString('utf8'));
    } catch {
      error(m.id, 400, 'invalid-json', 'the body is not valid JSON');
      return;
    }
    if (!validate(body)) {
      error(m.id, 400, 'invalid-request', validationMessage(validate.errors as never, maxBatch));
      return;
    }
    const batch = typeof body === 'object' && body !== null && 'items' in body;
    const pending = batch ? verifier.verifyBatch((body as { items: never[] }).items) : verifier.verify(body as never).then((r) => [r]);
    pending.then((results) => {
      const tally = [0, 0, 0, 0, 0, 0];
      for (const r of results) tally[STATUSES.indexOf(r.status)]!++;
      const text = (batch ? batchAnswer(results) : singleAnswer(results[0]!)) ?? (batch ? serializeBatch({ results }) : serializeOne(results[0]));
      answer(m.id, 200, text, results.length, tally);
    }, (e: unknown) => {
      const code = (e as { code?: unknown }).code;
      if (code === 'ERR_OVERLOADED') error(m.id, 503, 'overloaded', 'too many items in flight; retry shortly');
      else if (code === 'ERR_STORE_UNAVAILABLE') error(m.id, 503, 'store-unavailable', 'the store is unavailable; retry shortly');
      else error(m.id, 500, 'internal', 'internal error');
    });
  });
  port.postMessage({ id: -1, status: 200 } satisfies EngineAnswer);
}

// ---------------------------------------------------------------------------------------------
// The prototype server's event-loop thread: HTTP only.

async function prototypeServer(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv, strict: false,
    options: { host: { type: 'string' }, port: { type: 'string' }, 'max-batch': { type: 'string' }, 'max-credentials': { type: 'string' } },
  });
  const { default: Fastify, LogController } = await import('fastify');
  const { pino } = await import('pino');
  const { TokenSet } = await import('../dist/server/auth.js');
  const { ServerMetrics } = await import('../dist/server/metrics.js');
  const { resolveServerOptions } = await import('../dist/server/options.js');
  const tokens = (process.env['TOTP_FLEET_TOKENS'] ?? '').split(',').filter(Boolean);
  const opts = resolveServerOptions({ tokens, maxBatch: Number(values['max-batch'] ?? 1000) });
  const maxCredentials = Number(values['max-credentials'] ?? 4_000_000);

  const worker = selfWorker({ role: 'engine', maxCredentials, maxBatch: opts.maxBatch });
  const waiting = new Map<number, (a: EngineAnswer) => void>();
  let nextId = 0;
  const ready = new Promise<void>((resolve, reject) => {
    waiting.set(-1, () => resolve());
    worker.once('error', reject);
  });
  // The engine thread holds all the state: without it there is no server (requests in flight would wait forever).
  let closing = false;
  worker.once('exit', (code) => {
    if (closing) return;
    process.stderr.write(`engine-thread prototype: the engine thread exited (${code})\n`);
    process.exit(1);
  });
  worker.on('message', (a: EngineAnswer) => {
    const done = waiting.get(a.id);
    waiting.delete(a.id);
    done?.(a);
  });
  const ask = (m: Omit<EngineRequest, 'id'>, transfer: ArrayBuffer[] = []): Promise<EngineAnswer> => new Promise((resolve) => {
    const id = nextId++;
    waiting.set(id, resolve);
    worker.postMessage({ ...m, id }, transfer);
  });
  await ready;

  let stats: unknown;
  const metrics = new ServerMetrics({ stats: () => stats as never, storeUp: () => true, clock: () => undefined });
  const logger = pino({ level: 'warn' }, pino.destination({ sync: false, minLength: 4096 }));
  const app = Fastify({
    loggerInstance: logger as never,
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: (parent) => parent,
    bodyLimit: opts.bodyLimit,
    requestTimeout: opts.requestTimeoutMs,
    connectionTimeout: Math.max(60_000, opts.requestTimeoutMs * 2),
    keepAliveTimeout: 30_000,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    http: { headersTimeout: opts.requestTimeoutMs, connectionsCheckingInterval: Math.min(1000, Math.ceil(opts.requestTimeoutMs / 4)) },
    onProtoPoisoning: 'ignore',
    onConstructorPoisoning: 'ignore',
  });
  const tokenSet = new TokenSet(opts.tokens);
  const authenticate = (request: { headers: { authorization?: string } }, reply: { code(n: number): { send(x: unknown): unknown } }, done: () => void): void => {
    const outcome = tokenSet.check(request.headers.authorization);
    if (outcome === 'ok') {
      done();
      return;
    }
    metrics.authFailures.inc({ reason: outcome });
    void reply.code(401).send({ statusCode: 401, error: 'unauthorized', message: outcome === 'missing' ? 'a bearer token is required' : 'the bearer token is not valid' });
  };
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
  app.addHook('onSend', (_request, _reply, payload, done) => done(null, payload));
  app.addHook('onResponse', (request, reply, done) => {
    metrics.requestSeconds.observe({ route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
    done();
  });
  app.post('/v1/verify', { onRequest: authenticate }, async (request, reply) => {
    const raw = request.body as Buffer;
    // The body's own memory is handed over when it is all of its ArrayBuffer (a body of 4 KiB
    // or more), copied when it sits in the shared pool (a small one).
    const whole = raw.byteOffset === 0 && raw.byteLength === raw.buffer.byteLength;
    const body = whole ? raw.buffer as ArrayBuffer : raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength) as ArrayBuffer;
    const a = await ask({ body }, [body]);
    if (a.status === 200) {
      metrics.batchSize.observe(a.items!);
      for (let i = 0; i < STATUSES.length; i++) if (a.tally![i]! > 0) metrics.verifications.inc({ status: STATUSES[i]! }, a.tally![i]!);
    }
    return reply.code(a.status).type('application/json; charset=utf-8').send(Buffer.from(a.body!));
  });
  app.get('/metrics', { onRequest: authenticate }, async (_request, reply) => {
    stats = (await ask({ stats: true })).stats;
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });
  // How busy each of the two threads was (event-loop utilisation, cumulative): which one bounds the rate.
  app.get('/elu', { onRequest: authenticate }, async () => {
    const { performance } = await import('node:perf_hooks');
    return { main: performance.eventLoopUtilization(), worker: worker.performance.eventLoopUtilization() };
  });
  const address = await app.listen({ host: String(values.host ?? '127.0.0.1'), port: Number(values.port ?? 0) });
  process.stderr.write(`engine-thread prototype: listening on ${address}\n`);
  process.once('SIGTERM', () => {
    closing = true;
    void app.close().then(() => ask({ close: true })).then(() => worker.terminate()).then(() => process.exit(0));
  });
}

// ---------------------------------------------------------------------------------------------
// The driver: `serve` and the prototype under the same load, interleaved.

async function driver(): Promise<void> {
  const { values } = parseArgs({
    options: {
      first: { type: 'string' }, rounds: { type: 'string' }, seconds: { type: 'string' }, connections: { type: 'string' },
      'engine-env': { type: 'string', multiple: true },
      'paced-rounds': { type: 'string' }, 'paced-seconds': { type: 'string' }, rate: { type: 'string' },
    },
  });
  const { AccountTags, generateToken, httpLoad, loadAutocannon, pacedLoad, requestBodies, startServe, checkRequest } =
    await import('../dist/bench/http-load.js');
  const { formatMachine, machineInfo } = await import('../dist/bench/machine.js');
  const ROUNDS = Number(values.rounds ?? 6);
  const SECONDS = Number(values.seconds ?? 2);
  const PACED_ROUNDS = Number(values['paced-rounds'] ?? 6);
  const PACED_SECONDS = Number(values['paced-seconds'] ?? 4);
  const RATE = Number(values.rate ?? 5000);
  const CONNECTIONS = Number(values.connections ?? 4);
  const MAX_CREDENTIALS = 10_000_000;
  const first = values.first ?? 'serve';
  if (first !== 'serve' && first !== 'engine') throw new Error('--first expected serve or engine');
  // More environment for the prototype only, over npm start's (e.g. GLIBC_TUNABLES=...:glibc.malloc.arena_max=1).
  const engineEnv: Record<string, string> = {};
  for (const kv of values['engine-env'] ?? []) {
    const eq = kv.indexOf('=');
    if (eq < 1) throw new Error(`--engine-env ${kv}: expected KEY=VALUE`);
    engineEnv[kv.slice(0, eq)] = kv.slice(eq + 1);
  }

  type Server = Awaited<ReturnType<typeof startServe>>;
  interface Variant {
    name: 'serve' | 'engine';
    server?: Server;
    tags: InstanceType<typeof AccountTags>;
    batch: { rate: number; cpu: number; elu?: string }[];
    paced: { p50: number; p99: number; max: number; cpu: number }[];
  }
  const make = (name: Variant['name']): Variant => ({ name, tags: new AccountTags(MAX_CREDENTIALS - 500_000), batch: [], paced: [] });
  const variants = first === 'serve' ? [make('serve'), make('engine')] : [make('engine'), make('serve')];
  const serveV = variants.find((v) => v.name === 'serve')!;
  const engineV = variants.find((v) => v.name === 'engine')!;
  const token = generateToken();
  const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const now = Date.now();
  const batchBodies = requestBodies('b', 1000, 20, now);
  const singleBodies = requestBodies('s', 1, 10_000, now);
  console.log(formatMachine(machineInfo()));
  console.log(`started first: ${first}; batches of 1,000 fresh accounts, ${CONNECTIONS} connections, ${ROUNDS} rounds × ${SECONDS} s; ` +
    `paced single items ${RATE}/s, 64 connections, ${PACED_ROUNDS} rounds × ${PACED_SECONDS} s\n`);
  const autocannon = await loadAutocannon();
  try {
    for (const v of variants) {
      v.server = v.name === 'serve'
        ? await startServe({ token, maxCredentials: MAX_CREDENTIALS })
        : await startServe({ token, maxCredentials: MAX_CREDENTIALS, cli: SELF, nodeArgs: ['--import', 'tsx'], env: engineEnv });
      const statuses = await checkRequest(v.server.url, token, batchBodies[0]!.replaceAll('"account":"user-', '"account":"check-'));
      if (statuses['valid'] !== 1000) throw new Error(`${v.name}: the check request got ${JSON.stringify(statuses)}`);
    }
    type Elu = Record<'main' | 'worker', { idle: number; active: number }>;
    /**
     * CPU seconds of the server's event-loop thread ('main') and of all its other threads (the
     * prototype's engine thread, V8's GC helpers, libuv's pool: on Linux they all read "node"),
     * from /proc/PID/task (10 ms ticks).
     */
    const threadCpu = (pid: number): Record<string, number> => {
      const out: Record<string, number> = { main: 0, others: 0 };
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        try {
          const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
          const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // utime and stime are fields 14 and 15
          out[Number(tid) === pid ? 'main' : 'others']! += (Number(f[11]) + Number(f[12])) / 100;
        } catch { /* the thread ended */ }
      }
      return out;
    };
    const perItem = (a: Record<string, number>, b: Record<string, number>, items: number): string =>
      Object.keys(a).map((k) => `${k} ${(((b[k]! - a[k]!) * 1e6) / items).toFixed(2)}`).join(', ');
    const elu = async (v: Variant): Promise<Elu> =>
      (await (await fetch(`${v.server!.url}/elu`, { headers: { authorization: `Bearer ${token}` } })).json()) as Elu;
    const eluBusy = (a: Elu, b: Elu): string => (['main', 'worker'] as const).map((k) => {
      const active = b[k].active - a[k].active;
      return `${k === 'main' ? '' : 'worker '}${Math.round((100 * active) / (active + b[k].idle - a[k].idle))} %`;
    }).join(', ');
    const batchLoad = (v: Variant, seconds: number) => httpLoad(autocannon, {
      url: v.server!.url, token, bodies: batchBodies, batch: 1000, connections: CONNECTIONS, seconds, tags: v.tags, counters: true, pid: v.server!.pid,
    });
    // Round 0 warms both up and is not counted.
    for (let round = 0; round <= ROUNDS; round++) {
      const line: string[] = [];
      for (const v of round % 2 === 0 ? variants : [...variants].reverse()) {
        const elu0 = v.name === 'engine' ? await elu(v) : undefined;
        const cpu0 = threadCpu(v.server!.pid!);
        const r = await batchLoad(v, round === 0 ? 1 : SECONDS);
        const cpu1 = threadCpu(v.server!.pid!);
        const busy = ` [threads µs/item: ${perItem(cpu0, cpu1, r.requests * 1000)}; ${(r.serverFaultsPerItem * 1000).toFixed(1)} page faults/request]` +
          (elu0 === undefined ? '' : ` (busy: event loop ${eluBusy(elu0, await elu(v))})`);
        const valid = r.statuses['valid'] ?? 0;
        const items = Object.values(r.statuses).reduce((a, b) => a + b, 0);
        if (r.non2xx > 0 || r.errors > 0 || valid !== items) throw new Error(`${v.name}: ${r.non2xx} non-2xx, ${r.errors} errors, ${JSON.stringify(r.statuses)}`);
        if (round > 0) v.batch.push({ rate: r.verifiesPerSecond, cpu: r.serverCpuMicrosPerItem });
        line.push(`${v.name} ${Math.round(r.verifiesPerSecond / 1000)}k verifies/s, ${r.serverCpuMicrosPerItem.toFixed(2)} µs CPU/item${busy}`);
      }
      console.log(`batch round ${round}${round === 0 ? ' (warm-up)' : ''}: ${line.join(' | ')}`);
    }
    const pacedLoadOf = (v: Variant, seconds: number) => pacedLoad({
      url: v.server!.url, token, bodies: singleBodies, batch: 1, connections: 64, seconds, rate: RATE,
      tags: v.tags, counters: true, pid: v.server!.pid, warmupSeconds: 0,
    });
    if (PACED_ROUNDS > 0) for (const v of variants) await pacedLoadOf(v, 2); // the single-item path warms up: not counted
    for (let round = 0; round < PACED_ROUNDS; round++) {
      const line: string[] = [];
      for (const v of round % 2 === 0 ? variants : [...variants].reverse()) {
        await pacedLoadOf(v, 1); // the same load, not counted: the server is in its steady state
        const r = await pacedLoadOf(v, PACED_SECONDS);
        if (r.non2xx > 0 || r.errors > 0 || r.timeouts > 0) throw new Error(`${v.name}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`);
        v.paced.push({ p50: r.p50, p99: r.p99, max: r.max, cpu: r.serverCpuMicrosPerItem });
        line.push(`${v.name} p50 ${r.p50} p99 ${r.p99} max ${r.max} ms, ${r.serverCpuMicrosPerItem.toFixed(1)} µs CPU/req`);
      }
      console.log(`paced round ${round + 1}: ${line.join(' | ')}`);
    }
  } finally {
    for (const v of variants) {
      const code = await v.server?.stop();
      if (v.server !== undefined && code !== 0) console.log(`${v.name} exited with ${code} after SIGTERM`);
    }
  }
  console.log('');
  const ratio = <T>(rows: (v: Variant) => T[], key: (x: T) => number): string =>
    median(rows(engineV).map((x, i) => key(x) / key(rows(serveV)[i]!))).toFixed(3);
  for (const v of variants) {
    if (v.batch.length > 0) {
      console.log(`${v.name.padEnd(6)} batches of 1,000: median ${Math.round(median(v.batch.map((x) => x.rate)) / 1000)}k verifies/s, ` +
        `${median(v.batch.map((x) => x.cpu)).toFixed(2)} µs server CPU per item; rounds ${v.batch.map((x) => Math.round(x.rate / 1000) + 'k').join(' ')}`);
    }
    if (v.paced.length > 0) {
      console.log(`${v.name.padEnd(6)} paced ${RATE}/s: median p50 ${median(v.paced.map((x) => x.p50))} ms, p99 ${median(v.paced.map((x) => x.p99))} ms, ` +
        `max ${median(v.paced.map((x) => x.max))} ms, ${median(v.paced.map((x) => x.cpu)).toFixed(1)} µs CPU/req; p99 over rounds ${v.paced.map((x) => x.p99).join(' ')}`);
    }
  }
  if (engineV.batch.length > 0) {
    const wins = engineV.batch.filter((x, i) => x.rate > serveV.batch[i]!.rate).length;
    console.log(`engine ÷ serve per round, batches: verifies/s ${ratio((v) => v.batch, (x) => x.rate)} (higher in ${wins} of ${engineV.batch.length}), ` +
      `CPU per item ${ratio((v) => v.batch, (x) => x.cpu)}`);
  }
  if (engineV.paced.length > 0) {
    console.log(`engine ÷ serve per round, paced: p50 ${ratio((v) => v.paced, (x) => x.p50)}, p99 ${ratio((v) => v.paced, (x) => x.p99)}, ` +
      `CPU per request ${ratio((v) => v.paced, (x) => x.cpu)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// `isolated`: the engine thread's work alone, no HTTP, on this thread and on a worker in turn.

/**
 * `requests` 1,000-item bodies of fresh accounts as bytes, each decoded, parsed, validated,
 * verified (a new engine, store from empty) and serialised to bytes, one at a time: the median
 * and p90 ms per request.
 */
async function engineAlone(tag: string, requests: number): Promise<{ median: number; p90: number }> {
  const { requestBodies } = await import('../dist/bench/http-load.js');
  const { batchAnswer } = await import('../dist/server/serialize.js');
  const { engine, validate } = await makeEngine(4_000_000, 1000);
  const bodies = requestBodies('i', 1000, 20, Date.now());
  const times: number[] = [];
  for (let i = 0; i < requests; i++) {
    const raw = Buffer.from(bodies[i % bodies.length]!.replaceAll('"account":"user-', `"account":"${tag}x${i}-`));
    const t = performance.now();
    const body = JSON.parse(raw.toString('utf8')) as { items: never[] };
    if (!validate(body)) throw new Error('a generated body did not validate');
    const text = batchAnswer(await engine.verifier.verifyBatch(body.items))!;
    Buffer.allocUnsafeSlow(text.length).write(text, 'latin1');
    times.push(performance.now() - t);
  }
  await engine.close();
  times.sort((a, b) => a - b);
  return { median: times[times.length >> 1]!, p90: times[Math.floor(times.length * 0.9)]! };
}

async function isolated(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { rounds: { type: 'string' }, requests: { type: 'string' } } });
  const ROUNDS = Number(values.rounds ?? 6);
  const REQUESTS = Number(values.requests ?? 2000);
  const { formatMachine, machineInfo } = await import('../dist/bench/machine.js');
  console.log(formatMachine(machineInfo()));
  console.log(`the engine's work on ${REQUESTS} 1,000-item requests per side and round, main thread and worker in turn (order alternating), ${ROUNDS} rounds\n`);
  const onWorker = (tag: string): Promise<{ median: number; p90: number }> => new Promise((resolve, reject) => {
    const w = selfWorker({ role: 'isolated', tag, requests: REQUESTS });
    w.once('message', resolve);
    w.once('error', reject);
  });
  const ratios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const mainFirst = round % 2 === 0;
    const first = mainFirst ? await engineAlone(`m${round}`, REQUESTS) : await onWorker(`w${round}`);
    const second = mainFirst ? await onWorker(`w${round}`) : await engineAlone(`m${round}`, REQUESTS);
    const [main, worker] = mainFirst ? [first, second] : [second, first];
    ratios.push(worker.median / main.median);
    console.log(`round ${round + 1} (${mainFirst ? 'main' : 'worker'} first): main thread ${main.median.toFixed(3)} ms per request ` +
      `(p90 ${main.p90.toFixed(3)}), worker ${worker.median.toFixed(3)} (p90 ${worker.p90.toFixed(3)})`);
  }
  const sorted = [...ratios].sort((a, b) => a - b);
  console.log(`\nworker ÷ main thread per round: ${ratios.map((r) => r.toFixed(3)).join(' ')}; median ${sorted[sorted.length >> 1]!.toFixed(3)}`);
}
