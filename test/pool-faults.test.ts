// The worker pool's rarer faults, against SECURITY.md R8 (fail closed) and R12 (every request
// answered, no hang): a worker stuck before its first claim, workers that die while they load, a
// retry after a missed deadline on one thread, close() while tasks wait for an owner slot, a task
// settled unclaimed while helpOut runs, a chunk that cannot be copied for a worker. All but the
// close() and loading ones failed on the code before their fixes (2026-11-24).

import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Piscina } from 'piscina';
import { TotpVerifier, totp, type VerifyRequest, type VerifyResult } from '../src/index.js';
import { BatchPacker, packParams, type PackedChunk } from '../src/batch.js';
import { Dispatcher, RESULT_ERROR } from '../src/pool.js';
import { inlineCore } from '../src/wasm.js';

const STALLED = new URL('./fixtures/stalled-worker.mjs', import.meta.url);
const EXITING = new URL('./fixtures/exiting-worker.mjs', import.meta.url);
const FAULTY = new URL('./fixtures/faulty-worker.mjs', import.meta.url);
const KILLER = new URL('./fixtures/killer-worker.mjs', import.meta.url);
const STUCK_BETWEEN = new URL('./fixtures/stuck-between-worker.mjs', import.meta.url);
const TS = 1_700_000_015_000;

function requests(n: number): VerifyRequest[] {
  const secret = randomBytes(20);
  const code = totp.generate(secret, { timestamp: TS });
  return Array.from({ length: n }, (_, i) => ({ secret, code: i % 2 === 0 ? code : '000000', timestamp: TS }));
}

