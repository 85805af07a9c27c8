// The HTTP service in-process, over real loopback sockets: results, authentication, request
// validation, limits and metrics. Every log line written during these requests is captured
// and searched for the secrets, codes and tokens they carried.

import diagnostics_channel from 'node:diagnostics_channel';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AUDIT_CHANNEL, totp } from '../src/index.js';
import type { AuditEvent } from '../src/policy/audit.js';
import { TotpFleetError } from '../src/errors.js';
import { buildService } from '../src/server/app.js';
import type { Engine } from '../src/server/engine.js';
import type { VerifyRequest, VerifyResult } from '../src/verifier.js';
import { resolveServerOptions } from '../src/server/options.js';
import { type RunningServer, startServer } from '../src/server/server.js';
import { KEY_B32 } from './helpers/fixtures.js';
import { authed, inProcess, LogCapture, OTHER_TOKEN, post, TOKEN } from './helpers/server.js';

const NOW = Date.now();
const realSetInterval = globalThis.setInterval;
const realClearInterval = globalThis.clearInterval;
const CODE = totp.generate(KEY_B32, { timestamp: NOW });
const OLD = totp.generate(KEY_B32, { timestamp: NOW - 30_000 });
// A code that is valid at no step near NOW (checked below), and a second secret.
const WRONG = String((Number(CODE) + 500_000) % 1_000_000).padStart(6, '0');
const SECRET2 = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
// Each item a new account unless told: the server keeps replay marks and failure counts.
let accounts = 0;
const item = (code: string, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ account: `user${++accounts}@example.com`, secret: KEY_B32, code, timestamp: NOW, ...extra });

let server: RunningServer;
let logs: LogCapture;
let url: string;

beforeAll(async () => {
  // With the access log: its lines are searched for secrets too (afterAll).
  ({ server, logs } = await inProcess({ maxBatch: 50, bodyLimit: 16_384, policy: { maxFailures: 3 }, accessLog: true }));
  url = server.url;
});
afterAll(async () => {
  await server.close();
  // Nothing any request carried shows up in a log line, whatever the request's fate.
  expect(logs.lines().length).toBeGreaterThan(20);
  for (const secretish of [KEY_B32, SECRET2, CODE, OLD, WRONG, TOKEN, OTHER_TOKEN, 'not-the-token-0123456789']) {
    expect(logs.text).not.toContain(secretish);
  }
});

