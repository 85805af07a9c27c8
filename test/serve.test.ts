// `totp-fleet serve` as a process: start-up refusals, the npm start token, SIGTERM draining a
// request in flight, slow clients, a barrage of bad requests, and TLS. Real sockets, bounded
// waits (no sleeps for correctness: every wait polls for a condition with a deadline).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { SERVE_ENV } from '../src/bench/http-load.js';
import { totp } from '../src/index.js';
import { KEY_B32 } from './helpers/fixtures.js';
import { authed, CLI, post, spawnServe, stop, TOKEN } from './helpers/server.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'totp-fleet-serve-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function serveSync(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, 'serve', '--port', '0', ...args], {
    env: { ...process.env, TOTP_FLEET_TOKENS: '', ...env }, encoding: 'utf8', timeout: 20_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const item = (account: string, timestamp = Date.now()): Record<string, unknown> =>
  ({ account, secret: KEY_B32, code: totp.generate(KEY_B32, { timestamp }), timestamp });

/** A raw HTTP/1.1 request written by hand, so that a test controls when each byte goes. */
function rawRequest(url: string, body: string, token = TOKEN): { socket: Socket; head: string; response: Promise<string> } {
  const { port } = new URL(url);
  const socket = connect(Number(port), '127.0.0.1');
  const head = `POST /v1/verify HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
  const response = new Promise<string>((resolve) => {
    let text = '';
    socket.on('data', (d) => { text += d.toString(); });
    socket.on('close', () => resolve(text));
    socket.on('error', () => {});
  });
  return { socket, head, response };
}

describe('start-up', () => {
  it('refuses a Redis URL whose database is not a number, never echoing the URL (ioredis sent SELECT NaN and the process died)', () => {
    for (const url of ['redis://:hunter2pw@127.0.0.1:6379/abc', 'redis://:hunter2pw@127.0.0.1:6379/?db=x', 'redis://:hunter2pw@127.0.0.1:99999']) {
      const r = serveSync(['--redis-url', url, '--redis-prefix', `serve-test-${process.pid}:`], { TOTP_FLEET_TOKENS: TOKEN });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/^totp-fleet: --redis-url expected a redis:\/\/ or rediss:\/\/ URL/);
      expect(r.stderr + r.stdout).not.toContain('hunter2pw');
    }
    const enroll = spawnSync(process.execPath, [CLI, 'enroll', '--account', 'a', '--redis-url', 'redis://127.0.0.1:6379/abc'], { encoding: 'utf8', input: '', timeout: 20_000 });
    expect(enroll.status).toBe(2);
    expect(enroll.stderr).toMatch(/--redis-url expected a redis:\/\/ or rediss:\/\/ URL/);
    expect(enroll.stdout).toBe(''); // no secret shown
  });

  it('refuses to start without a bearer token, and insecure mode off loopback', () => {
    const none = serveSync([]);
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/no bearer token: set TOTP_FLEET_TOKENS/);
    const open = serveSync(['--insecure-no-auth', '--host', '0.0.0.0']);
    expect(open.status).toBe(2);
    expect(open.stderr).toMatch(/only allowed on a loopback address/);
  });

  it('names the flag or variable of a bad value, and never echoes a token', () => {
    expect(serveSync([], { TOTP_FLEET_TOKENS: TOKEN, TOTP_FLEET_MAX_BATCH: 'many' }).stderr).toMatch(/TOTP_FLEET_MAX_BATCH expected an integer/);
    expect(serveSync(['--max-failures', '500'], { TOTP_FLEET_TOKENS: TOKEN }).stderr).toMatch(/--max-failures expected an integer 1\.\.100, got 500/);
    expect(serveSync(['--max-batch', '0'], { TOTP_FLEET_TOKENS: TOKEN }).stderr).toMatch(/--max-batch expected an integer 1\.\.100000, got 0/);
    expect(serveSync(['--timestamp-skew-ms', '10'], { TOTP_FLEET_TOKENS: TOKEN }).stderr).toMatch(/--timestamp-skew-ms expected an integer 1000\.\.86400000, got 10/);
    // A value from a variable is named by the variable, whichever check refuses it.
    expect(serveSync([], { TOTP_FLEET_TOKENS: TOKEN, TOTP_FLEET_MAX_BATCH: '0' }).stderr).toMatch(/^totp-fleet: TOTP_FLEET_MAX_BATCH expected an integer 1\.\.100000, got 0/);
    expect(serveSync([], { TOTP_FLEET_TOKENS: TOKEN, TOTP_FLEET_MAX_FAILURES: '500' }).stderr).toMatch(/^totp-fleet: TOTP_FLEET_MAX_FAILURES expected an integer 1\.\.100, got 500/);
    expect(serveSync([], { TOTP_FLEET_TOKENS: TOKEN, TOTP_FLEET_PAST: '11' }).stderr).toMatch(/^totp-fleet: TOTP_FLEET_PAST expected an integer 0\.\.10, got 11/);
    expect(serveSync(['--log-level', 'loud'], { TOTP_FLEET_TOKENS: TOKEN }).status).toBe(2);
    expect(serveSync(['--tls-key', 'k.pem'], { TOTP_FLEET_TOKENS: TOKEN }).stderr).toMatch(/--tls-key and --tls-cert go together/);
    const short = serveSync([], { TOTP_FLEET_TOKENS: 'hunter2hunter2' });
    expect(short.status).toBe(2);
    expect(short.stderr).toMatch(/the token.* expected 16\.\.512 characters/);
    expect(short.stderr).not.toContain('hunter2');
    const help = spawnSync(process.execPath, [CLI, 'serve', '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^Usage: totp-fleet serve/);
  });

  it('npm start serves with a generated token in a 0600 file, kept across restarts', async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } };
    const words = pkg.scripts.start.split(' ');
    // Leading KEY=VALUE words: the environment npm start gives the server (the load benches
    // start theirs with the same, SERVE_ENV); a value `${KEY:-D}` is D unless the caller's
    // environment sets KEY (as `TOTP_FLEET_PRETOUCH=0 npm start` does).
    const startEnv: Record<string, string> = {};
    while (/^[A-Z_]+=/.test(words[0]!)) {
      const w = words.shift()!;
      const key = w.slice(0, w.indexOf('='));
      const value = w.slice(w.indexOf('=') + 1);
      const fallback = /^\$\{([A-Z_]+):-([^}]*)\}$/.exec(value);
      if (fallback !== null) expect(fallback[1]).toBe(key);
      startEnv[key] = fallback === null ? value : fallback[2]!;
    }
    expect(startEnv).toEqual(SERVE_ENV);
    expect(words.slice(0, 2)).toEqual(['node', 'dist/cli/index.js']);
    const args = words.slice(2);
    expect(args.slice(0, 1)).toEqual(['serve']);
    const dir = mkdtempSync(join(tmp, 'start-'));
    const tokenFile = join(dir, '.totp-fleet-token');
    const withFile = args.slice(1).map((a) => (a === '.totp-fleet-token' ? tokenFile : a));
    const first = await spawnServe(withFile, { ...startEnv, TOTP_FLEET_TOKENS: '' });
    expect(first.stderr).toMatch(/generated a bearer token in .*\.totp-fleet-token \(mode 0600\)/);
    expect(first.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(first.stderr).not.toMatch(/deprecat|warning/i);
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    const token = readFileSync(tokenFile, 'utf8').trim();
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(first.stderr).not.toContain(token);
    expect((await post(first.url, item('npm-start'), authed(token))).json.status).toBe('valid');
    expect((await post(first.url, item('npm-start-2'))).status).toBe(401);
    expect(await stop(first)).toBe(0);
    const second = await spawnServe(withFile, { ...startEnv, TOTP_FLEET_TOKENS: '' });
    expect(second.stderr).not.toMatch(/generated/);
    expect(readFileSync(tokenFile, 'utf8').trim()).toBe(token);
    expect((await post(second.url, item('npm-start-3'), authed(token))).status).toBe(200);
    expect(await stop(second)).toBe(0);
  });

  it('says so when the port is taken, with exit status 2', async () => {
    const first = await spawnServe([]);
    try {
      const taken = serveSync(['--port', new URL(first.url).port], { TOTP_FLEET_TOKENS: TOKEN });
      expect(taken.status).toBe(2);
      expect(taken.stderr).toMatch(/cannot listen on 127\.0\.0\.1:\d+ \(EADDRINUSE\)/);
    } finally {
      expect(await stop(first)).toBe(0);
    }
  });

  it('serves without a token only when told to, on loopback', async () => {
    const child = await spawnServe(['--insecure-no-auth'], { TOTP_FLEET_TOKENS: '' });
    expect(child.stderr).toMatch(/NO AUTHENTICATION/);
    expect((await post(child.url, item('open'), { 'content-type': 'application/json' })).json.status).toBe('valid');
    expect(await stop(child)).toBe(0);
  });
});

describe('lifecycle', () => {
  it('SIGTERM drains: a request in flight is answered, new connections are refused, then it exits 0', async () => {
    const child = await spawnServe(['--drain-timeout', '10000']);
    const body = JSON.stringify(item('drain@example.com'));
    const inFlight = rawRequest(child.url, body);
    inFlight.socket.write(inFlight.head + body.slice(0, 20)); // headers and part of the body
    // A round trip on another connection: by its answer the server has read the first one's headers.
    await expect.poll(async () => (await fetch(child.url + '/readyz')).status).toBe(200);
    child.process.kill('SIGTERM');
    await expect.poll(() => child.stderr, { timeout: 5000 }).toMatch(/SIGTERM: draining/);
    // Still running while the request is unanswered; new connections are refused.
    await expect.poll(async () => fetch(child.url + '/readyz').then(() => 'open', () => 'refused'), { timeout: 5000 }).toBe('refused');
    expect(child.process.exitCode).toBeNull();
    inFlight.socket.write(body.slice(20));
    const response = await inFlight.response; // the server closes the connection after answering
    expect(response).toMatch(/^HTTP\/1\.1 200 /);
    expect(response.toLowerCase()).toMatch(/connection: close/);
    expect(response).toMatch(/"status":"valid"/);
    expect(await child.exited).toBe(0);
    expect(child.stdout).toMatch(/"msg":"draining"/);
    expect(child.stdout).toMatch(/"msg":"closed"/);
  });

  it('cuts off slow clients after the request timeout, and serves others meanwhile', async () => {
    const child = await spawnServe(['--request-timeout', '1000']);
    try {
      const slowHead = rawRequest(child.url, '{}');
      slowHead.socket.write('POST /v1/verify HTTP/1.1\r\nHost: x\r\n'); // headers never finished
      const body = JSON.stringify(item('slow@example.com'));
      const slowBody = rawRequest(child.url, body);
      slowBody.socket.write(slowBody.head + body.slice(0, 10)); // body never finished
      const started = Date.now();
      // Meanwhile, others are served: the slow connections hold nothing up.
      for (let i = 0; i < 5; i++) {
        const t = Date.now();
        expect((await post(child.url, item(`fast${i}@example.com`))).json.status).toBe('valid');
        expect(Date.now() - t).toBeLessThan(2000);
      }
      const [a, b] = await Promise.all([slowHead.response, slowBody.response]);
      const waited = Date.now() - started;
      expect(waited).toBeLessThan(5000);
      expect(a === '' || a.startsWith('HTTP/1.1 408')).toBe(true);
      expect(b === '' || b.startsWith('HTTP/1.1 408')).toBe(true);
      expect((await fetch(child.url + '/healthz')).status).toBe(200);
    } finally {
      expect(await stop(child)).toBe(0);
    }
  });

  it('answers a barrage of bad requests quickly with the right status, and keeps serving', async () => {
    const child = await spawnServe(['--body-limit', '65536']);
    const secret = KEY_B32;
    const code = totp.generate(secret, { timestamp: Date.now() });
    try {
      const started = Date.now();
      const cases: [string, () => Promise<number>][] = [
        ['malformed JSON', async () => (await post(child.url, `{"account":"a","secret":"${secret}","code":"${code}"`)).status],
        ['wrong types', async () => (await post(child.url, { account: 'a', secret, code: Number(code) })).status],
        ['huge body', async () => (await post(child.url, { items: [{ account: 'a', secret: secret.repeat(5000), code }] })).status],
        ['missing token', async () => (await post(child.url, { account: 'a', secret, code }, { 'content-type': 'application/json' })).status],
        ['wrong token', async () => (await post(child.url, { account: 'a', secret, code }, authed('wrong-token-wrong-token-wrong'))).status],
      ];
      const expected = [400, 400, 413, 401, 401];
      for (let round = 0; round < 20; round++) {
        const statuses = await Promise.all(cases.map(([, run]) => run()));
        expect(statuses).toEqual(expected);
      }
      // Garbage that is not HTTP at all gets a 400 and a closed connection.
      const garbage = rawRequest(child.url, '');
      garbage.socket.write('\x16\x03\x01 not http at all\r\n\r\n');
      expect(await garbage.response).toMatch(/^HTTP\/1\.1 400/);
      expect(Date.now() - started).toBeLessThan(15_000);
      expect((await post(child.url, item('after-barrage@example.com'))).json.status).toBe('valid');
    } finally {
      expect(await stop(child)).toBe(0);
    }
    for (const text of [child.stdout, child.stderr]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain(code);
      expect(text).not.toContain(TOKEN);
    }
  });
});

describe('bodies', () => {
  it('answers a 1,000-item batch of over 128 KiB item for item, and a body that starts with a byte-order mark', async () => {
    const child = await spawnServe([]);
    try {
      const now = Date.now();
      const items = Array.from({ length: 1000 }, (_, i) => item(`a-rather-long-account-name-${i}@mail.example.com`, now));
      const body = JSON.stringify({ items });
      expect(body.length).toBeGreaterThan(128 * 1024); // parsed in pieces (src/server/body.ts)
      const first = await post(child.url, body);
      expect(first.status).toBe(200);
      expect(first.json.results.map((r: { status: string }) => r.status)).toEqual(items.map(() => 'valid'));
      // Item for item: the same body again is all replays, and one changed code is the only invalid.
      items[537] = { ...items[537], code: String((Number(items[537]!['code']) + 1) % 1_000_000).padStart(6, '0') };
      const again = await post(child.url, JSON.stringify({ items }));
      expect(again.json.results.map((r: { status: string }) => r.status)).toEqual(items.map((_, i) => (i === 537 ? 'invalid' : 'replayed')));
      const bom = await post(child.url, '\uFEFF' + JSON.stringify(item('bom@example.com')));
      expect(bom.json.status).toBe('valid');
    } finally {
      expect(await stop(child)).toBe(0);
    }
  });
});

describe('TLS', () => {
  const openssl = spawnSync('openssl', ['version'], { encoding: 'utf8' }).status === 0;
  if (!openssl) console.warn('\n  SKIPPED: serve TLS: no openssl to make a test certificate\n');

  it.skipIf(!openssl)('serves HTTPS with --tls-key and --tls-cert', async () => {
    const key = join(tmp, 'key.pem');
    const cert = join(tmp, 'cert.pem');
    const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
    expect(made.status).toBe(0);
    const child = await spawnServe(['--tls-key', key, '--tls-cert', cert]);
    try {
      expect(child.url).toMatch(/^https:\/\//);
      const body = JSON.stringify(item('tls@example.com'));
      const answer = await new Promise<string>((resolve, reject) => {
        const req = httpsRequest(child.url + '/v1/verify', { method: 'POST', ca: readFileSync(cert), headers: authed() }, (res) => {
          let text = '';
          res.on('data', (d) => { text += d.toString(); });
          res.on('end', () => resolve(text));
        });
        req.on('error', reject);
        req.end(body);
      });
      expect(JSON.parse(answer).status).toBe('valid');
    } finally {
      expect(await stop(child)).toBe(0);
    }
  });
});
