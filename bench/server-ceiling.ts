// What bounds `totp-fleet serve`, measured in-process without sockets, one thread:
//
// 1. On 1,000-item batches: JSON.parse of the request body, and verifyBatch with the server's
//    default in-memory store (replay marks and failure counts) beside the stateless verifier
//    (store: null).
// 2. The server layer's own cost per request (routing, authentication, validation, metrics,
//    serialisation, logging), apart from the verifier's and the store's: fastify.inject against
//    a bare fastify route that parses the body and answers a constant (the baseline, same run),
//    the app over a stand-in engine that answers at once, and the app over the real engine.
//    CPU time per request, medians of rounds; the difference to the bare route is the server
//    layer's (app, stand-in engine) or the server's (app, real engine) own cost. inject adds
//    its own cost to every row alike, and no kernel time: the load test has those.
//
// 3. Parsing large bodies off the event-loop thread, before building it: what a parsing worker
//    would spend (JSON.parse, the items into columns, structured clone's serialisation) and what
//    the event-loop thread would still spend (deserialising the columns, rebuilding the items),
//    against the JSON.parse it spends now. postMessage clones with the same serializer as
//    v8.serialize/deserialize.
//
//   npm run build && flock /work/bench.lock node --import tsx bench/server-ceiling.ts

import { Writable } from 'node:stream';
import v8 from 'node:v8';
import Fastify, { type FastifyInstance } from 'fastify';
import { base32, totp, TotpVerifier } from '../src/index.js';
import { buildService } from '../src/server/app.js';
import { createEngine, type Engine } from '../src/server/engine.js';
import { resolveServerOptions } from '../src/server/options.js';
import { formatMachine, machineInfo } from '../dist/bench/machine.js';
import { standInEngine as standIn } from '../src/bench/stand-in.js';

const BATCH = 1000;
const BATCHES = 400;
const now = Date.now();
const secrets = Array.from({ length: 10_000 }, (_, i) => base32.encode(new Uint8Array(20).map((_, j) => (i * 31 + j * 7 + (i >> 8)) & 255)));
const codes = secrets.map((s) => totp.generate(s, { timestamp: now }));
let accounts = 0;
/** Items with fresh accounts: each takes the store's full path (valid, mark committed). */
const items = (n: number): { account: string; secret: string; code: string; timestamp: number }[] => Array.from({ length: n }, () => {
  const s = accounts % secrets.length;
  return { account: `user-${accounts++}@example.com`, secret: secrets[s]!, code: codes[s]!, timestamp: now };
});

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