describe('POST /v1/verify', () => {
  it('answers one item with one result', async () => {
    expect(totp.generate(KEY_B32, { timestamp: NOW + 30_000 })).not.toBe(WRONG);
    const r = await post(url, item(CODE));
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/json/);
    expect(r.json).toEqual({ status: 'valid', delta: 0, step: Math.floor(NOW / 30_000) });
  });

  it('answers a batch in order, bad items as results beside good ones', async () => {
    const r = await post(url, {
      items: [
        item(WRONG), item(OLD), item('12 345'), item(CODE, { secret: 'not*base32' }), item(CODE, { account: 'bob', timestamp: undefined }),
        { account: 'carol', secret: SECRET2, code: totp.generate(SECRET2, { timestamp: NOW }), timestamp: NOW },
      ],
    });
    expect(r.status).toBe(200);
    expect(r.json.results.map((x: { status: string }) => x.status)).toEqual(['invalid', 'valid', 'malformed', 'malformed', 'valid', 'valid']);
    expect(r.json.results[1].delta).toBe(-1);
    expect(r.json.results.slice(2, 4).map((x: { reason: string }) => x.reason)).toEqual(['code', 'secret-encoding']);
    // Nothing of the request is echoed.
    expect(JSON.stringify(r.json)).not.toContain(KEY_B32);
    expect(JSON.stringify(r.json)).not.toContain(CODE);
  });

  it('refuses wrong types, unknown fields and empty or oversized batches with 400, naming where', async () => {
    const cases: [unknown, RegExp][] = [
      [item(123456 as unknown as string), /^code must be string$/],
      [item(CODE, { timestamp: '1700000000000' }), /^timestamp must be integer$/],
      [item(CODE, { timestamp: -1 }), /^timestamp must be at least 0$/],
      [item(CODE, { secret: 42 }), /^secret must be string$/],
      [{ account: 'a', secret: KEY_B32 }, /"code" is required/],
      [item(CODE, { [KEY_B32]: CODE }), /^body: unknown field \(allowed: /],
      [{ items: [item(CODE), item(CODE, { code: null })] }, /^items\/1\/code must be string$/],
      [{ items: [] }, /at least one item/],
      [{ items: Array.from({ length: 51 }, () => item(CODE)) }, /at most 50 items per request/],
      [[item(CODE)], /^body must be object$/],
      [item(CODE, { account: '' }), /^account must not be empty$/],
    ];
    for (const [body, message] of cases) {
      const r = await post(url, body);
      expect(r.status, JSON.stringify(body).slice(0, 80)).toBe(400);
      expect(r.json.error).toBe('invalid-request');
      expect(r.json.message).toMatch(message);
      expect(JSON.stringify(r.json)).not.toContain(KEY_B32);
      expect(JSON.stringify(r.json)).not.toContain(CODE);
    }
  });

  it("answers a code of any length as a result ('malformed' when too long), never by refusing the whole batch", async () => {
    // What a user types goes into `code`: one user's long paste must not cost the other items their answers (R4, R12).
    const long = '1'.repeat(33);
    const r = await post(url, { items: [item(CODE), item(long), item(`${CODE} ${'x'.repeat(200)}`)] });
    expect(r.status).toBe(200);
    expect(r.json.results).toEqual([expect.objectContaining({ status: 'valid' }), { status: 'malformed', reason: 'code' }, { status: 'malformed', reason: 'code' }]);
    expect((await post(url, item(long))).json).toEqual({ status: 'malformed', reason: 'code' });
  });

  it('refuses malformed JSON without quoting it, oversized bodies with 413, other media types with 415', async () => {
    const broken = `{"account":"a","secret":"${KEY_B32}","code":"${CODE}"`;
    for (const body of [broken, `{"code": ${CODE}x}`, '', '{"__proto__": {"x": 1}, "account": "a"}']) {
      const r = await post(url, body);
      expect(r.status).toBe(400);
      expect(JSON.stringify(r.json)).not.toContain(KEY_B32);
      expect(JSON.stringify(r.json)).not.toContain(CODE);
    }
    expect((await post(url, broken)).json).toEqual({ statusCode: 400, error: 'invalid-json', message: 'the body is not valid JSON' });
    const huge = await post(url, { items: [item(CODE, { secret: 'A'.repeat(20_000) })] });
    expect(huge.status).toBe(413);
    expect(huge.json.error).toBe('body-too-large');
    const text = await post(url, JSON.stringify(item(CODE)), { ...authed(), 'content-type': 'text/plain' });
    expect(text.status).toBe(415);
  });

  it('needs a bearer token: 401 with a challenge when it is missing or wrong', async () => {
    const missing = await post(url, item(CODE), { 'content-type': 'application/json' });
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="totp-fleet"');
    for (const authorization of ['Bearer not-the-token-0123456789', `Basic ${TOKEN}`, `Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, 'Bearer']) {
      const r = await post(url, item(CODE), { authorization, 'content-type': 'application/json' });
      expect(r.status, authorization.slice(0, 12)).toBe(401);
      expect(r.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
    }
    // Every configured token works; the scheme is case-insensitive.
    expect((await post(url, item(CODE), authed(OTHER_TOKEN))).status).toBe(200);
    expect((await post(url, item(CODE), { authorization: `bearer ${TOKEN}`, 'content-type': 'application/json' })).status).toBe(200);
    // Refused before the body is read or validated: no 400 for a bad body without a token.
    expect((await post(url, '{nope', { 'content-type': 'application/json' })).status).toBe(401);
  });

  it('answers 404 for unknown routes, and needs the token for /metrics and /v1/clock', async () => {
    expect((await fetch(url + '/v1/nope')).status).toBe(404);
    expect((await fetch(url + '/metrics')).status).toBe(401);
    expect((await fetch(url + '/v1/clock')).status).toBe(401);
  });
});

describe('URLs fastify cannot decode', () => {
  it('answer 400 in the service\'s own error shape, without quoting the URL', async () => {
    const path = `/v1/verify/${CODE}%zz`;
    const res = await fetch(url + path, { method: 'POST', headers: authed(), body: '{}' });
    const body = await res.text();
    expect(res.status).toBe(400);
    expect(body).not.toContain(CODE);
    expect(JSON.parse(body)).toEqual({ statusCode: 400, error: 'bad-request', message: 'Bad Request' });
  });

  it('are counted in the metrics by status, under no route, and the URL shows nowhere', async () => {
    const scrape = async (): Promise<string> => (await fetch(url + '/metrics', { headers: authed() })).text();
    const answered = (text: string): number =>
      Number(/^totp_fleet_http_request_duration_seconds_count\{route="unmatched",status_code="400"\} (\d+)/m.exec(text)?.[1] ?? 0);
    const logged = (): number => {
      server.service.logger.flush();
      return logs.lines().filter((l) => l.msg === 'request' && l.route === 'unmatched' && l.statusCode === 400).length;
    };
    const before = await scrape();
    const linesBefore = logged();
    for (const method of ['GET', 'POST']) {
      const res = await fetch(`${url}/v1/verify/${CODE}%zz?token=${OTHER_TOKEN}`, { method, headers: authed(), ...(method === 'POST' ? { body: '{}' } : {}) });
      expect(res.status).toBe(400);
      await res.text();
    }
    const after = await scrape();
    expect(answered(after) - answered(before)).toBe(2);
    expect(after).not.toContain('%zz');
    expect(after).not.toContain(CODE);
    // The access log (on for this server) has its line per request too, without the URL.
    expect(logged() - linesBefore).toBe(2);
    expect(logs.text).not.toContain('%zz');
  });
});

describe('requests the HTTP parser refuses', () => {
  it('are counted by the status they were answered with (they never reach a route)', async () => {
    const scrape = async (): Promise<string> => (await fetch(url + '/metrics', { headers: authed() })).text();
    const refused = (text: string, status: string): number =>
      Number(new RegExp(`^totp_fleet_http_client_errors_total\\{status_code="${status}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
    const raw = (request: string, port = server.port): Promise<string> => new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1', () => socket.write(request));
      let text = '';
      socket.on('data', (d: Buffer) => { text += d.toString(); });
      socket.on('close', () => resolve(text));
      socket.on('error', () => resolve(text));
    });
    const before = await scrape();
    const twoLengths = await raw(`POST /v1/verify HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}`);
    const hugeHeader = await raw(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(twoLengths).toMatch(/^HTTP\/1\.1 400 /);
    expect(hugeHeader).toMatch(/^HTTP\/1\.1 431 /);
    const after = await scrape();
    expect(refused(after, '400') - refused(before, '400')).toBe(1);
    expect(refused(after, '431') - refused(before, '431')).toBe(1);

    // Not sent whole within requestTimeoutMs: the headers, or the body, never finished.
    const slow = await inProcess({ requestTimeoutMs: 200 });
    try {
      const head = `POST /v1/verify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\n`;
      expect(await raw(head, slow.server.port)).toMatch(/^HTTP\/1\.1 408 /);
      expect(await raw(`${head}Content-Length: 100\r\n\r\n{"account"`, slow.server.port)).toMatch(/^HTTP\/1\.1 408 /);
      const text = await (await fetch(slow.server.url + '/metrics', { headers: authed() })).text();
      expect(refused(text, '408')).toBe(2);
    } finally {
      await slow.server.close();
    }
  });
});

describe('shutdown with drainDelayMs (time for a load balancer to take the server out)', () => {
  it('keeps accepting and answering with /readyz red and Connection: close for the delay, then refuses connections', async () => {
    const own = await inProcess({ drainDelayMs: 600 });
    const base = own.server.url;
    expect((await fetch(base + '/readyz')).status).toBe(200);
    const started = performance.now();
    const closed = own.server.close();
    // During the delay: red for the load balancer, yet new connections (fetch opens fresh ones
    // here) are accepted and verified, each told to close.
    const ready = await fetch(base + '/readyz');
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ status: 'draining' });
    const r = await post(base, item(CODE));
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({ status: 'valid' });
    expect(r.headers.get('connection')).toBe('close');
    await closed;
    expect(performance.now() - started).toBeGreaterThanOrEqual(590);
    // After it: no longer listening.
    await expect(fetch(base + '/readyz')).rejects.toThrow();
  });

  it('without a delay (the default) stops listening at once', async () => {
    const own = await inProcess({});
    const base = own.server.url;
    await own.server.close();
    await expect(fetch(base + '/readyz')).rejects.toThrow();
  });

  it('refuses a delay outside 0..600000 ms', async () => {
    await expect(startServer({ port: 0, tokens: [TOKEN], drainDelayMs: -1 })).rejects.toThrow(RangeError);
    await expect(startServer({ port: 0, tokens: [TOKEN], drainDelayMs: 600_001 })).rejects.toThrow(/"drainDelayMs" expected/);
  });
});

