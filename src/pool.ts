// Dispatch: where packed chunks run. Small batches run inline on the calling thread, because a
// pool round trip costs tens of microseconds; large ones are spread over piscina workers.
//
// Faults (SECURITY.md R8, R12): a chunk whose worker dies (exit, uncaught throw, out of memory)
// or misses its deadline is run once more on a fresh copy; if that fails too, its items are
// answered RESULT_ERROR. Never dropped, never a guess. Admission is bounded: past `maxQueue`
// items in flight, a batch is refused at once with ERR_OVERLOADED.

import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import { type KernelMode, type PackedChunk, runChunk, warmCore, wipeChunk } from './batch.js';
import { intOption, TotpFleetError } from './errors.js';
import { type Core, coreModule, inlineCore } from './wasm.js';
import type { PoolWorkerData, WorkerTask } from './worker.js';

/**
 * A JS-side result for an item whose chunk could not be run (worker or core failure).
 * Outside every value the core writes (deltas, RESULT_NO_MATCH, RESULT_MALFORMED).
 */
export const RESULT_ERROR = -0x40000000;

/** Slots of the task-owner table (a ring; a slot is reused after this many tasks). */
const OWNER_SLOTS = 4096;

/** The compiled worker: dist/worker.js, also when this file runs from src/ under a test runner. */
const WORKER_URL = new URL('../dist/worker.js', import.meta.url);

export interface PoolOptions {
  /** Worker threads; 0 runs everything inline. Default: the available parallelism. */
  threads?: number;
  /**
   * Batches with fewer items than this run inline. Default 16,384: below it a pool round trip
   * measured slower than the work it moves (bench/inline-threshold.ts; README).
   */
  inlineThreshold?: number;
  /** Items in flight (queued or running) before new batches are refused. Default 1,000,000. */
  maxQueue?: number;
  /** Milliseconds a chunk may run in a worker before it counts as failed. Default 30,000. */
  taskTimeout?: number;
  /** Memory limit of each worker's heap, in MB. Default 256. */
  workerHeapMb?: number;
}

/** @internal Test hooks: another worker file (fault injection) and extra workerData. */
export interface PoolInternals {
  workerFile?: URL | string;
  workerData?: Record<string, unknown>;
}

export interface PoolStats {
  threads: number;
  inFlight: number;
  chunksRetried: number;
  chunksFailed: number;
  workerFailures: number;
}

function copyChunk(chunk: PackedChunk): PackedChunk {
  return { ...chunk, fixed: chunk.fixed.slice(0), keyBuffer: chunk.keyBuffer.slice(0, chunk.keyBytes) };
}

/** Runs packed chunks inline or on workers and answers one result per item. */
export class Dispatcher {
  readonly threads: number;
  readonly inlineThreshold: number;
  readonly maxQueue: number;
  readonly taskTimeout: number;
  readonly #core: Core;
  readonly #pool: Piscina<WorkerTask, Int32Array> | undefined;
  #inFlight = 0;
  #retried = 0;
  #failed = 0;
  #workerFailures = 0;
  #closed = false;
  /** close() waiting for admitted work to finish. */
  #idle: (() => void)[] = [];
  /** Which worker (threadId) claimed the task in each slot; see #withDeadline. */
  readonly #owners = new Int32Array(new SharedArrayBuffer(4 * OWNER_SLOTS));
  #slotCursor = 0;

