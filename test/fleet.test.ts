// A fleet on Redis: two verifier processes sharing one RedisStore, and a Redis that stops,
// comes back, and forgets its scripts. Needs Redis (skipped with a message without one); the
// outage tests also start a private redis-server of their own, so that stopping it disturbs
// nobody else.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { createInterface, type Interface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisStore, TotpVerifier, type VerifyResult, totp } from '../src/index.js';
import { KEY_B32 } from './helpers/fixtures.js';
import { REDIS_URL, haveRedis, testPrefix } from './helpers/redis.js';

const MEMBER = fileURLToPath(new URL('./fixtures/fleet-member.mjs', import.meta.url));
const redisOk = await haveRedis('fleet (two processes sharing Redis; Redis outages)');
const hasRedisServer = spawnSync('redis-server', ['--version']).status === 0;
if (redisOk && !hasRedisServer) console.warn('\n  SKIPPED: Redis outage tests: no redis-server binary to start a private Redis\n');

const NOW = Date.now();
const codeAt = (ms: number): string => totp.generate(KEY_B32, { timestamp: ms });
const wrongCodes = (n: number): string[] => {
  const right = Number(codeAt(NOW));
  return Array.from({ length: n }, (_, i) => String((right + 1 + i) % 1_000_000).padStart(6, '0'));
};

/** A verifier process; `send` runs one command and resolves with its results. */
class Member {
  readonly child: ChildProcess;
  readonly #lines: Interface;
  readonly #waiting = new Map<number, (r: VerifyResult[]) => void>();
  #next = 0;
  readonly ready: Promise<void>;

  constructor(env: Record<string, string>) {
    this.child = spawn(process.execPath, [MEMBER], { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'inherit'] });
    this.#lines = createInterface({ input: this.child.stdout! });
    let ready!: () => void;
    this.ready = new Promise((resolve) => { ready = resolve; });
    this.#lines.on('line', (line) => {
      const msg = JSON.parse(line) as { ready?: boolean; id?: number; results?: VerifyResult[] };
      if (msg.ready) ready();
      else this.#waiting.get(msg.id!)?.(msg.results!);
    });
  }

  send(requests: object[], mode: 'batch' | 'concurrent' | 'backup-generate' | 'backup'): Promise<VerifyResult[]> {
    const id = ++this.#next;
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      this.child.stdin!.write(JSON.stringify({ id, requests, mode }) + '\n');
    });
  }

  async stop(): Promise<void> {
    this.child.stdin!.end();
    if (this.child.exitCode === null) await once(this.child, 'exit');
  }
}

const count = (results: VerifyResult[], status: string): number => results.filter((r) => r.status === status).length;

describe.skipIf(!redisOk)('two verifier processes sharing Redis', () => {
  const prefix = testPrefix();
  let a: Member;
  let b: Member;
  beforeAll(async () => {
    const env = { REDIS_URL, PREFIX: prefix, MAX_FAILURES: '5' };
    a = new Member(env);
    b = new Member(env);
    await Promise.all([a.ready, b.ready]);
  }, 30_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    const redis = new Redis(REDIS_URL);
    const keys = await redis.keys(`${prefix}*`);
    for (const key of keys) expect(await redis.pttl(key), key).toBeGreaterThan(0);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  });

  it('a code accepted by one process is replayed on the other', async () => {
    const req = { account: 'alice@example.com', secret: KEY_B32, code: codeAt(NOW), timestamp: NOW };
    expect((await a.send([req], 'batch'))[0]).toMatchObject({ status: 'valid', delta: 0 });
    expect((await b.send([req], 'batch'))[0]).toEqual({ status: 'replayed' });
    expect((await a.send([req], 'batch'))[0]).toEqual({ status: 'replayed' });
  });

  it('200 concurrent submissions of one valid code across both: exactly one valid', async () => {
    const req = { account: 'bob@example.com', secret: KEY_B32, code: codeAt(NOW), timestamp: NOW };
    const each = Array.from({ length: 100 }, () => req);
    const [ra, rb] = await Promise.all([a.send(each, 'concurrent'), b.send(each, 'concurrent')]);
    const all = [...ra, ...rb];
    expect(count(all, 'valid')).toBe(1);
    expect(count(all, 'replayed')).toBe(199);
  });

  it('a backup code submitted 100 times at once across both processes: exactly one valid', async () => {
    const codes = await a.send([{ account: 'dora@example.com', count: 3 }], 'backup-generate') as unknown as string[];
    expect(codes).toHaveLength(3);
    const each = Array.from({ length: 50 }, () => ({ account: 'dora@example.com', code: codes[1] }));
    const [ra, rb] = await Promise.all([a.send(each, 'backup'), b.send(each, 'backup')]);
    const all = [...ra, ...rb];
    expect(all.filter((r) => r.status === 'valid')).toEqual([{ status: 'valid', remaining: 2 }]);
    // The others are wrong guesses: counted, so the account locks at the limit (5).
    expect(count(all, 'invalid') + count(all, 'locked')).toBe(99);
    expect(count(all, 'invalid')).toBeLessThanOrEqual(5);
  });

  it('1,000 concurrent wrong guesses for one account: at most the limit (5) evaluated', async () => {
    const guesses = wrongCodes(1000).map((code) => ({ account: 'carol@example.com', secret: KEY_B32, code, timestamp: NOW }));
    const [ra, rb] = await Promise.all([
      a.send(guesses.slice(0, 500), 'concurrent'), b.send(guesses.slice(500), 'concurrent'),
    ]);
    const all = [...ra, ...rb];
    expect(count(all, 'invalid')).toBeLessThanOrEqual(5);
    expect(count(all, 'invalid')).toBeGreaterThan(0);
    expect(count(all, 'invalid') + count(all, 'locked')).toBe(1000);
    // And the account is locked for both, even for its right code.
    const right = { account: 'carol@example.com', secret: KEY_B32, code: codeAt(NOW), timestamp: NOW };
    expect((await b.send([right], 'batch'))[0]!.status).toBe('locked');
    expect((await a.send([right], 'batch'))[0]!.status).toBe('locked');
  });
});