/** `p`, or 'hung' if it has not settled after `ms`. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | 'hung'> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<'hung'>((resolve) => { timer = setTimeout(() => resolve('hung'), ms); });
  try {
    return await Promise.race([p, hung]);
  } finally {
    clearTimeout(timer);
  }
}

describe('R12: a batch is answered even when no worker ever claims its tasks', () => {
  it('a worker stalled before it claims anything (taskTimeout 300 ms, stall 1 s): the batch is answered, errors, within 20 s', async () => {
    const v = await TotpVerifier.createWithInternals(
      { threads: 1, window: 1, inlineThreshold: 100, taskTimeout: 300, store: null },
      { workerFile: STALLED, workerData: { stallForMs: 40_000 }, stallMs: 1000 },
    );
    const reqs = requests(2000);
    const got = await within(v.verifyBatch(reqs), 20_000);
    void within(v.close(), 1000);
    expect(got).not.toBe('hung');
    const results = got as VerifyResult[];
    expect(results).toHaveLength(reqs.length);
    expect(new Set(results.map((r) => r.status))).toEqual(new Set(['error']));
  });

  it('workers that die while they load (every replacement too): the batch is answered, errors, within 20 s', async () => {
    const v = await TotpVerifier.createWithInternals(
      { threads: 1, window: 1, inlineThreshold: 100, taskTimeout: 300, store: null },
      { workerFile: EXITING },
    );
    const reqs = requests(2000);
    for (let batch = 0; batch < 3; batch++) {
      const got = await within(v.verifyBatch(reqs), 20_000);
      expect(got, `batch ${batch}`).not.toBe('hung');
      const results = got as VerifyResult[];
      expect(results).toHaveLength(reqs.length);
      expect(new Set(results.map((r) => r.status))).toEqual(new Set(['error']));
    }
    expect(await within(v.close(), 20_000)).not.toBe('hung');
  });
});

describe('a chunk that misses its deadline once is run once more, and costs nothing', () => {
  it('one worker (threads 1), one hang: the retry is run (not posted to the worker being terminated), no item is an error', async () => {
    const faultBudget = new Int32Array(new SharedArrayBuffer(4));
    faultBudget[0] = 1;
    const v = await TotpVerifier.createWithInternals(
      { threads: 1, window: 1, inlineThreshold: 100, taskTimeout: 500, store: null },
      { workerFile: FAULTY, workerData: { fault: 'hang', faultBudget } },
    );
    try {
      const reqs = requests(2000);
      const results = await v.verifyBatch(reqs);
      const stats = v.stats().pool;
      expect(stats.chunksRetried).toBe(1);
      expect({ chunksFailed: stats.chunksFailed, errors: results.filter((r) => r.status === 'error').length })
        .toEqual({ chunksFailed: 0, errors: 0 });
    } finally {
      await v.close();
    }
  });
});

describe('close() while tasks wait for an owner slot', () => {
  it('every batch admitted before close() is answered in full (1 owner slot, 8 batches of 2 slices), then close() resolves', async () => {
    const v = await TotpVerifier.createWithInternals(
      { threads: 2, window: 1, inlineThreshold: 100, store: null }, { ownerSlots: 1 },
    );
    const reqs = requests(4000);
    // The pool's first answer (helpOut joins only after one).
    await v.verifyBatch(reqs);
    const batches = Array.from({ length: 8 }, () => v.verifyBatch(reqs));
    const closing = v.close();
    const got = await within(Promise.all(batches), 20_000);
    expect(got).not.toBe('hung');
    for (const results of got as VerifyResult[][]) {
      expect(results).toHaveLength(reqs.length);
      expect(results.filter((r) => r.status === 'error')).toHaveLength(0);
      expect(results.filter((r) => r.status === 'valid')).toHaveLength(reqs.length / 2);
    }
    expect(await within(closing, 20_000)).not.toBe('hung');
    expect(v.stats().pool).toMatchObject({ inFlight: 0, chunksFailed: 0, workerFailures: 0 });
  });
});

describe('helpOut claims only a slot its task still holds', () => {
  it('an open task whose pool task was rejected unclaimed is not run here on a slot handed to another task meanwhile', async () => {
    // White-box: helpOut is called at one chosen microtask, between piscina rejecting task A
    // (its worker died before reaching it) and A's #runOnPool leaving #open. By then A's slot
    // has gone to a task that waited for one (W2); claiming it for A takes W2's slot word, and
    // W2's worker then finds W2 "run here" and leaves it: W2 is retried for nothing (and a W2
    // already on its retry would have been answered `error`).
    const layout = inlineCore().layout;
    const killBudget = new Int32Array(new SharedArrayBuffer(4));
    const tally = new Int32Array(new SharedArrayBuffer(4 * 32));
    const d = new Dispatcher(
      { threads: 1, inlineThreshold: 0 },
      { workerFile: KILLER, workerData: { killBudget, killCount: 3, tally }, ownerSlots: 2 },
    );
    const key = randomBytes(20);
    const params = packParams(layout, 6, 1, 1);
    const chunk = (count: number): PackedChunk => {
      const packer = new BatchPacker(layout, count, count, layout.midStride / 4, undefined, true);
      for (let i = 0; i < count; i++) packer.addKey(key, 1000 + i, 123456, params);
      const [c] = packer.finish();
      return c!;
    };
    const run = Piscina.prototype.run;
    try {
      // One answer from the pool first (helpOut joins only after one).
      const first = await d.run([chunk(4)], 4, 'verify', true);
      expect(first.includes(RESULT_ERROR)).toBe(false);
      killBudget[0] = 1;
      let injected = false;
      Piscina.prototype.run = function (this: Piscina, task: any, options?: any) {
        const posted = run.call(this, task, options);
        if (task.chunk.count === 5 && !injected) {
          injected = true;
          posted.catch(() => queueMicrotask(() => d.helpOut()));
        }
        return posted;
      } as typeof run;
      // K (3 items) kills its worker unclaimed; A (5) is queued behind it; W1 (7), W2 (9) wait for a slot.
      const chunks = [chunk(3), chunk(5), chunk(7), chunk(9)];
      const out = await d.run(chunks, 24, 'verify', true);
      expect(injected).toBe(true);
      expect(out.includes(RESULT_ERROR)).toBe(false);
      expect(d.stats()).toMatchObject({ chunksFailed: 0 });
      // No chunk both left by a worker as run here (its slot word taken) and run on a worker:
      // it was then either run twice, or (W2) left by its worker without having been run here.
      for (const n of [3, 5, 7, 9]) {
        expect({ n, leftAndRun: tally[2 * n]! > 0 && tally[2 * n + 1]! > 0 }).toEqual({ n, leftAndRun: false });
      }
    } finally {
      Piscina.prototype.run = run;
      await d.close();
    }
  });
});

describe('R12: a worker stuck before it reaches a task the calling thread ran (helpOut)', () => {
  it('is ended once the pool stands still for stallMs: the answers it held are run again, the batch is answered', async () => {
    // One worker. B (3 items) keeps it busy; meanwhile A (5) and H (7) are posted, so it takes
    // them together once B is done. It runs A, then gets stuck before it claims H: with
    // atomics 'sync', A's answer waits with it. The calling thread runs H itself (helpOut), so
    // H's owner word is OWNER_CALLER, not 0: the stall check skipped it, A's deadline waits
    // for an answer already given, and the batch hung until the worker came back (20 s here).
    const layout = inlineCore().layout;
    const d = new Dispatcher(
      { threads: 1, inlineThreshold: 0, taskTimeout: 1000 },
      { workerFile: STUCK_BETWEEN, workerData: { busyCount: 3, busyMs: 400, stuckCount: 7, stallForMs: 20_000 }, stallMs: 1000 },
    );
    const key = randomBytes(20);
    const code = Number(totp.generate(key, { timestamp: TS }));
    const step = Math.floor(TS / 30_000);
    const params = packParams(layout, 6, 1, 1);
    const chunk = (count: number): PackedChunk => {
      const packer = new BatchPacker(layout, count, count, layout.midStride / 4, undefined, true);
      for (let i = 0; i < count; i++) packer.addKey(key, step, code, params);
      return packer.finish()[0]!;
    };
    try {
      const busy = d.run([chunk(3)], 3, 'verify', true);
      // B claimed and running before A and H are posted.
      await new Promise((resolve) => setTimeout(resolve, 100));
      const batch = d.run([chunk(5), chunk(7)], 12, 'verify', true);
      expect(await within(busy, 5000)).toEqual(new Int32Array(3));
      // A is the worker's (the oldest open task); H is run here.
      d.helpOut();
      expect(d.stats().chunksInline).toBe(1);
      const got = await within(batch, 10_000);
      expect(got).not.toBe('hung');
      // A run again on the replacement, H's results as run here: every item matches at delta 0.
      expect(got).toEqual(new Int32Array(12));
      expect(d.stats()).toMatchObject({ inFlight: 0, chunksRetried: 1, chunksFailed: 0 });
    } finally {
      void within(d.close(), 1000);
    }
  });
});

describe('R8: a chunk that cannot be handed to a worker is an error, never a rejected batch', () => {
  it('an allocation failure while posting one chunk (workerChunk) of an 18-slice batch: its items error, the rest answered, nothing unhandled', async () => {
    const v = await TotpVerifier.create({ threads: 2, window: 1, inlineThreshold: 100, store: null });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => { unhandled.push(reason); };
    process.on('unhandledRejection', onUnhandled);
    const slice = ArrayBuffer.prototype.slice;
    try {
      const reqs = requests(140_000); // slices of 8192 (2 threads): 18
      await v.verifyBatch(reqs.slice(0, 20_000));
      // The 17th chunk copied for a worker fails to allocate its raw-key copy (as under memory
      // pressure: RangeError "Array buffer allocation failed"), and so does its retry's.
      let calls = 0;
      ArrayBuffer.prototype.slice = function (this: ArrayBuffer, ...args: [number?, number?]) {
        const call = new Error().stack?.includes('workerChunk') === true ? ++calls : 0;
        if (call === 17 || call === 18) throw new RangeError('Array buffer allocation failed');
        return slice.apply(this, args);
      };
      const got = await v.verifyBatch(reqs).then((r) => r, (error: unknown) => error);
      ArrayBuffer.prototype.slice = slice;
      const chunksRun = (): number => v.stats().pool.chunksPooled + v.stats().pool.chunksInline;
      const atAnswer = chunksRun();
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(unhandled).toEqual([]);
      expect(got).toBeInstanceOf(Array);
      const results = got as VerifyResult[];
      expect(results).toHaveLength(reqs.length);
      const counts: Record<string, number> = {};
      for (const r of results) counts[r.status] = (counts[r.status] ?? 0) + 1;
      // One chunk's items are errors (fail closed), every other item answered as it should be.
      expect(counts.error).toBe(8192);
      expect(counts.valid).toBe(reqs.length / 2 - 4096);
      // Answered only once every chunk of it was: 18 + the first batch's 3 (on the workers or
      // here, helpOut), none later.
      expect(atAnswer).toBe(21);
      expect(chunksRun()).toBe(21);
    } finally {
      ArrayBuffer.prototype.slice = slice;
      process.off('unhandledRejection', onUnhandled);
      await v.close();
    }
  });
});
