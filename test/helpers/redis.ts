// Redis for the tests that need one: the local server (127.0.0.1:6379, or TOTP_FLEET_TEST_REDIS).
// Without one, those tests are skipped with a message saying so; where a Redis is required
// (TOTP_FLEET_REQUIRE_REDIS=1, set by .ci/run) its absence fails the run instead.

import { randomBytes } from 'node:crypto';
import { Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll } from 'vitest';
import { MemoryStore } from '../../src/store/memory.js';
import { RedisStore } from '../../src/store/redis.js';
import type { Store } from '../../src/store/types.js';

export const REDIS_URL = process.env.TOTP_FLEET_TEST_REDIS ?? 'redis://127.0.0.1:6379';

/** Whether a Redis answers PING at `url` within a second. */
export function redisAnswers(url = REDIS_URL): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = new Socket();
    const finish = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => finish(false));
    socket.once('error', () => finish(false));
    socket.once('data', (data) => finish(data.toString().startsWith('+PONG')));
    socket.connect(Number(port || 6379), hostname || '127.0.0.1', () => socket.write('PING\r\n'));
  });
}

/** True when the Redis tests can run; otherwise says why they are skipped (or throws in CI). */
export async function haveRedis(suite: string): Promise<boolean> {
  if (await redisAnswers()) return true;
  if (process.env.TOTP_FLEET_REQUIRE_REDIS === '1') {
    throw new Error(`${suite}: no Redis answers at ${REDIS_URL}, and TOTP_FLEET_REQUIRE_REDIS=1`);
  }
  console.warn(`\n  SKIPPED: ${suite}: no Redis answers at ${REDIS_URL} (start one, or set TOTP_FLEET_TEST_REDIS)\n`);
  return false;
}

/** A key prefix of this run's own, so that runs sharing a Redis never see each other's keys. */
export function testPrefix(): string {
  return `totp-fleet-test:${randomBytes(6).toString('hex')}:`;
}

/** Deletes the keys under `prefix` (a run's own, from testPrefix). */
export async function deleteKeys(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    await redis.quit();
  }
}

/**
 * The stores a shared suite runs on: MemoryStore, and RedisStore under a prefix of this run's
 * own when a Redis answers (its keys deleted after the file's tests).
 */
export async function storeSubjects(suite: string): Promise<{ name: string; prefix: string; make: () => Store }[]> {
  const subjects = [{ name: 'MemoryStore', prefix: '', make: (): Store => new MemoryStore() }];
  if (await haveRedis(suite)) {
    const prefix = testPrefix();
    subjects.push({ name: 'RedisStore', prefix, make: () => new RedisStore({ url: REDIS_URL, prefix }) });
    afterAll(() => deleteKeys(prefix));
  }
  return subjects;
}