  constructor(opts: PoolOptions = {}, internals: PoolInternals = {}) {
    const cores = availableParallelism();
    this.threads = intOption('threads', opts.threads, 0, 256, cores);
    this.inlineThreshold = intOption('inlineThreshold', opts.inlineThreshold, 0, Number.MAX_SAFE_INTEGER, 16_384);
    this.maxQueue = intOption('maxQueue', opts.maxQueue, 1, Number.MAX_SAFE_INTEGER, 1_000_000);
    this.taskTimeout = intOption('taskTimeout', opts.taskTimeout, 1, 3_600_000, 30_000);
    const heapMb = intOption('workerHeapMb', opts.workerHeapMb, 16, 65_536, 256);
    this.#core = inlineCore();
    warmCore(this.#core);
    if (this.threads > 0) {
      const workerData: PoolWorkerData & Record<string, unknown> = {
        ...internals.workerData, module: coreModule(), owners: this.#owners,
      };
      const file = internals.workerFile ?? WORKER_URL;
      this.#pool = new Piscina<WorkerTask, Int32Array>({
        filename: file instanceof URL ? file.href : file,
        minThreads: this.threads,
        maxThreads: this.threads,
        idleTimeout: Infinity,
        workerData,
        resourceLimits: { maxOldGenerationSizeMb: heapMb },
        // Idle workers sleep on Atomics; results come back as soon as they are ready.
        atomics: 'sync',
        // Several chunks queued per worker: while the calling thread is busy packing the next
        // slice it cannot hand out tasks, so each worker needs its next chunk in hand already.
        concurrentTasksPerWorker: 16,
      });
      // A worker that dies is reported on the task; keep the pool's own 'error' from throwing.
      this.#pool.on('error', () => { this.#workerFailures++; });
    }
  }

  /** Items of a batch this size go to workers in chunks of at most this many. */
  chunkItems(total: number): number {
    if (this.#pool === undefined || total < this.inlineThreshold) return this.#core.layout.maxItems;
    return Math.min(this.#core.layout.maxItems, Math.ceil(total / this.threads));
  }

  /**
   * A batch this size is prepared and dispatched in slices of this many requests: one chunk
   * per slice on the pool (so packing overlaps the workers), the whole batch inline.
   */
  sliceItems(total: number): number {
    if (this.#pool === undefined || total < this.inlineThreshold) return Math.max(1, total);
    return this.chunkItems(total);
  }

  /**
   * Admits a batch of `total` items, or throws ERR_OVERLOADED at once when more than
   * `maxQueue` items would be in flight. Every admit is paired with a `release`.
   */
  admit(total: number): void {
    if (this.#closed) throw new TotpFleetError('ERR_CLOSED', 'the verifier is closed');
    if (this.#inFlight > 0 && this.#inFlight + total > this.maxQueue) {
      throw new TotpFleetError('ERR_OVERLOADED',
        `overloaded: ${this.#inFlight} items in flight, limit ${this.maxQueue}; retry later`);
    }
    this.#inFlight += total;
  }

  release(total: number): void {
    this.#inFlight -= total;
    if (this.#inFlight === 0) for (const done of this.#idle.splice(0)) done();
  }

  stats(): PoolStats {
    return {
      threads: this.threads,
      inFlight: this.#inFlight,
      chunksRetried: this.#retried,
      chunksFailed: this.#failed,
      workerFailures: this.#workerFailures,
    };
  }

  /**
   * Runs `chunks` (`total` items in all, admitted with `admit`); resolves to one result per
   * item, in order. Never rejects: a chunk that cannot be run is answered RESULT_ERROR.
   */
  async run(chunks: readonly PackedChunk[], total: number, mode: KernelMode): Promise<Int32Array> {
    const out = new Int32Array(total);
    try {
      if (this.#pool === undefined || total < this.inlineThreshold) {
        let offset = 0;
        for (const c of chunks) {
          this.#runInline(c, mode, out, offset);
          offset += c.count;
        }
      } else {
        let offset = 0;
        const runs: Promise<void>[] = [];
        for (const c of chunks) {
          runs.push(this.#runOnPool(c, mode, out, offset));
          offset += c.count;
        }
        await Promise.all(runs);
      }
    } finally {
      for (const c of chunks) wipeChunk(c);
    }
    return out;
  }

  #runInline(chunk: PackedChunk, mode: KernelMode, out: Int32Array, offset: number): void {
    try {
      runChunk(this.#core, chunk, mode, out, offset);
    } catch {
      // The core does not trap on data; if it fails anyway, its items are errors, not guesses.
      this.#failed++;
      out.fill(RESULT_ERROR, offset, offset + chunk.count);
    }
  }

  #nextSlot(): number {
    const slot = this.#slotCursor;
    this.#slotCursor = (slot + 1) % OWNER_SLOTS;
    Atomics.store(this.#owners, slot, 0);
    return slot;
  }

  /**
   * `task`, or a rejection once `taskTimeout` ms have passed. On the deadline, the worker that
   * claimed the task (its threadId in the owners table) is terminated: piscina then rejects the
   * tasks it held and starts a replacement. If no worker claimed it, every worker is
   * terminated, since one of them is stuck ahead of it.
   *
   * (piscina's own AbortSignal deadline is not used: piscina never queues a second task on a
   * worker running an abortable one, so the calling thread would have to hand out each chunk
   * when the previous one returns, and the pool measured 1.5x slower for it.)
   */
  #withDeadline<T>(task: Promise<T>, slot: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const owner = Atomics.load(this.#owners, slot);
        const threads = this.#pool?.threads ?? [];
        for (const worker of threads) {
          if (owner === 0 || worker.threadId === owner) void worker.terminate();
        }
        reject(new Error('deadline'));
      }, this.taskTimeout);
    });
    return Promise.race([task, deadline]).finally(() => clearTimeout(timer));
  }

  async #runOnPool(chunk: PackedChunk, mode: KernelMode, out: Int32Array, offset: number): Promise<void> {
    const pool = this.#pool!;
    for (let attempt = 0; attempt < 2; attempt++) {
      // The worker gets a copy, moved: the original stays here in case the worker dies with it.
      const copy = copyChunk(chunk);
      try {
        const slot = this.#nextSlot();
        const result = await this.#withDeadline(
          pool.run({ chunk: copy, mode, slot }, { transferList: [copy.fixed, copy.keyBuffer] }),
          slot,
        );
        if (!(result instanceof Int32Array) || result.length !== chunk.count) {
          throw new Error('worker returned a malformed result');
        }
        out.set(result, offset);
        return;
      } catch {
        // Exit, uncaught throw, out of memory, deadline: the worker is gone or was terminated,
        // and piscina starts a replacement. Nothing from it is trusted.
        this.#workerFailures++;
        if (attempt === 0) this.#retried++;
      }
    }
    this.#failed++;
    out.fill(RESULT_ERROR, offset, offset + chunk.count);
  }

  /** Refuses new batches, lets admitted ones finish, then stops the workers. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#inFlight > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
    await this.#pool?.close();
  }
}
