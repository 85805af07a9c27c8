// The worker pool: same answers as a single thread, and faults that cost nothing.

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TotpVerifier, totp, type VerifyRequest, type VerifyResult } from '../src/index.js';
import { TotpFleetError } from '../src/errors.js';

const FAULTY = new URL('./fixtures/faulty-worker.mjs', import.meta.url);
const UNLOADABLE = new URL('./fixtures/unloadable-worker.mjs', import.meta.url);
const COUNTING = new URL('./fixtures/counting-worker.mjs', import.meta.url);
const TS = 1_700_000_015_000;

/** A seeded PRNG (mulberry32), so a failure reproduces. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n requests: valid at every delta in -3..3 (window 2 accepts -2..2), invalid, malformed; shuffled. */
function mixedRequests(n: number, seed: number): VerifyRequest[] {
  const rand = prng(seed);
  const secrets = Array.from({ length: 500 }, () => randomBytes(20));
  const reqs: VerifyRequest[] = [];
  for (let i = 0; i < n; i++) {
    const secret = secrets[Math.floor(rand() * secrets.length)]!;
    const kind = rand();
    if (kind < 0.7) {
      const delta = Math.floor(rand() * 7) - 3;
      reqs.push({ secret, code: totp.generate(secret, { timestamp: TS + delta * 30_000 }), timestamp: TS });
    } else if (kind < 0.9) {
      reqs.push({ secret, code: String(Math.floor(rand() * 1e6)).padStart(6, '0'), timestamp: TS });
    } else {
      reqs.push({ secret, code: ' 12345', timestamp: TS });
    }
  }
  return reqs;
}

function statuses(results: VerifyResult[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of results) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
}

describe('pool with 2 threads', () => {
  let pooled: TotpVerifier;
  let single: TotpVerifier;
  beforeAll(async () => {
    pooled = await TotpVerifier.create({ threads: 2, window: 2, inlineThreshold: 1000 });
    single = await TotpVerifier.create({ threads: 0, window: 2 });
  });
  afterAll(async () => {
    await pooled.close();
    await single.close();
  });

  it('answers 100k shuffled mixed items exactly as the single-threaded reference, item for item', async () => {
    const reqs = mixedRequests(100_000, 1);
    const [a, b] = await Promise.all([pooled.verifyBatch(reqs), single.verifyBatch(reqs)]);
    expect(a).toHaveLength(reqs.length);
    expect(a).toEqual(b);
    const counts = statuses(a);
    expect(counts.valid).toBeGreaterThan(40_000);
    expect(counts.invalid).toBeGreaterThan(20_000);
    expect(counts.malformed).toBeGreaterThan(5_000);
    expect(counts.error).toBeUndefined();
    // Deltas at the window's edge and beyond it are told apart.
    const deltas = new Set(a.filter((r) => r.status === 'valid').map((r) => r.delta));
    expect([...deltas].sort()).toEqual([-1, -2, 0, 1, 2]);
    expect(pooled.stats().pool.chunksFailed).toBe(0);
  });

  it('answers a batch of more slices than it keeps in flight (140k items: 18 slices) exactly as the reference', async () => {
    const base = mixedRequests(10_000, 6);
    const reqs = Array.from({ length: 140_000 }, (_, i) => base[(i * 7) % base.length]!);
    const [a, b] = await Promise.all([pooled.verifyBatch(reqs), single.verifyBatch(reqs)]);
    expect(a).toHaveLength(reqs.length);
    expect(a).toEqual(b);
    expect(statuses(a).error).toBeUndefined();
  });

  it('keeps request order across chunks when batches interleave', async () => {
    const batches = [mixedRequests(20_000, 2), mixedRequests(3_000, 3), mixedRequests(15_000, 4)];
    const got = await Promise.all(batches.map((b) => pooled.verifyBatch(b)));
    const want = await Promise.all(batches.map((b) => single.verifyBatch(b)));
    expect(got).toEqual(want);
  });

  it('answers batches of one size in a row exactly as the reference (chunk buffers come back from the workers and are reused)', async () => {
    for (let seed = 10; seed < 16; seed++) {
      const reqs = mixedRequests(20_000, seed);
      expect(await pooled.verifyBatch(reqs)).toEqual(await single.verifyBatch(reqs));
    }
    expect(pooled.stats().pool.chunksFailed).toBe(0);
  });
});