/** A free TCP port on loopback. */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/** A private redis-server, stoppable and restartable on the same port. */
class PrivateRedis {
  proc: ChildProcess | undefined;
  constructor(readonly port: number) {}
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    this.proc = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' });
    const probe = new Redis(this.url, { lazyConnect: true, retryStrategy: () => 50, maxRetriesPerRequest: null });
    probe.on('error', () => {});
    await probe.connect().catch(() => {});
    await probe.ping();
    probe.disconnect();
  }
  async kill(): Promise<void> {
    const p = this.proc!;
    p.kill('SIGKILL');
    if (p.exitCode === null && p.signalCode === null) await once(p, 'exit');
  }
}

describe.skipIf(!redisOk || !hasRedisServer)('Redis outages', () => {
  let redis: PrivateRedis;
  let admin: Redis;
  let store: RedisStore;
  let v: TotpVerifier;
  /** The verifier's clock: the real one unless a test moves it. */
  let clock: number | undefined;
  beforeAll(async () => {
    redis = new PrivateRedis(await freePort());
    await redis.start();
    admin = new Redis(redis.url, { retryStrategy: () => 100, maxRetriesPerRequest: null });
    admin.on('error', () => {}); // while the server is down on purpose
    store = new RedisStore({ url: redis.url, commandTimeoutMs: 300 });
    v = await TotpVerifier.create({ threads: 0, store, policy: { maxFailures: 3, reservationMs: 1000 }, now: () => clock ?? Date.now() });
  }, 30_000);
  afterAll(async () => {
    await v?.close();
    await store?.close();
    admin?.disconnect();
    if (redis?.proc && redis.proc.exitCode === null) await redis.kill();
  });

  const req = (account: string, code: string): object => ({ account, secret: KEY_B32, code, timestamp: NOW });

  it('Redis stopped mid-run: error, never valid, no failure counted; back: works without a restart', async () => {
    const [wrong] = wrongCodes(1);
    expect((await v.verifyBatch([req('dan', codeAt(NOW))] as never))[0]!.status).toBe('valid');
    // Stopped (SIGSTOP: the socket stays open, nothing answers): every command times out.
    redis.proc!.kill('SIGSTOP');
    try {
      const started = Date.now();
      for (let k = 0; k < 4; k++) {
        const results = await v.verifyBatch([req('erin', codeAt(NOW)), req('frank', wrong!)] as never);
        expect(results).toEqual([{ status: 'error', reason: 'store' }, { status: 'error', reason: 'store' }]);
      }
      expect(Date.now() - started).toBeLessThan(4 * 2000);
      await expect(v.storeHealth()).rejects.toMatchObject({ code: 'ERR_STORE_UNAVAILABLE' });
    } finally {
      redis.proc!.kill('SIGCONT');
    }
    // Back: no failure was counted for frank (his record's f, the second double, is 0 or he has
    // none), erin's code was not used.
    await expect.poll(() => v.storeHealth().then(() => true, () => false), { timeout: 5000, interval: 100 }).toBe(true);
    const frank = await admin.getBuffer('totp-fleet:{cred:frank}');
    expect(frank === null ? 0 : frank.readDoubleLE(8)).toBe(0);
    // Begins sent while it was stopped ran when it resumed: their reservations lapse (1 s).
    await expect.poll(async () => (await v.verifyBatch([req('erin', codeAt(NOW))] as never))[0]!.status,
      { timeout: 5000, interval: 200 }).toBe('valid');
  });

  it('Redis killed and restarted: error while down, then works again by itself', async () => {
    await redis.kill();
    const results = await v.verifyBatch([req('gina', codeAt(NOW))] as never);
    expect(results).toEqual([{ status: 'error', reason: 'store' }]);
    await redis.start();
    await expect.poll(async () => (await v.verifyBatch([req('gina', codeAt(NOW))] as never))[0]!.status,
      { timeout: 10_000, interval: 200 }).toBe('valid');
  });

  it('SCRIPT FLUSH mid-run: the scripts are reloaded and nothing fails', async () => {
    const statuses: string[] = [];
    for (let k = 0; k < 20; k++) {
      if (k % 5 === 2) await admin.script('FLUSH');
      const t = NOW + k * 30_000;
      clock = t;
      const results = await v.verifyBatch([
        { account: `hal-${k}`, secret: KEY_B32, code: codeAt(t), timestamp: t },
        { account: 'ivy', secret: KEY_B32, code: codeAt(t), timestamp: t },
      ] as never);
      statuses.push(...results.map((r) => r.status));
    }
    clock = undefined;
    expect(statuses.every((s) => s === 'valid')).toBe(true);
  });

  it('after the runs, every key has a TTL', async () => {
    const keys = await admin.keys('*');
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(await admin.pttl(key), key).toBeGreaterThan(0);
  });
});