describe('replay protection and lockout (in-memory store)', () => {
  it('answers concurrent batches each with its own results, in waves that reuse the answer buffers', async () => {
    // A server of its own: its valid codes would feed the shared server's clock-health samples.
    const own = await inProcess({ maxBatch: 50 });
    const step = Math.floor(NOW / 30_000);
    const kinds = [
      { code: CODE, result: { status: 'valid', delta: 0, step } },
      { code: WRONG, result: { status: 'invalid' } },
      { code: '12 345', result: { status: 'malformed', reason: 'code' } },
    ];
    for (let wave = 0; wave < 3; wave++) {
      const answers = await Promise.all(Array.from({ length: 40 }, async (_, k) => {
        const pattern = Array.from({ length: 50 }, (_, i) => kinds[(i * (k % 5 + 1) + k + wave) % 3]!);
        const r = await post(own.server.url, { items: pattern.map((x) => item(x.code)) });
        return { r, expected: { results: pattern.map((x) => x.result) } };
      }));
      for (const { r, expected } of answers) {
        expect(r.status).toBe(200);
        expect(r.json).toEqual(expected);
      }
    }
    await own.server.close();
  });

  it("accepts a code once per account: the second use is 'replayed', also inside one batch", async () => {
    const first = await post(url, item(CODE, { account: 'replay@example.com' }));
    expect(first.json.status).toBe('valid');
    expect((await post(url, item(CODE, { account: 'replay@example.com' }))).json).toEqual({ status: 'replayed' });
    // An older code after a newer one is refused too (high-water mark).
    expect((await post(url, item(OLD, { account: 'replay@example.com' }))).json.status).toBe('replayed');
    const batch = await post(url, { items: [item(CODE, { account: 'twice@example.com' }), item(CODE, { account: 'twice@example.com' })] });
    expect(batch.json.results.map((r: { status: string }) => r.status)).toEqual(['valid', 'replayed']);
  });

  it("locks an account after maxFailures wrong codes, without evaluating its code", async () => {
    const wrong = { items: Array.from({ length: 3 }, () => item(WRONG, { account: 'guess@example.com' })) };
    expect((await post(url, wrong)).json.results.map((r: { status: string }) => r.status)).toEqual(['invalid', 'invalid', 'invalid']);
    const locked = await post(url, item(CODE, { account: 'guess@example.com' }));
    expect(locked.json.status).toBe('locked');
    expect(locked.json.retryAfterMs).toBeGreaterThan(0);
    const metrics = await (await fetch(url + '/metrics', { headers: authed() })).text();
    expect(metrics).toMatch(/^totp_fleet_verifications_total\{status="locked"\} [1-9]/m);
    expect(metrics).toMatch(/^totp_fleet_lockouts_total [1-9]/m);
  });

  it('/v1/clock reports the clock-health summary', async () => {
    const r = await fetch(url + '/v1/clock', { headers: authed() });
    expect(r.status).toBe(200);
    const clock = await r.json() as Record<string, unknown>;
    expect(clock).toMatchObject({ status: 'insufficient-data', samples: expect.any(Number), offsetSeconds: expect.any(Number) });
    expect(typeof clock.message).toBe('string');
  });
});