/**
 * verifyBatch(reqs) on `v`, whose workers all fail: malformed items are answered before dispatch
 * (as in `reference`); everything dispatched is an error, never valid, never invalid, never dropped.
 */
async function expectDispatchedErrors(v: TotpVerifier, reqs: VerifyRequest[], reference: VerifyResult[]): Promise<void> {
  const results = await v.verifyBatch(reqs);
  expect(results).toHaveLength(reqs.length);
  for (let i = 0; i < reqs.length; i++) {
    if (reference[i]!.status === 'malformed') expect(results[i]).toEqual(reference[i]);
    else expect(results[i]).toEqual({ status: 'error', reason: 'internal' });
  }
  expect(v.stats().pool.chunksFailed).toBeGreaterThan(0);
}

/** `reqs` verified on one thread (window 2): the reference a pool's results must equal. */
async function singleThreaded(reqs: VerifyRequest[]): Promise<VerifyResult[]> {
  const single = await TotpVerifier.create({ threads: 0, window: 2 });
  try {
    return await single.verifyBatch(reqs);
  } finally {
    await single.close();
  }
}

/**
 * `chunks` chunks run on `v` (closed) with test/fixtures/counting-worker.mjs counting in
 * `counts`: each ran exactly once, on a worker or here (its worker then left it), without a
 * fault, and the calling thread ran some.
 */
function expectEachChunkOnce(v: TotpVerifier, counts: Int32Array, chunks: number): void {
  const [ranOnWorkers, leftToCaller] = [counts[0]!, counts[1]!];
  const stats = v.stats().pool;
  expect(stats).toMatchObject({ chunksRetried: 0, chunksFailed: 0, workerFailures: 0 });
  expect(ranOnWorkers + leftToCaller).toBe(chunks);
  expect(stats.chunksPooled).toBe(ranOnWorkers);
  expect(stats.chunksInline).toBe(leftToCaller);
  expect(stats.chunksInline).toBeGreaterThan(0);
}