console.log(formatMachine(machineInfo()));
for (const store of ['in-memory store', 'no store (stateless)'] as const) {
  const verifier = await TotpVerifier.create({ threads: 0, ...(store === 'in-memory store' ? {} : { store: null }) });
  const batches = Array.from({ length: BATCHES }, () => items(BATCH));
  const bodies = batches.map((b) => JSON.stringify({ items: b }));
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

// --- 2. The server layer per request ---

const TOKEN = 'ceiling-token-0123456789abcdef';
const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
const nowhere = new Writable({ write: (_chunk, _enc, cb) => cb() });
const opts = resolveServerOptions({ tokens: [TOKEN], logStream: nowhere });

/** An engine that answers every item at once: what is left is the server layer. */
const standInEngine = (): Engine => standIn(Math.floor(now / 30_000));

const APPS: [string, () => Promise<{ app: FastifyInstance; close(): Promise<void> }>][] = [
  ['baseline: bare fastify route', async () => {
    const app = Fastify();
    app.post('/v1/verify', async () => ({ status: 'valid', delta: 0, step: 1 }));
    return { app, close: () => app.close() };
  }],
  ['app, stand-in engine (server layer)', async () => {
    const { app } = buildService(opts, standInEngine());
    return { app, close: () => app.close() };
  }],
  ['app, real engine (in-memory store)', async () => {
    const engine = await createEngine({ redisUrl: undefined, redisPrefix: undefined, maxCredentials: 4_000_000, verifier: { threads: 0 }, policy: undefined });
    const { app } = buildService(opts, engine);
    return { app, close: async () => { await app.close(); await engine.close(); } };
  }],
];

console.log('\nper request, fastify.inject (no sockets), CPU time; medians of 7 rounds, the three taking turns in each:');
const apps = [];
for (const [name, make] of APPS) apps.push({ name, ...(await make()) });
for (const { app } of apps) await app.ready();
for (const [batch, requests] of [[1, 4000], [BATCH, 60]] as const) {
  const perRequest: number[][] = apps.map(() => []);
  const ratio: number[][] = apps.map(() => []);
  for (let round = 0; round < 8; round++) {
    const spent: number[] = [];
    for (const { name, app } of apps) {
      const bodies = Array.from({ length: requests }, () => JSON.stringify(batch === 1 ? items(1)[0] : { items: items(batch) }));
      const before = process.cpuUsage();
      for (const payload of bodies) {
        const res = await app.inject({ method: 'POST', url: '/v1/verify', headers, payload });
        if (res.statusCode !== 200) throw new Error(`${name}: ${res.statusCode}`);
      }
      const cpu = process.cpuUsage(before);
      spent.push((cpu.user + cpu.system) / requests);
    }
    if (round === 0) continue; // warm-up
    spent.forEach((us, i) => { perRequest[i]!.push(us); ratio[i]!.push(us / spent[0]!); });
  }
  const bare = median(perRequest[0]!);
  apps.forEach(({ name }, i) => {
    const m = median(perRequest[i]!);
    console.log(`  ${String(batch).padStart(4)} item(s), ${name}: ${m.toFixed(1)} µs (${(m / batch).toFixed(2)} µs per item)` +
      (i === 0 ? '' : `; ${median(ratio[i]!).toFixed(2)}x the bare route, +${(m - bare).toFixed(1)} µs`));
  });
}
for (const { close } of apps) await close();

// --- 3. Parsing off the event-loop thread ---

type Columns = { account: string[]; secret: string[]; code: string[]; timestamp: Float64Array };
const toColumns = (body: string): Columns => {
  const list = (JSON.parse(body) as { items: { account: string; secret: string; code: string; timestamp: number }[] }).items;
  return { account: list.map((x) => x.account), secret: list.map((x) => x.secret), code: list.map((x) => x.code), timestamp: Float64Array.from(list, (x) => x.timestamp) };
};
const fromColumns = (c: Columns): unknown[] => c.account.map((account, i) => ({ account, secret: c.secret[i], code: c.code[i], timestamp: c.timestamp[i] }));
const bodies = Array.from({ length: 100 }, () => JSON.stringify({ items: items(BATCH) }));
const cloned = bodies.map((b) => v8.serialize(toColumns(b)));
const ways: [string, (i: number) => unknown][] = [
  ['event-loop thread now: JSON.parse', (i) => JSON.parse(bodies[i]!)],
  ['event-loop thread with a parsing worker: deserialise columns, rebuild items', (i) => fromColumns(v8.deserialize(cloned[i]!) as Columns)],
  ['the parsing worker: JSON.parse, columns, serialise', (i) => v8.serialize(toColumns(bodies[i]!))],
];
const spentMs: number[][] = ways.map(() => []);
for (let round = 0; round < 8; round++) {
  ways.forEach(([, run], w) => {
    const before = process.cpuUsage();
    for (let i = 0; i < bodies.length; i++) run(i);
    const cpu = process.cpuUsage(before);
    if (round > 0) spentMs[w]!.push((cpu.user + cpu.system) / 1000 / bodies.length);
  });
}
console.log(`\nparsing a ${BATCH}-item body off the event-loop thread? CPU per request, medians of 7 rounds:`);
ways.forEach(([name], w) => console.log(`  ${name}: ${median(spentMs[w]!).toFixed(3)} ms`));
