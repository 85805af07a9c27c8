// `totp-fleet serve` over Redis: two server processes sharing one Redis act as one (a code
// accepted through one is 'replayed' through the other; failures count fleet-wide), and a
// Redis outage turns /readyz red and items into 'error' until Redis is back, without a restart.
// The shared Redis is used under a key prefix of this run's own, deleted afterwards; the
// outage test runs a private redis-server on a free port so that it can stop it.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { totp } from '../src/index.js';
import { KEY_B32 } from './helpers/fixtures.js';
import { haveRedis, REDIS_URL, testPrefix } from './helpers/redis.js';
import { post, spawnServe, stop } from './helpers/server.js';

const redisOk = await haveRedis('serve over Redis');
const redisServer = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).status === 0;
if (!redisServer) {
  if (process.env.TOTP_FLEET_REQUIRE_REDIS === '1') throw new Error('serve Redis outage: no redis-server binary, and TOTP_FLEET_REQUIRE_REDIS=1');
  console.warn('\n  SKIPPED: serve Redis outage: no redis-server binary to run a private Redis\n');
}

const item = (account: string, code?: string): Record<string, unknown> => {
  const timestamp = Date.now();
  return { account, secret: KEY_B32, code: code ?? totp.generate(KEY_B32, { timestamp }), timestamp };
};

describe.skipIf(!redisOk)('two servers sharing Redis', () => {
  const prefix = testPrefix();
  afterAll(async () => {
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it("a code accepted through one server is 'replayed' through the other; failures count across both", async () => {
    const args = ['--max-failures', '3'];
    const env = { TOTP_FLEET_REDIS_URL: REDIS_URL, TOTP_FLEET_REDIS_PREFIX: prefix };
    const [a, b] = await Promise.all([spawnServe(args, env), spawnServe(args, env)]);
    try {
      expect(a.url).not.toBe(b.url);
      expect(a.stderr).toMatch(/Redis at redis:\/\/127\.0\.0\.1:6379/);
      const one = item('fleet-user@example.com');
      expect((await post(a.url, one)).json.status).toBe('valid');
      expect((await post(b.url, one)).json).toEqual({ status: 'replayed' });
      expect((await post(a.url, one)).json).toEqual({ status: 'replayed' });

      const code = String(one.code);
      const wrong = String((Number(code) + 500_000) % 1_000_000).padStart(6, '0');
      expect((await post(a.url, item('fleet-guess@example.com', wrong))).json.status).toBe('invalid');
      expect((await post(b.url, item('fleet-guess@example.com', wrong))).json.status).toBe('invalid');
      expect((await post(a.url, item('fleet-guess@example.com', wrong))).json.status).toBe('invalid');
      expect((await post(b.url, item('fleet-guess@example.com'))).json.status).toBe('locked');
      const redis = new Redis(REDIS_URL);
      try {
        expect((await redis.keys(`${prefix}*`)).length).toBeGreaterThan(0);
      } finally {
        await redis.quit();
      }
    } finally {
      expect(await Promise.all([stop(a), stop(b)])).toEqual([0, 0]);
    }
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const redis = new Redis({ port, lazyConnect: true, retryStrategy: () => 50, maxRetriesPerRequest: 0 });
  redis.on('error', () => {});
  await expect.poll(async () => redis.ping().catch(() => 'down'), { timeout: 10_000 }).toBe('PONG');
  redis.disconnect();
  return child;
}

async function stopRedis(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

describe.skipIf(!redisServer)('Redis outage', () => {
  it("turns /readyz red and items into 'error' (reason 'store'), and recovers by itself", async () => {
    const port = await freePort();
    let redis = await startRedis(port);
    const server = await spawnServe(['--redis-url', `redis://127.0.0.1:${port}`, '--health-interval', '200']);
    try {
      expect((await post(server.url, item('outage-1@example.com'))).json.status).toBe('valid');
      expect((await fetch(server.url + '/readyz')).status).toBe(200);

      await stopRedis(redis);
      const failed = await post(server.url, { items: [item('outage-2@example.com'), item('outage-3@example.com')] });
      expect(failed.status).toBe(200);
      expect(failed.json.results).toEqual([{ status: 'error', reason: 'store' }, { status: 'error', reason: 'store' }]);
      await expect.poll(async () => (await fetch(server.url + '/readyz')).status, { timeout: 5000 }).toBe(503);
      const health = await fetch(server.url + '/healthz');
      expect(health.status).toBe(503);
      expect(await health.json()).toEqual({ status: 'fail', engine: 'ok', store: 'fail' });

      redis = await startRedis(port);
      await expect.poll(async () => (await fetch(server.url + '/readyz')).status, { timeout: 10_000 }).toBe(200);
      expect((await post(server.url, item('outage-4@example.com'))).json.status).toBe('valid');
      const metrics = await (await fetch(server.url + '/metrics', { headers: { authorization: 'Bearer test-token-0123456789abcdefghij' } })).text();
      expect(metrics).toMatch(/^totp_fleet_store_errors_total\{source="verify"\} 2$/m);
      expect(metrics).toMatch(/^totp_fleet_store_up 1$/m);
    } finally {
      expect(await stop(server)).toBe(0);
      await stopRedis(redis);
    }
    expect(server.stdout).toMatch(/"msg":"store unavailable"/);
    expect(server.stdout).toMatch(/"msg":"store reachable again"/);
  });
});

describe.skipIf(!redisServer)('Redis down at start', () => {
  it('starts anyway (readiness red, items error) and turns green when Redis comes up', async () => {
    const port = await freePort();
    const started = Date.now();
    const server = await spawnServe(['--redis-url', `redis://127.0.0.1:${port}`, '--health-interval', '200']);
    let redis: ChildProcess | undefined;
    try {
      expect(Date.now() - started).toBeLessThan(15_000);
      expect((await fetch(server.url + '/readyz')).status).toBe(503);
      expect((await post(server.url, item('cold-1@example.com'))).json).toEqual({ status: 'error', reason: 'store' });
      redis = await startRedis(port);
      await expect.poll(async () => (await fetch(server.url + '/readyz')).status, { timeout: 10_000 }).toBe(200);
      expect((await post(server.url, item('cold-2@example.com'))).json.status).toBe('valid');
    } finally {
      expect(await stop(server)).toBe(0);
      if (redis !== undefined) await stopRedis(redis);
    }
  });
});