describe('the calling thread joins its pooled batch', () => {
  const reqs = mixedRequests(100_000, 11);
  let reference: VerifyResult[];
  beforeAll(async () => { reference = await singleThreaded(reqs); });

  for (const threads of [1, 2]) {
    it(`runs each chunk exactly once, here or on a worker, with the reference's results (${threads} thread(s))`, async () => {
      const counts = new Int32Array(new SharedArrayBuffer(8));
      const v = await TotpVerifier.createWithInternals(
        { threads, window: 2, inlineThreshold: 1000 }, { workerFile: COUNTING, workerData: { counts } },
      );
      const batches = 6;
      let chunks: number;
      try {
        // One chunk per slice of chunkItems requests (every slice of these has packed items).
        chunks = batches * Math.ceil(reqs.length / Math.min(8192, Math.ceil(reqs.length / threads)));
        for (let b = 0; b < batches; b++) expect(await v.verifyBatch(reqs)).toEqual(reference);
      } finally {
        // Every task posted reaches a worker before the pool closes, those run here included.
        await v.close();
      }
      // The calling thread joins too (its first batch waits for a worker's first answer).
      expectEachChunkOnce(v, counts, chunks);
    });
  }

  it('hands no task\'s owner slot to another until the pool has settled it: many more tasks than slots, each chunk run once', async () => {
    // An owners table of 8 slots. Each round: a batch of two 8192-request chunks keeps both
    // workers busy for some milliseconds, and 30 tiny pooled batches (inlineThreshold 0: 4
    // requests, 2 slices of 2, a chunk each) start at once after it is posted: 60 tasks for the
    // 6 slots left, so most wait for one. The calling thread runs some of their chunks itself
    // (helpOut) while their tasks wait in the workers' queues behind the long chunks: a slot
    // handed on before the worker reached such a task would let the worker run a chunk run
    // here already (counted twice below), its buffers reused by then.
    const SLOTS = 8;
    const counts = new Int32Array(new SharedArrayBuffer(8));
    const slots = new Int32Array(new SharedArrayBuffer(4 * (SLOTS + 1)));
    const v = await TotpVerifier.createWithInternals(
      { threads: 2, window: 2, inlineThreshold: 0 }, { workerFile: COUNTING, workerData: { counts, slots }, ownerSlots: SLOTS },
    );
    // Requests that are packed (not malformed), so that every slice is one chunk.
    const packed = reqs.map((r, i) => ({ r, want: reference[i]! })).filter((x) => x.want.status !== 'malformed');
    const [ROUNDS, TINY] = [4, 30];
    const long = packed.slice(0, 16_384);
    const tiny = Array.from({ length: 1 + ROUNDS * TINY }, (_, b) => packed.slice(16_384 + 4 * b, 16_384 + 4 * b + 4));
    const verify = (x: typeof packed): Promise<VerifyResult[]> => v.verifyBatch(x.map((y) => y.r));
    const want = (x: typeof packed): VerifyResult[] => x.map((y) => y.want);
    try {
      // One tiny batch alone first: the calling thread helps only once a worker has answered.
      expect(await verify(tiny[0]!)).toEqual(want(tiny[0]!));
      for (let round = 0; round < ROUNDS; round++) {
        const first = verify(long);
        // Both of its chunks posted (the second after a microtask) before the tiny batches start.
        await new Promise(setImmediate);
        const batches = tiny.slice(1 + round * TINY, 1 + (round + 1) * TINY);
        expect(await Promise.all(batches.map(verify))).toEqual(batches.map(want));
        expect(await first).toEqual(want(long));
      }
    } finally {
      await v.close();
    }
    const chunks = 2 * (1 + ROUNDS * (1 + TINY));
    expectEachChunkOnce(v, counts, chunks);
    // Every task went through the 8 slots, and through no other.
    expect(slots[SLOTS]).toBe(0);
    expect(slots.reduce((a, n) => a + n, 0)).toBe(chunks);
  });
});

describe('worker faults', () => {
  const reqs = mixedRequests(20_000, 5);
  let reference: VerifyResult[];
  beforeAll(async () => {
    const single = await TotpVerifier.create({ threads: 0, window: 2 });
    reference = await single.verifyBatch(reqs);
    await single.close();
  });

  async function faulty(fault: string, budget: number, extra: { taskTimeout?: number; workerHeapMb?: number } = {}, ownerSlots?: number) {
    const faultBudget = new Int32Array(new SharedArrayBuffer(4));
    faultBudget[0] = budget;
    return TotpVerifier.createWithInternals(
      { threads: 2, window: 2, inlineThreshold: 100, ...extra },
      { workerFile: FAULTY, workerData: { fault, faultBudget }, ownerSlots },
    );
  }

  for (const fault of ['exit', 'throw', 'uncaught', 'oom', 'hang']) {
    it(`a worker that fails once (${fault}) costs nothing: its chunk is re-run and the next batch succeeds`, async () => {
      const v = await faulty(fault, 1, fault === 'hang' ? { taskTimeout: 2000 } : fault === 'oom' ? { workerHeapMb: 32 } : {});
      try {
        expect(await v.verifyBatch(reqs)).toEqual(reference);
        const stats = v.stats().pool;
        // A worker that dies takes the chunks queued on it along; each is re-run once.
        expect(stats.chunksRetried).toBeGreaterThanOrEqual(1);
        expect(stats.chunksFailed).toBe(0);
        expect(await v.verifyBatch(reqs)).toEqual(reference);
      } finally {
        await v.close();
      }
    });
  }

  for (const fault of ['exit', 'hang']) {
    it(`with a single owner slot, a worker that fails once (${fault}) costs nothing: its retry waits for the slot the failed task gives back`, async () => {
      // The failed attempt holds the only slot until piscina settles it (after its worker is
      // gone); the retry and the batch's other chunks wait for it in turn, none for ever.
      const v = await faulty(fault, 1, fault === 'hang' ? { taskTimeout: 2000 } : {}, 1);
      try {
        expect(await v.verifyBatch(reqs)).toEqual(reference);
        expect(v.stats().pool).toMatchObject({ chunksRetried: 1, chunksFailed: 0 });
      } finally {
        await v.close();
      }
    });
  }

  it('items of a chunk that fails twice are errors: never valid, never invalid, never dropped', async () => {
    const v = await faulty('exit', 1_000_000);
    try {
      await expectDispatchedErrors(v, reqs, reference);
    } finally {
      await v.close();
    }
  });
});

