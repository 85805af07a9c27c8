// Concurrent batches on one verifier (worker pool, and inline): one code of one account is
// accepted exactly once, however the requests are spread over batches, slices and rounds.

import { describe, expect, it } from 'vitest';
import { MemoryStore, RedisStore, type Store, TotpVerifier, totp } from '../src/index.js';
import { KEY } from './helpers/fixtures.js';
import { REDIS_URL, deleteKeys, haveRedis, testPrefix } from './helpers/redis.js';

const redisOk = await haveRedis('policy race: RedisStore');
const prefix = testPrefix();
const stores: { name: string; make: () => Store }[] = [{ name: 'MemoryStore', make: () => new MemoryStore() }];
if (redisOk) stores.push({ name: 'RedisStore', make: () => new RedisStore({ url: REDIS_URL, prefix, accountsPerCall: 7 }) });

describe.each(stores)('$name', ({ make }) => {
  it.each([0, 1])('threads %i: 20 concurrent batches, each with the code 3 times among 300 others: one valid', async (threads) => {
    const store = make();
    const v = await TotpVerifier.create({ threads, store });
    try {
      const now = Date.now();
      const code = totp.generate(KEY, { timestamp: now });
      const target = `race-${process.pid}-${threads}-${Math.random()}`;
      const batches = Array.from({ length: 20 }, (_, b) => {
        const reqs = Array.from({ length: 300 }, (_, i) => ({ account: `o-${b}-${i}-${Math.random()}`, secret: KEY, code: '000000', timestamp: now }));
        for (const at of [5, 150, 299]) reqs.splice(at, 0, { account: target, secret: KEY, code, timestamp: now });
        return reqs;
      });
      const results = await Promise.all(batches.map((reqs) => v.verifyBatch(reqs)));
      const statuses = results.flatMap((r, b) => r.filter((_, i) => batches[b]![i]!.account === target).map((x) => x.status));
      expect(statuses.filter((s) => s === 'valid')).toHaveLength(1);
      expect(statuses.filter((s) => s !== 'valid' && s !== 'replayed' && s !== 'locked')).toEqual([]);
    } finally {
      await v.close();
      await store.close();
      if (redisOk) await deleteKeys(prefix);
    }
  });
});
