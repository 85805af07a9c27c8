// Single verify() calls coalesced into batches.

import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Batcher } from '../src/batcher.js';
import { TotpVerifier, totp } from '../src/index.js';

const TS = 1_700_000_000_000;

describe('batcher', () => {
  it('coalesces 100k concurrent verify() calls into few batches, each answered correctly', async () => {
    const v = await TotpVerifier.create({ threads: 0 });
    try {
      const secrets = Array.from({ length: 1000 }, () => randomBytes(20));
      const codes = secrets.map((s) => totp.generate(s, { timestamp: TS }));
      const calls = Array.from({ length: 100_000 }, (_, i) => {
        const k = i % 1000;
        // Every third call carries a wrong code for its secret.
        const code = i % 3 === 0 ? codes[(k + 1) % 1000]! : codes[k]!;
        return v.verify({ secret: secrets[k]!, code, timestamp: TS });
      });
      const results = await Promise.all(calls);
      for (let i = 0; i < results.length; i++) {
        const expected = i % 3 === 0 && codes[(i % 1000 + 1) % 1000] !== codes[i % 1000] ? 'invalid' : 'valid';
        expect(results[i]!.status).toBe(expected);
      }
      const { batches } = v.stats().batcher;
      expect(batches).toBeGreaterThan(1);
      expect(batches).toBeLessThanOrEqual(Math.ceil(100_000 / 8192) + 2);
    } finally {
      await v.close();
    }
  });

  it('runs a lone verify() on an idle verifier at once, not after the batching delay', async () => {
    const v = await TotpVerifier.create({ threads: 0, batching: { maxDelayMs: 1000 } });
    try {
      const secret = randomBytes(20);
      const started = performance.now();
      const r = await v.verify({ secret, code: totp.generate(secret, { timestamp: TS }), timestamp: TS });
      expect(r.status).toBe('valid');
      expect(performance.now() - started).toBeLessThan(500);
    } finally {
      await v.close();
    }
  });

  it('refuses calls beyond the queue bound at once with ERR_OVERLOADED, and answers the rest', async () => {
    const v = await TotpVerifier.create({ threads: 1, maxQueue: 1000, inlineThreshold: 1 });
    try {
      const secret = randomBytes(20);
      const code = totp.generate(secret, { timestamp: TS });
      const calls = Array.from({ length: 5000 }, () => v.verify({ secret, code, timestamp: TS }));
      const settled = await Promise.allSettled(calls);
      const refused = settled.filter((s) => s.status === 'rejected');
      const answered = settled.filter((s) => s.status === 'fulfilled');
      expect(refused.length).toBeGreaterThan(0);
      expect(answered.length).toBeGreaterThanOrEqual(1000);
      for (const s of refused) expect((s as PromiseRejectedResult).reason).toMatchObject({ code: 'ERR_OVERLOADED' });
      for (const s of answered) expect((s as PromiseFulfilledResult<{ status: string }>).value.status).toBe('valid');
    } finally {
      await v.close();
    }
  });
});

describe('Batcher', () => {
  it('answers each call with its own result when batches finish out of order', async () => {
    // Three batches may run at once; each waits a different time, so later batches end first.
    let batch = 0;
    const batcher = new Batcher<number, string>(
      async (requests) => {
        const wait = [30, 10, 0][batch++ % 3]!;
        await new Promise((resolve) => setTimeout(resolve, wait));
        return requests.map((x) => `answer ${x}`);
      },
      { maxBatch: 7, maxDelayMs: 1, maxQueue: 10_000, concurrency: 3 },
    );
    const calls = Array.from({ length: 100 }, (_, i) => batcher.submit(i));
    // More calls while the first batches run: they join later batches.
    await new Promise((resolve) => setTimeout(resolve, 5));
    calls.push(...Array.from({ length: 50 }, (_, i) => batcher.submit(100 + i)));
    const answers = await Promise.all(calls);
    expect(answers).toEqual(Array.from({ length: 150 }, (_, i) => `answer ${i}`));
    expect(batcher.pending.batches).toBeGreaterThanOrEqual(Math.ceil(150 / 7));
    await batcher.drain();
    expect(batcher.pending).toMatchObject({ queued: 0, running: 0 });
  });

  it('rejects every call of a failed batch with its error, leaves no unhandled rejection, and runs the next batch', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => { unhandled.push(reason); };
    process.on('unhandledRejection', onUnhandled);
    try {
      const failure = new Error('store down');
      let fail = true;
      const batcher = new Batcher<number, number>(
        async (requests) => {
          if (fail) throw failure;
          return requests.map((x) => x * 2);
        },
        { maxBatch: 100, maxDelayMs: 0, maxQueue: 10_000, concurrency: 1 },
      );
      const failed = await Promise.allSettled(Array.from({ length: 250 }, (_, i) => batcher.submit(i)));
      expect(failed.every((s) => s.status === 'rejected' && s.reason === failure)).toBe(true);
      fail = false;
      expect(await Promise.all([1, 2, 3].map((x) => batcher.submit(x)))).toEqual([2, 4, 6]);
      // Node reports unhandled rejections after the microtask queue drains: give it a turn.
      await new Promise((resolve) => setImmediate(resolve));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