describe('a worker module that cannot load', () => {
  it('answers every dispatched item error, keeps the process alive, and a pool with a good module still works after', async () => {
    const reqs = mixedRequests(5_000, 9);
    const single = await TotpVerifier.create({ threads: 0, window: 2 });
    const reference = await single.verifyBatch(reqs);
    await single.close();
    const bad = await TotpVerifier.createWithInternals({ threads: 2, window: 2, inlineThreshold: 100 }, { workerFile: UNLOADABLE });
    try {
      await expectDispatchedErrors(bad, reqs, reference);
    } finally {
      await bad.close();
    }
    const good = await TotpVerifier.create({ threads: 2, window: 2, inlineThreshold: 100 });
    try {
      expect(await good.verifyBatch(reqs)).toEqual(reference);
    } finally {
      await good.close();
    }
  });
});

describe('backpressure and close', () => {
  it('refuses a batch at once with ERR_OVERLOADED when too many items are in flight', async () => {
    const v = await TotpVerifier.create({ threads: 1, inlineThreshold: 10, maxQueue: 30_000 });
    try {
      const big = mixedRequests(25_000, 6);
      const first = v.verifyBatch(big);
      let firstAnswered = false;
      void first.then(() => { firstAnswered = true; });
      await expect(v.verifyBatch(big)).rejects.toMatchObject({ code: 'ERR_OVERLOADED' });
      // At once: refused while the first batch is still in its worker, not queued behind it.
      // (Checked by order, not by a time limit: this machine's load stretched "at once" past
      // 100 ms in one run.)
      expect(firstAnswered).toBe(false);
      expect((await first).length).toBe(big.length);
      expect(firstAnswered).toBe(true);
    } finally {
      await v.close();
    }
  });

  it('admits one batch larger than maxQueue when nothing else is in flight, and refuses a second beside it', async () => {
    const v = await TotpVerifier.create({ threads: 1, inlineThreshold: 10, maxQueue: 100 });
    try {
      const big = mixedRequests(500, 8);
      const first = v.verifyBatch(big);
      await expect(v.verifyBatch(big.slice(0, 1))).rejects.toMatchObject({ code: 'ERR_OVERLOADED' });
      expect((await first).length).toBe(big.length);
      // Idle again: admitted again.
      expect((await v.verifyBatch(big)).length).toBe(big.length);
    } finally {
      await v.close();
    }
  });

  it('close() answers every request in flight, then refuses new ones', async () => {
    const v = await TotpVerifier.create({ threads: 2, inlineThreshold: 10 });
    const reqs = mixedRequests(30_000, 7);
    const batch = v.verifyBatch(reqs);
    const singles = reqs.slice(0, 500).map((r) => v.verify(r));
    const closing = v.close();
    await expect(v.verifyBatch(reqs)).rejects.toBeInstanceOf(TotpFleetError);
    await expect(v.verify(reqs[0]!)).rejects.toMatchObject({ code: 'ERR_CLOSED' });
    const [results, one] = await Promise.all([batch, Promise.all(singles), closing]);
    expect(results).toHaveLength(reqs.length);
    expect(one).toHaveLength(500);
    expect(results.some((r) => r.status === 'error') || one.some((r) => r.status === 'error')).toBe(false);
  });
});