describe('health and metrics', () => {
  it('/healthz runs the engine self-test and the store probe; /readyz is green', async () => {
    const h = await fetch(url + '/healthz');
    expect(h.status).toBe(200);
    expect(await h.json()).toEqual({ status: 'ok', engine: 'ok', store: 'ok' });
    const r = await fetch(url + '/readyz');
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ status: 'ready' });
  });

  it('/metrics counts verifications by status, batch sizes, latency, queue depth, restarts, store errors, clock', async () => {
    const before = await (await fetch(url + '/metrics', { headers: authed() })).text();
    const count = (text: string, status: string): number =>
      Number(new RegExp(`^totp_fleet_verifications_total\\{status="${status}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
    await post(url, { items: [item(CODE), item(WRONG), item(WRONG), item('x')] });
    const res = await fetch(url + '/metrics', { headers: authed() });
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(count(text, 'valid') - count(before, 'valid')).toBe(1);
    expect(count(text, 'invalid') - count(before, 'invalid')).toBe(2);
    expect(count(text, 'malformed') - count(before, 'malformed')).toBe(1);
    for (const name of [
      'totp_fleet_verify_batch_size_bucket{le="5"}', 'totp_fleet_http_request_duration_seconds_bucket',
      'totp_fleet_pool_queue_depth 0', 'totp_fleet_worker_restarts_total 0', 'totp_fleet_store_up 1',
      'totp_fleet_clock_status{status="ok"}', 'totp_fleet_http_auth_failures_total{reason="missing"}',
      'totp_fleet_process_cpu_seconds_total', 'totp_fleet_batcher_batches_total',
    ]) expect(text).toContain(name);
    expect(text).not.toContain(KEY_B32);
    expect(text).not.toContain('@example.com');
  });
});

// A stand-in for the verifier and store whose answers the test controls: overload, a store
// outage and its recovery, without waiting for real ones.
function fakeEngine(): { engine: Engine; state: { storeUp: boolean; overloaded: boolean; answer?: VerifyResult } } {
  const state: { storeUp: boolean; overloaded: boolean; answer?: VerifyResult } = { storeUp: true, overloaded: false };
  const real = { stats: () => ({ keyCache: { size: 0, capacity: 0, hits: 0, misses: 0, evictions: 0 }, keyHandles: 0,
    pool: { threads: 0, inFlight: 0, chunksInline: 0, chunksPooled: 0, chunksRetried: 0, chunksFailed: 0, workerFailures: 0 },
    batcher: { queued: 0, running: 0, batches: 0 },
    policy: { valid: 0, invalid: 0, replayed: 0, locked: 0, storeErrors: 0, lockouts: 0 } }) };
  const verifier = {
    ...real,
    verifyBatch: async (items: unknown[]) => {
      if (state.overloaded) throw new TotpFleetError('ERR_OVERLOADED', 'overloaded');
      return items.map(() => state.answer ?? (state.storeUp ? { status: 'invalid' } : { status: 'error', reason: 'store' }));
    },
    verify: async () => state.answer ?? { status: 'invalid' },
  };
  const engine: Engine = {
    verifier: verifier as unknown as Engine['verifier'],
    storeName: 'fake',
    storeHealth: async () => { if (!state.storeUp) throw new TotpFleetError('ERR_CLOSED', 'down'); },
    clock: () => ({ status: 'server-behind', offsetSeconds: 42, stderrSeconds: 3, samples: 120, thresholdSeconds: 10, message: 'the server clock is behind' }),
    close: async () => {},
  };
  return { engine, state };
}

describe('engine failures (a stand-in engine, fastify.inject)', () => {

  it('overload is 503 with Retry-After; a store outage turns readiness red and items into error, then recovers', async () => {
    const { engine, state } = fakeEngine();
    const logs = new LogCapture();
    const service = buildService(resolveServerOptions({ tokens: [TOKEN], logStream: logs }), engine);
    const { app } = service;
    const verify = (): Promise<{ statusCode: number; json(): any; headers: Record<string, unknown> }> =>
      app.inject({ method: 'POST', url: '/v1/verify', headers: authed(), payload: { items: [item(CODE), item(CODE)] } }) as never;
    try {
      state.overloaded = true;
      const busy = await verify();
      expect(busy.statusCode).toBe(503);
      expect(busy.headers['retry-after']).toBe('1');
      expect(busy.json().error).toBe('overloaded');
      state.overloaded = false;

      state.storeUp = false;
      const failed = await verify();
      expect(failed.statusCode).toBe(200);
      expect(failed.json().results).toEqual([{ status: 'error', reason: 'store' }, { status: 'error', reason: 'store' }]);
      // The failed items probe the store at once; the failed probe turns readiness red.
      await expect.poll(async () => (await app.inject({ url: '/readyz' })).statusCode, { timeout: 2000 }).toBe(503);
      const health = await app.inject({ url: '/healthz' });
      expect(health.statusCode).toBe(503);
      expect(health.json()).toEqual({ status: 'fail', engine: 'ok', store: 'fail' });
      const metrics = (await app.inject({ url: '/metrics', headers: authed() })).body;
      expect(metrics).toMatch(/^totp_fleet_store_errors_total\{source="verify"\} 2$/m);
      // Two failed probes: the one the failed items started, and /healthz's.
      expect(metrics).toMatch(/^totp_fleet_store_errors_total\{source="probe"\} 2$/m);
      expect(metrics).toMatch(/^totp_fleet_store_up 0$/m);
      expect(metrics).toMatch(/^totp_fleet_clock_offset_seconds 42$/m);
      expect(metrics).toMatch(/^totp_fleet_clock_status\{status="server-behind"\} 1$/m);

      state.storeUp = true; // the outage ends: the background probe notices by itself
      service.startProbes();
      await expect.poll(async () => (await app.inject({ url: '/readyz' })).statusCode, { timeout: 10_000 }).toBe(200);
      expect((await verify()).json().results[0].status).toBe('invalid');
      const clock = await app.inject({ url: '/v1/clock', headers: authed() });
      expect(clock.json()).toMatchObject({ status: 'server-behind', offsetSeconds: 42, samples: 120 });
    } finally {
      service.stopProbes();
      await app.close();
    }
    expect(logs.text).toMatch(/"msg":"store unavailable"/);
    expect(logs.text).toMatch(/"msg":"store reachable again"/);
    expect(logs.text).not.toContain(KEY_B32);
    expect(logs.text).not.toContain(CODE);
  });

  it('a full in-memory store (new accounts get error) leaves readiness green: the store answers its probe', async () => {
    // Items that fail on the store probe it at once; only a probe that fails turns /readyz red.
    // A full MemoryStore still answers (and serves the accounts it holds): red readiness would
    // take the server out of its load balancer on every new account, and back in a probe later.
    const { server: full, logs: fullLogs } = await inProcess({ maxCredentials: 2, healthIntervalMs: 60_000 });
    try {
      const r = await post(full.url, { items: [1, 2, 3].map((i) => ({ account: `full-${i}`, secret: KEY_B32, code: WRONG, timestamp: NOW })) });
      expect(r.json.results).toEqual([{ status: 'invalid' }, { status: 'invalid' }, { status: 'error', reason: 'store' }]);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const ready = await fetch(full.url + '/readyz');
      expect(ready.status).toBe(200);
      const metrics = await (await fetch(full.url + '/metrics', { headers: authed() })).text();
      expect(metrics).toMatch(/^totp_fleet_store_errors_total\{source="verify"\} 1$/m);
      expect(metrics).toMatch(/^totp_fleet_store_up 1$/m);
    } finally {
      await full.close();
    }
    expect(fullLogs.text).not.toMatch(/"msg":"store unavailable"/);
  });

  it('an unexpected error is a 500 whose log line has the stack frames, never the message (not even a multi-line one)', async () => {
    const { engine } = fakeEngine();
    engine.verifier.verifyBatch = async (items: readonly VerifyRequest[]) => {
      throw new TypeError(`cannot verify\n    code ${items[0]!.code}\n    at ${items[0]!.secret}`);
    };
    const logs = new LogCapture();
    const service = buildService(resolveServerOptions({ tokens: [TOKEN], logStream: logs }), engine);
    try {
      const r = await service.app.inject({ method: 'POST', url: '/v1/verify', headers: authed(), payload: { items: [item(CODE)] } });
      expect(r.statusCode).toBe(500);
      expect(r.json()).toEqual({ statusCode: 500, error: 'internal', message: 'internal error' });
    } finally {
      await service.close();
    }
    const line = logs.lines().find((l) => l.msg === 'internal error');
    expect(line).toMatchObject({ errorType: 'TypeError', stack: expect.stringMatching(/^ {4}at /) });
    expect(String(line!.stack).split('\n').every((frame) => /^ {4}at /.test(frame))).toBe(true);
    expect(logs.text).not.toContain(CODE);
    expect(logs.text).not.toContain(KEY_B32);
    expect(logs.text).not.toContain('cannot verify');
  });

  it('unauthenticated /healthz calls at once share one store probe (no store script per open request)', async () => {
    const { engine } = fakeEngine();
    let probes = 0;
    engine.storeHealth = async () => {
      probes++;
      await new Promise((resolve) => setTimeout(resolve, 50));
    };
    const { app } = buildService(resolveServerOptions({ tokens: [TOKEN], logStream: new LogCapture() }), engine);
    try {
      const answers = await Promise.all(Array.from({ length: 50 }, () => app.inject({ method: 'GET', url: '/healthz' })));
      expect(answers.map((a) => a.statusCode)).toEqual(Array(50).fill(200));
      expect(probes).toBe(1);
    } finally {
      await app.close();
    }
  });

  it('answers carry every field of a result (the response schema drops fields it does not name)', async () => {
    const { engine, state } = fakeEngine();
    // Typed Required<VerifyResult>: a field added to VerifyResult fails the typecheck here
    // until it is added to this result, and then this test until it is in the response schema.
    const full: Required<VerifyResult> = { status: 'locked', delta: -1, step: 57_000_001, reason: 'store', retryAfterMs: 12_345, rotate: true };
    state.answer = full;
    const { app } = buildService(resolveServerOptions({ tokens: [TOKEN], logStream: new LogCapture() }), engine);
    try {
      const one = await app.inject({ method: 'POST', url: '/v1/verify', headers: authed(), payload: item(CODE) });
      expect(one.json()).toEqual(full);
      expect(one.headers['content-type']).toBe('application/json; charset=utf-8');
      const many = await app.inject({ method: 'POST', url: '/v1/verify', headers: authed(), payload: { items: [item(CODE), item(CODE)] } });
      expect(many.json()).toEqual({ results: [full, full] });
      state.answer = { status: 'valid', delta: 0, step: 3 };
      expect((await app.inject({ method: 'POST', url: '/v1/verify', headers: authed(), payload: item(CODE) })).body).toBe('{"status":"valid","delta":0,"step":3}');
    } finally {
      await app.close();
    }
  });
});

describe('logging', () => {
  it('by default logs no line per request, and errors still; the access log adds one line per request', async () => {
    const { engine } = fakeEngine();
    for (const accessLog of [false, true]) {
      const logs = new LogCapture();
      const { app, logger } = buildService(resolveServerOptions({ tokens: [TOKEN], logStream: logs, accessLog }), engine);
      try {
        for (let i = 0; i < 3; i++) expect((await app.inject({ method: 'POST', url: '/v1/verify', headers: authed(), payload: item(CODE) })).statusCode).toBe(200);
        // A client error fastify raises itself (a Content-Length that does not match the body).
        const bad = await app.inject({ method: 'POST', url: '/v1/verify', headers: { ...authed(), 'content-length': '999' }, payload: '{}' });
        expect(bad.statusCode).toBe(400);
      } finally {
        await app.close();
      }
      logger.flush();
      const requests = logs.lines().filter((l) => l.msg === 'request');
      const errors = logs.lines().filter((l) => l.msg === 'client error');
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ reqId: expect.any(String), errorCode: expect.any(String) });
      if (!accessLog) {
        expect(requests).toHaveLength(0);
      } else {
        expect(requests).toHaveLength(4);
        expect(requests[0]).toMatchObject({ reqId: expect.any(String), method: 'POST', route: '/v1/verify', statusCode: 200, batch: 1 });
        expect(requests[3]).toMatchObject({ statusCode: 400 });
      }
    }
  });


  it('never logs the raw bytes of a request the HTTP parser refused, even at level trace (token, code, secret)', async () => {
    // Node's parser errors carry `rawPacket`, the bytes read so far; fastify logs the error at
    // trace, and pino's err serializer copies every enumerable field of it.
    const { server: traced, logs: traceLogs } = await inProcess({ logLevel: 'trace' });
    try {
      const request = `POST /v1/verify HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Type: application/json\r\n` +
        `Content-Length: 10\r\nContent-Length: 11\r\n\r\n{"code":1}`;
      const answer = await new Promise<string>((resolve) => {
        const socket = connect(traced.port, '127.0.0.1', () => socket.write(request));
        let text = '';
        socket.on('data', (d: Buffer) => { text += d.toString(); });
        socket.on('close', () => resolve(text));
        socket.on('error', () => resolve(text));
      });
      expect(answer).toMatch(/^HTTP\/1\.1 400/);
    } finally {
      await traced.close();
    }
    expect(traceLogs.text).toMatch(/client error/);
    // Buffers are logged as lists of byte values: decode every such list and search it too.
    const decoded = [...traceLogs.text.matchAll(/"data":\[([\d,]*)\]/g)].map((m) => Buffer.from(m[1]!.split(',').map(Number)).toString('latin1')).join('\n');
    expect(decoded + traceLogs.text).not.toContain(TOKEN);
    expect(traceLogs.text).not.toContain('rawPacket');
  });

  it('redacts secret-bearing fields should anything log them (the net under "never log request data")', () => {
    server.service.logger.info({ secret: KEY_B32, code: CODE, authorization: `Bearer ${TOKEN}`, body: { secret: KEY_B32 } }, 'net');
    server.service.logger.flush();
    const line = logs.lines().find((l) => l.msg === 'net');
    expect(line).toMatchObject({ secret: '[redacted]', code: '[redacted]', authorization: '[redacted]', body: '[redacted]' });
  });
});

describe('audit log', () => {
  it('logs one line per stateful item with the account and outcome, never the code or the secret', async () => {
    const { server: audited, logs: auditLogs } = await inProcess({ auditLog: true });
    try {
      const r = await post(audited.url, { items: [item(CODE, { account: 'audit-ok@example.com' }), item(WRONG, { account: 'audit-bad@example.com' })] });
      expect(r.json.results.map((x: { status: string }) => x.status)).toEqual(['valid', 'invalid']);
    } finally {
      await audited.close();
    }
    const audit = auditLogs.lines().filter((l) => l.msg === 'audit');
    expect(audit).toEqual(expect.arrayContaining([
      expect.objectContaining({ type: 'valid', account: 'audit-ok@example.com', delta: 0 }),
      expect.objectContaining({ type: 'invalid', account: 'audit-bad@example.com' }),
    ]));
    expect(auditLogs.text).not.toContain(CODE);
    expect(auditLogs.text).not.toContain(WRONG);
    expect(auditLogs.text).not.toContain(KEY_B32);
  });

  it('still logs the items the engine answers while it closes (connections cut at the drain timeout), then lets go', async () => {
    const { engine } = fakeEngine();
    const audit = diagnostics_channel.channel(AUDIT_CHANNEL);
    // An item decided while the verifier closes: its event comes after the app has closed.
    engine.close = async () => {
      audit.publish({ type: 'valid', account: 'late@example.com', verifier: 'v', time: Date.now(), delta: 0 } satisfies AuditEvent);
    };
    const logs = new LogCapture();
    const service = buildService(resolveServerOptions({ tokens: [TOKEN], logStream: logs, auditLog: true }), engine);
    expect(audit.hasSubscribers).toBe(true);
    await service.close();
    expect(audit.hasSubscribers).toBe(false);
    expect(logs.lines().filter((l) => l.msg === 'audit')).toEqual([expect.objectContaining({ type: 'valid', account: 'late@example.com' })]);
  });
});

describe('a start that fails', () => {
  it('releases what the service took (engine, audit subscription, timers): port taken, unusable TLS key', async () => {
    const audit = diagnostics_channel.channel(AUDIT_CHANNEL);
    expect(audit.hasSubscribers).toBe(false);
    // Every interval set during a failed start must have been cleared by the time it rejects.
    const open = new Set<unknown>();
    const set = vi.spyOn(globalThis, 'setInterval').mockImplementation(((...args: Parameters<typeof setInterval>) => {
      const timer = realSetInterval(...args);
      open.add(timer);
      return timer;
    }) as typeof setInterval);
    const cleared = vi.spyOn(globalThis, 'clearInterval').mockImplementation((timer) => {
      open.delete(timer);
      realClearInterval(timer);
    });
    // No logStream: the service makes its own stdout destination and its flush timer.
    const base = { tokens: [TOKEN], auditLog: true, logLevel: 'silent' } as const;
    const failures: [Parameters<typeof startServer>[0], object][] = [
      [{ ...base, port: server.port }, { code: 'EADDRINUSE' }],
      [{ ...base, port: 0, tls: { key: Buffer.from('not a key'), cert: Buffer.from('not a cert') } }, { code: expect.stringMatching(/^ERR_OSSL/) }],
    ];
    try {
      for (const [opts, error] of failures) {
        set.mockClear();
        await expect(startServer(opts)).rejects.toMatchObject(error);
        expect(audit.hasSubscribers).toBe(false);
        expect(open.size).toBe(0);
      }
      expect(set).toHaveBeenCalled();
    } finally {
      set.mockRestore();
      cleared.mockRestore();
    }
  });
});

describe('options', () => {
  it('are validated once, naming the option and never echoing a token', () => {
    expect(() => resolveServerOptions({})).toThrow(/"tokens" expected at least one bearer token/);
    expect(() => resolveServerOptions({ insecureNoAuth: true, host: '0.0.0.0' })).toThrow(RangeError);
    expect(resolveServerOptions({ insecureNoAuth: true }).host).toBe('127.0.0.1');
    expect(() => resolveServerOptions({ tokens: [TOKEN], port: '80' })).toThrow(TypeError);
    expect(() => resolveServerOptions({ tokens: [TOKEN], port: 70_000 })).toThrow(/"port" expected an integer 0\.\.65535, got 70000/);
    expect(() => resolveServerOptions({ tokens: [TOKEN], maxBatch: 0 })).toThrow(RangeError);
    expect(() => resolveServerOptions({ tokens: [TOKEN], logLevel: 'loud' as never })).toThrow(/"logLevel" expected one of/);
    expect(() => resolveServerOptions({ tokens: [TOKEN], redisUrl: 'http://user:hunter2@x' })).toThrow(/redis:\/\//);
    try {
      resolveServerOptions({ tokens: [TOKEN, 'short secret!'] });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(RangeError);
      expect((error as Error).message).toMatch(/^"tokens\[1\]" expected 16\.\.512 characters/);
      expect((error as Error).message).not.toContain('short secret');
    }
    try {
      resolveServerOptions({ tokens: [TOKEN], redisUrl: 'http://user:hunter2@x' });
    } catch (error) {
      expect((error as Error).message).not.toContain('hunter2');
    }
  });
});
