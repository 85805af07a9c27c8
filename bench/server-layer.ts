// The server layer alone, over sockets: two or more builds' `buildService` (the real app: token
// check, body parsing, ajv validation, the route, metrics, serialisation, fastify and node's HTTP)
// over a stand-in engine that answers every item at once with one shared frozen `valid` result,
// as the verifier does for the matches of a step. Each build runs in a child process; autocannon
// sends each the same 1,000-item bodies in interleaved rounds (the order alternating), and each
// server's CPU time (/metrics) per request is read per round. Without the verifier and its
// growing store (page faults, garbage of its own) this resolves changes of a few percent in what
// the server layer costs, which bench/server-compare.ts, whose rounds move by ±10 % with the
// store's growth, does not.
//
//   npm run build && flock /work/bench.lock node --import tsx bench/server-layer.ts \
//     --variant base=OTHER --variant this=. [--rounds 8] [--requests 1500] [--batch 1000]
//
// A variant is NAME=DIR (a package root, built: DIR/dist/server/app.js). Servers get npm start's
// environment (SERVE_ENV), and LAYER_NODE_ARGS as node flags (e.g. "--cpu-prof --cpu-prof-dir=DIR").
// Bounded: (rounds + 1 warm-up) × variants × requests.

import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { generateToken, loadAutocannon, requestBodies, SERVE_ENV, serverCounters } from '../dist/bench/http-load.js';
import { formatMachine, machineInfo } from '../dist/bench/machine.js';

const { values } = parseArgs({
  options: { variant: { type: 'string', multiple: true }, rounds: { type: 'string' }, requests: { type: 'string' }, batch: { type: 'string' } },
});
const ROUNDS = Number(values.rounds ?? 8);
const REQUESTS = Number(values.requests ?? 1500);
const BATCH = Number(values.batch ?? 1000);
const CONNECTIONS = BATCH === 1 ? 16 : BATCH <= 100 ? 8 : 4;
/** This checkout's root: every build's server gets the same stand-in engine, this one's (src/bench/stand-in.ts). */
const SELF = resolve(import.meta.dirname, '..');

/** The child: DIR's app over a stand-in engine, listening on a free loopback port. */
const SERVER = `
  const [root, token, self] = process.argv.slice(1);
  const { buildService } = await import(root + '/dist/server/app.js');
  const { resolveServerOptions } = await import(root + '/dist/server/options.js');
  const { Writable } = await import('node:stream');
  const { standInEngine } = await import(self + '/dist/bench/stand-in.js');
  const engine = standInEngine(Math.floor(Date.now() / 30000));
  const logStream = new Writable({ write: (_chunk, _enc, cb) => cb() });
  const { app } = buildService(resolveServerOptions({ tokens: [token], logStream, logLevel: 'warn' }), engine);
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  process.stdout.write('listening on ' + address + '\\n');
  process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
`;

interface Variant { name: string; root: string; child?: ChildProcess; url?: string; cpu: number[] }

const variants: Variant[] = (values.variant ?? []).map((spec) => {
  const eq = spec.indexOf('=');
  if (eq < 1) throw new Error(`--variant ${spec}: expected NAME=DIR`);
  return { name: spec.slice(0, eq), root: resolve(spec.slice(eq + 1)), cpu: [] };
});
if (variants.length < 2) throw new Error('give at least two --variant NAME=DIR');
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

const token = generateToken();
console.log(formatMachine(machineInfo()));
console.log(`${ROUNDS} rounds × ${variants.length} variants × ${REQUESTS} requests of ${BATCH} items, stand-in engine, ${CONNECTIONS} connections\n`);
const autocannon = await loadAutocannon();
const bodies = requestBodies('l', BATCH, Math.max(8, Math.ceil(20_000 / BATCH)), Date.now());
try {
  for (const v of variants) {
    const nodeArgs = (process.env['LAYER_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...nodeArgs, '--input-type=module', '-e', SERVER, v.root, token, SELF], {
      env: { ...process.env, ...SERVE_ENV }, stdio: ['ignore', 'pipe', 'inherit'],
    });
    v.child = child;
    v.url = await new Promise<string>((done, fail) => {
      let out = '';
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /listening on (\S+)/.exec(out);
        if (m !== null) done(m[1]!);
      });
      child.once('exit', (code) => fail(new Error(`${v.name}: the server exited (${code}) before listening`)));
    });
  }
  for (let round = 0; round <= ROUNDS; round++) {
    for (const v of round % 2 === 0 ? variants : [...variants].reverse()) {
      let sent = 0;
      const before = await serverCounters(v.url!, token);
      const result = await autocannon({
        url: v.url + '/v1/verify', method: 'POST', connections: CONNECTIONS, amount: REQUESTS,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        requests: [{ setupRequest: (req) => ({ ...req, body: bodies[sent++ % bodies.length] }) }],
      });
      const after = await serverCounters(v.url!, token);
      const valid = (after['valid'] ?? 0) - (before['valid'] ?? 0);
      if (result.non2xx > 0 || result.errors > 0 || valid !== REQUESTS * BATCH) {
        throw new Error(`${v.name}: ${result.non2xx} non-2xx, ${result.errors} errors, ${valid} valid of ${REQUESTS * BATCH}`);
      }
      const us = ((after['cpu']! - before['cpu']!) / REQUESTS) * 1e6;
      if (round > 0) v.cpu.push(us);
      console.log(`round ${round} ${v.name.padEnd(12)} server CPU ${us.toFixed(0)} µs per request (${(us / BATCH).toFixed(3)} µs per item)${round === 0 ? ' (warm-up)' : ''}`);
    }
  }
} finally {
  for (const v of variants) v.child?.kill('SIGTERM');
}
console.log('');
const first = variants[0]!;
for (const v of variants) {
  const ratio = v.cpu.map((us, i) => us / first.cpu[i]!);
  console.log(`${v.name.padEnd(12)} median ${median(v.cpu).toFixed(0)} µs per request (${(median(v.cpu) / BATCH).toFixed(3)} µs per item)` +
    (v === first ? '' : `; ÷ ${first.name}: median ${median(ratio).toFixed(3)} over ${ratio.length} rounds, lower in ${ratio.filter((r) => r < 1).length}`));
}