describe('dispatch decisions', () => {
  it('sends a batch at or above inlineThreshold to the workers and a smaller one inline (defaults)', async () => {
    const v = await TotpVerifier.create({ threads: 2 });
    try {
      const threshold = v.options.inlineThreshold;
      await v.verifyBatch(mixedRequests(threshold, 8));
      expect(v.stats().pool).toMatchObject({ chunksInline: 0 });
      expect(v.stats().pool.chunksPooled).toBeGreaterThanOrEqual(2);
      await v.verifyBatch(mixedRequests(threshold - 1, 9));
      expect(v.stats().pool.chunksInline).toBeGreaterThan(0);
    } finally {
      await v.close();
    }
  });

  it('counts a deadline from when a worker takes the chunk, not while it waits in a queue', async () => {
    // One worker and enough queued chunks of 8192 wrong codes (window 10) that the last waits far
    // longer than the 250 ms deadline before it starts: each takes a few ms to a few tens of ms,
    // so their number comes from how long the warm-up's took on this machine (at least 40, for
    // ~3 deadlines of work; the queue bound raised to hold them). None may fail. The worker's
    // first chunks run before the timing, while its engine warms.
    const v = await TotpVerifier.create({ threads: 1, inlineThreshold: 0, window: 10, taskTimeout: 250, maxQueue: 4_000_000 });
    try {
      const secret = randomBytes(20);
      const reqs = Array.from({ length: 8192 }, () => ({ secret, code: '000000', timestamp: TS }));
      for (let i = 0; i < 5; i++) await v.verifyBatch(reqs);
      const t = performance.now();
      for (let i = 0; i < 5; i++) await v.verifyBatch(reqs);
      const chunks = Math.min(400, Math.max(40, Math.ceil((3 * 250) / ((performance.now() - t) / 5))));
      const started = performance.now();
      const all = await Promise.all(Array.from({ length: chunks }, () => v.verifyBatch(reqs)));
      const elapsed = performance.now() - started;
      expect(new Set(all.flat().map((r) => r.status))).toEqual(new Set(['invalid']));
      expect(v.stats().pool).toMatchObject({ chunksRetried: 0, chunksFailed: 0 });
      // The scenario is only meaningful if the queue outlasted the deadline.
      expect(elapsed).toBeGreaterThan(250);
    } finally {
      await v.close();
    }
  });

  it('does not end a worker that finished its chunk before the calling thread read the answer', async () => {
    // The calling thread is kept from its event loop (as a starved one is) from just after the
    // deadline's first check, which sees the chunk taken and running, until well after its
    // second: by then the worker has answered, but its answer waits in the port behind that
    // timer. A worker that has answered is not running its chunk: no deadline was missed, and
    // the chunk must be neither retried nor answered `error`.
    const taskTimeout = 5;
    const v = await TotpVerifier.create({ threads: 1, inlineThreshold: 0, window: 10, taskTimeout });
    try {
      // 8192 wrong codes at window 10 (21 steps each): a chunk of some tens of ms.
      const secret = randomBytes(20);
      const reqs = Array.from({ length: 8192 }, () => ({ secret, code: '000000', timestamp: TS }));
      await v.verifyBatch(reqs.slice(0, 16)); // the worker's engine warm and idle
      const answer = v.verifyBatch(reqs);
      setTimeout(() => setImmediate(() => {
        const until = performance.now() + 1000;
        while (performance.now() < until) { /* the calling thread kept busy */ }
      }), taskTimeout + 3);
      const results = await answer;
      expect(new Set(results.map((r) => r.status))).toEqual(new Set(['invalid']));
      expect(v.stats().pool).toMatchObject({ chunksRetried: 0, chunksFailed: 0, workerFailures: 0 });
    } finally {
      await v.close();
    }
  });

  it('close() called twice: both calls wait for the same closing', async () => {
    const v = await TotpVerifier.create({ threads: 1, inlineThreshold: 0 });
    const pending = v.verifyBatch(mixedRequests(20_000, 10));
    const first = v.close();
    const second = v.close();
    expect(second).toBe(first);
    await second;
    expect((await pending).some((r) => r.status === 'error')).toBe(false);
  });
});
