// Dispatch: where packed chunks run. Small batches run inline on the calling thread, because a
// pool round trip costs tens of microseconds; large ones are spread over piscina workers, and
// the calling thread, once it has posted them all, runs those no worker has started (helpOut).
//
// Faults (SECURITY.md R8, R12): a chunk whose worker dies (exit, uncaught throw, out of memory)
// or misses its deadline is run once more on a fresh copy; if that fails too, its items are
// answered RESULT_ERROR. Never dropped, never a guess. Admission is bounded: past `maxQueue`
// items in flight, a batch is refused at once with ERR_OVERLOADED. Tasks on the pool are bounded
// too: each holds a slot of the owners table from when it is posted until piscina settles it,
// and past OWNER_SLOTS of them a task waits for a slot (a batch, once admitted, runs whole).

import { availableParallelism } from 'node:os';
import { pathToFileURL } from 'node:url';
import { Piscina } from 'piscina';
import { type KernelMode, type PackedChunk, releaseChunk, runChunk, warmCore, wipeKeys } from './batch.js';
import { intOption, TotpFleetError } from './errors.js';
import { type Core, coreModule, inlineCore } from './wasm.js';
import type { PoolWorkerData, WorkerTask } from './worker.js';

/**
 * A JS-side result for an item whose chunk could not be run (worker or core failure).
 * Outside every value the core writes (deltas, RESULT_NO_MATCH, RESULT_MALFORMED).
 */
export const RESULT_ERROR = -0x40000000;

/**
 * Slots of the task-owner table: tasks posted to the pool and not yet settled there, at most
 * (a task past that waits for a slot before it is posted; see #takeSlot).
 */
const OWNER_SLOTS = 65_536;

/**
 * The owner word of a task the calling thread took (see `Dispatcher.helpOut`): below every
 * −threadId a worker writes once it has answered, and not a threadId.
 */
export const OWNER_CALLER = -0x80000000;

/** A task on the pool that the calling thread may still take and run itself (see helpOut). */
interface OpenTask {
  readonly chunk: PackedChunk;
  readonly mode: KernelMode;
  readonly out: Int32Array;
  readonly offset: number;
  readonly slot: number;
  /** Set when the calling thread claimed the task and ran it (its results are in `out`). */
  ranHere: boolean;
  /** Called once the calling thread has run it: the task is answered without the worker. */
  done: (() => void) | undefined;
}

/**
 * The least time, in ms, for which no worker reaches any task while a task waits unclaimed and
 * none runs, before the workers are taken to be stuck and ended (#withDeadline); at least two
 * `taskTimeout` periods. Long against a worker's start (its module loaded, its core made and
 * warmed: well under a second here), which a short taskTimeout must not be mistaken for.
 */
const STALL_MS = 10_000;

/** The compiled worker: dist/worker.js, also when this file runs from src/ under a test runner. */
const WORKER_URL = new URL('../dist/worker.js', import.meta.url);
/** What piscina loads: a CommonJS entry that import()s the worker module (see worker-entry.cts). */
const WORKER_ENTRY = new URL('../dist/worker-entry.cjs', import.meta.url);

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

/** @internal Test hooks: another worker file (fault injection), extra workerData, a smaller owners table. */
export interface PoolInternals {
  workerFile?: URL | string;
  workerData?: Record<string, unknown>;
  /** Slots of the owners table (default OWNER_SLOTS): a few, to make tasks wait for one. */
  ownerSlots?: number;
  /** How long the workers may make no progress at all before a task unclaimed meanwhile ends them (default STALL_MS). */
  stallMs?: number;
}

export interface PoolStats {
  threads: number;
  inFlight: number;
  /** Chunks run on the calling thread, and on workers. */
  chunksInline: number;
  chunksPooled: number;
  chunksRetried: number;
  chunksFailed: number;
  workerFailures: number;
}

/**
 * Slices of one batch handed to the pool and not yet answered, at most (see `slicesInFlight`);
 * batch.ts keeps as many packing buffers: each slice in flight holds one, so a batch of any
 * size reuses them rather than faulting in fresh ones.
 */
const SLICES_IN_FLIGHT = 16;

/**
 * `chunk` as a worker gets it: its fixed buffer shared (packed in a SharedArrayBuffer for the
 * pool: the worker reads it there and never writes to it, so it stays whole here in case the
 * worker dies with it, and a retry posts it again), its raw keys (if any) in a copy of their
 * own, moved. Each chunk used to be copied whole for its worker (557 KB for 8192 SHA-1 items),
 * and the worker wiped the copy and answered in it.
 */
function workerChunk(chunk: PackedChunk): PackedChunk {
  let fixed = chunk.fixed;
  if (!(fixed instanceof SharedArrayBuffer)) {
    // Not packed for the pool (BatchPacker's `shared`): shared now, in a copy.
    fixed = new SharedArrayBuffer(chunk.fixed.byteLength);
    new Uint8Array(fixed).set(new Uint8Array(chunk.fixed));
  }
  return { ...chunk, fixed, keyBuffer: chunk.keyBuffer.slice(0, chunk.keyBytes) };
}

/** Resolves once `task` has settled, or after `ms` milliseconds, whichever is first; never rejects. */
function settledWithin(task: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    task.then(done, done);
  });
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
  #chunksInline = 0;
  #chunksPooled = 0;
  #retried = 0;
  #failed = 0;
  #workerFailures = 0;
  #closed = false;
  /** close() waiting for admitted work to finish. */
  #idle: (() => void)[] = [];
  /**
   * Per task slot: the owner word, 0 (unclaimed), the threadId of the worker that claimed it,
   * OWNER_CALLER, or −threadId once answered; see #withDeadline and helpOut.
   */
  readonly #owners: Int32Array;
  /** Tasks the workers have reached ([0]; worker.ts claim): see #withDeadline. */
  readonly #progress = new Int32Array(new SharedArrayBuffer(4));
  readonly #stallMs: number;
  /**
   * Which slots a task holds (1): from when it is posted until piscina settles it, not just
   * until it is answered. A task the calling thread ran (helpOut) is answered at once, but its
   * worker has yet to reach it, find it claimed and leave it: were its slot handed on before,
   * the worker would read a later task's word instead of its own, and could run a chunk that
   * was run here already, its buffers reused meanwhile.
   */
  readonly #slotUsed: Uint8Array;
  #slotsFree: number;
  /** Where #takeSlot looks first: slots go round, so a slot rests for as long as possible. */
  #slotCursor = 0;
  /** Tasks waiting for a slot, oldest first; #freeSlot hands a freed slot to the first. */
  readonly #slotWaiters: ((slot: number) => void)[] = [];
  /** Tasks posted to the pool and not yet answered, oldest first (helpOut takes the newest). */
  readonly #open: OpenTask[] = [];
  /**
   * Whether the last task a worker finished succeeded: helpOut runs tasks here only then, so
   * that while workers fail (or before any has answered) faults take the path described above,
   * unchanged: re-run once, else RESULT_ERROR.
   */
  #workersSound = false;

  constructor(opts: PoolOptions = {}, internals: PoolInternals = {}) {
    const cores = availableParallelism();
    this.threads = intOption('threads', opts.threads, 0, 256, cores);
    this.inlineThreshold = intOption('inlineThreshold', opts.inlineThreshold, 0, Number.MAX_SAFE_INTEGER, 16_384);
    this.maxQueue = intOption('maxQueue', opts.maxQueue, 1, Number.MAX_SAFE_INTEGER, 1_000_000);
    this.taskTimeout = intOption('taskTimeout', opts.taskTimeout, 1, 3_600_000, 30_000);
    const heapMb = intOption('workerHeapMb', opts.workerHeapMb, 16, 65_536, 256);
    const slots = intOption('ownerSlots', internals.ownerSlots, 1, OWNER_SLOTS, OWNER_SLOTS);
    this.#owners = new Int32Array(new SharedArrayBuffer(4 * slots));
    this.#stallMs = Math.max(2 * this.taskTimeout, intOption('stallMs', internals.stallMs, 1, 3_600_000, STALL_MS));
    this.#slotUsed = new Uint8Array(slots);
    this.#slotsFree = slots;
    this.#core = inlineCore();
    warmCore(this.#core);
    if (this.threads > 0) {
      const file = internals.workerFile ?? WORKER_URL;
      const workerData: PoolWorkerData & Record<string, unknown> = {
        ...internals.workerData, module: coreModule(), owners: this.#owners, progress: this.#progress,
        workerModule: file instanceof URL ? file.href : file.startsWith('file:') ? file : pathToFileURL(file).href,
      };
      this.#pool = new Piscina<WorkerTask, Int32Array>({
        filename: WORKER_ENTRY.href,
        minThreads: this.threads,
        maxThreads: this.threads,
        idleTimeout: Infinity,
        workerData,
        resourceLimits: { maxOldGenerationSizeMb: heapMb },
        // Idle workers sleep on Atomics. A worker that wakes takes every task queued for it at
        // once and runs them one after another before it posts their answers, so the answers to
        // a batch's chunks come back in a group or two, the last with its last chunk (piscina
        // 5.3, tools/timeline.mjs). 'disabled' (a message event per task, each answer posted
        // when it is ready) measured no faster: 0.90-1.16x of this in both orders, round 12 of
        // docs/performance-history.md.
        atomics: 'sync',
        // Several chunks queued per worker: while the calling thread is busy packing the next
        // slice it cannot hand out tasks, so each worker needs its next chunk in hand already.
        concurrentTasksPerWorker: 16,
      });
      // A worker that dies is reported (and counted) on its tasks; this listener only keeps the
      // pool's own 'error' event from throwing.
      this.#pool.on('error', () => {});
    }
  }

  /** Items of a batch this size go to workers in chunks of at most this many. */
  chunkItems(total: number): number {
    if (!this.pooled(total)) return this.#core.layout.maxItems;
    return Math.min(this.#core.layout.maxItems, Math.ceil(total / this.threads));
  }

  /** Whether a batch of `total` items goes to the workers (decided once per batch). */
  pooled(total: number): boolean {
    return this.#pool !== undefined && total >= this.inlineThreshold;
  }

  /**
   * A batch this size is prepared and dispatched in slices of this many requests: one chunk
   * per slice on the pool (so packing overlaps the workers), the whole batch inline.
   */
  sliceItems(total: number): number {
    return this.pooled(total) ? this.chunkItems(total) : Math.max(1, total);
  }

  /**
   * Slices of a pooled batch handed out and not yet answered, at most: the calling thread waits
   * for the oldest before it packs another. Enough to keep every worker fed (on 2 workers, 8
   * chunks of 8192 each: ~18 ms of hashing), and no more than the chunk buffers kept for reuse: a
   * 200k batch had all of its 25 slices in flight, and 9 of them packed into fresh buffers (half
   * a megabyte each, allocated, faulted in and collected per batch).
   */
  readonly slicesInFlight = SLICES_IN_FLIGHT;

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
    if (this.#inFlight === 0 && this.#idle.length > 0) for (const done of this.#idle.splice(0)) done();
  }

  stats(): PoolStats {
    return {
      threads: this.threads,
      inFlight: this.#inFlight,
      chunksInline: this.#chunksInline,
      chunksPooled: this.#chunksPooled,
      chunksRetried: this.#retried,
      chunksFailed: this.#failed,
      workerFailures: this.#workerFailures,
    };
  }

  /**
   * Runs `chunks` (`total` items in all, admitted with `admit`) on the workers when `pooled`
   * (see `pooled()`: decided for the whole batch, not per slice), else here; resolves to one
   * result per item, in order. Never rejects: a chunk that cannot be run is RESULT_ERROR.
   */
  async run(chunks: readonly PackedChunk[], total: number, mode: KernelMode, pooled: boolean): Promise<Int32Array> {
    // A batch packed in the inline core runs there, now (BatchPacker's `core`).
    if (!pooled || this.#pool === undefined || chunks[0]?.core !== undefined) return this.runInline(chunks, total, mode);
    // Every slot starts as an error, so nothing unanswered can read as a match.
    const out = new Int32Array(total).fill(RESULT_ERROR);
    try {
      let offset = 0;
      const runs: Promise<void>[] = [];
      for (const c of chunks) {
        runs.push(this.#runOnPool(c, mode, out, offset));
        offset += c.count;
      }
      await Promise.all(runs);
    } finally {
      // Nothing reads the chunks after this (retries are over), so their buffers can be reused.
      for (const c of chunks) releaseChunk(c);
    }
    return out;
  }

  /**
   * `run` on the calling thread, now: the results, without a promise (a batch of one pays for
   * every microtask). Never throws: a chunk that cannot be run is RESULT_ERROR.
   */
  runInline(chunks: readonly PackedChunk[], total: number, mode: KernelMode): Int32Array {
    const out = new Int32Array(total).fill(RESULT_ERROR);
    try {
      let offset = 0;
      for (const c of chunks) {
        this.#runInline(c, mode, out, offset);
        offset += c.count;
      }
    } finally {
      // A chunk packed in the core was wiped there when it ran (runChunk always wipes).
      for (const c of chunks) if (c.core === undefined) releaseChunk(c);
    }
    return out;
  }

  #runInline(chunk: PackedChunk, mode: KernelMode, out: Int32Array, offset: number): void {
    this.#chunksInline++;
    try {
      runChunk(this.#core, chunk, mode, out, offset);
    } catch {
      // The core does not trap on data; if it fails anyway, its items are errors, not guesses.
      this.#failed++;
      out.fill(RESULT_ERROR, offset, offset + chunk.count);
    }
  }

  /**
   * A free slot of the owners table for a new task, unclaimed; −1 when every slot is held (then
   * #slotFreed). A slot is never handed out while a task holds it, so the word a worker or
   * the calling thread reads in a task's slot is that task's own.
   */
  #takeSlot(): number {
    if (this.#slotsFree === 0) return -1;
    const used = this.#slotUsed;
    let slot = this.#slotCursor;
    // Tasks settle about in the order they were posted, so the cursor's slot is almost always
    // free; one still held (a slow task, or one run here still queued on its worker) is
    // skipped. A free one exists (#slotsFree), so this ends.
    while (used[slot] !== 0) slot = slot + 1 === used.length ? 0 : slot + 1;
    this.#slotCursor = slot + 1 === used.length ? 0 : slot + 1;
    used[slot] = 1;
    this.#slotsFree--;
    Atomics.store(this.#owners, slot, 0);
    return slot;
  }

  /**
   * A slot for a task that found none free: the next one a settled task gives back (waiters
   * are served in order). Every slot is held by a task posted to piscina, which settles it when
   * its worker has returned from it or is gone, so this does not wait forever.
   */
  #slotFreed(): Promise<number> {
    return new Promise((resolve) => this.#slotWaiters.push(resolve));
  }

  /** The task holding `slot` has settled on the pool: no worker reads its word again. */
  #freeSlot(slot: number): void {
    const next = this.#slotWaiters.shift();
    if (next === undefined) {
      this.#slotUsed[slot] = 0;
      this.#slotsFree++;
      return;
    }
    Atomics.store(this.#owners, slot, 0);
    next(slot);
  }

  /**
   * `task`, or a rejection once the worker that claimed it has run it for `taskTimeout` ms
   * (between one and two periods, see below).
   * That worker (its threadId in the owners table) is then terminated: piscina rejects the
   * tasks it held and starts a replacement. A task not yet claimed is waiting in a queue, not
   * running: its timer is re-armed (a stuck task ahead of it has a deadline of its own); so is
   * that of a task its worker has run and answered, whose answer this thread has yet to read.
   * The slot is the task's until piscina settles it (#freeSlot), so the word read is its own.
   *
   * Unless it waits on a worker that is stuck before it reaches it (its start, say, blocked):
   * then no claim ever comes, and neither would an answer (R12). So a task still unclaimed (or
   * claimed by the calling thread, helpOut: answered, but the worker holding it has not reached
   * it, and may hold the answers of the tasks it ran before it) after
   * #stallMs in which no worker reached any task (#progress stood still) and none was running one
   * of this pool's tasks ends every worker (a worker that moves reaches the tasks queued on it
   * within microseconds; one running a task has that task's deadline): piscina rejects the tasks
   * they held, and each is run once more on their replacements, as after any other failure.
   * (One stuck worker beside others that never pause is not caught: ending a worker that runs a
   * task, or one a waiting task may sit behind, would cost more than it saves.)
   *
   * (piscina's own AbortSignal deadline is not used: piscina never queues a second task on a
   * worker running an abortable one, so the calling thread would have to hand out each chunk
   * when the previous one returns, and the pool measured 1.5x slower for it.)
   */
  #withDeadline<T>(task: Promise<T>, slot: number): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      // The claim is seen only when a timer fires, so a claimed task gets one more full period
      // from then: it runs at least taskTimeout and at most twice that before it is ended.
      let claimSeen = false;
      let progress = Atomics.load(this.#progress, 0);
      let moved = performance.now();
      const expire = (): void => {
        const owner = Atomics.load(this.#owners, slot);
        // Unclaimed, or claimed by the calling thread (helpOut: answered here, but still held by
        // a worker that has yet to reach it and leave it): either way no worker has reached it.
        // A worker stuck before it does holds the task (its slot, close()) and, with atomics
        // 'sync', the answers to the tasks it ran before it: only ending it settles them.
        if (owner === 0 || owner === OWNER_CALLER) {
          const count = Atomics.load(this.#progress, 0);
          if (count !== progress) {
            progress = count;
            moved = performance.now();
          } else if (performance.now() - moved >= this.#stallMs && !this.#claimRunning()) {
            for (const worker of this.#pool?.threads ?? []) void worker.terminate();
            reject(new Error('stalled'));
            return;
          }
        }
        // owner < 0: the worker has run the task and answered (worker.ts answered); the answer
        // waits for this thread, kept from its event loop (a starved calling thread runs due
        // timers before it reads its ports). Ending that worker would throw away its answer and
        // the chunks queued on it: wait for the answer instead (if the worker dies first, piscina
        // rejects the task, and it is run again).
        if (owner <= 0 || !claimSeen) {
          claimSeen = owner !== 0;
          timer = setTimeout(expire, this.taskTimeout);
          return;
        }
        for (const worker of this.#pool?.threads ?? []) {
          if (worker.threadId === owner) void worker.terminate();
        }
        reject(new Error('deadline'));
      };
      timer = setTimeout(expire, this.taskTimeout);
    });
    return Promise.race([task, deadline]).finally(() => clearTimeout(timer));
  }

  /** Whether a worker is running one of this pool's tasks (claimed and not answered). */
  #claimRunning(): boolean {
    for (const open of this.#open) if (Atomics.load(this.#owners, open.slot) > 0) return true;
    return false;
  }

  async #runOnPool(chunk: PackedChunk, mode: KernelMode, out: Int32Array, offset: number): Promise<void> {
    const pool = this.#pool!;
    /** The previous attempt's task on the pool (settled already unless it missed its deadline). */
    let previous: Promise<unknown> | undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      // A worker ended at a deadline (#withDeadline) is piscina's until it has exited: until
      // then piscina may hand it this retry, which would die with it (on 1 thread it always
      // does). Its tasks settle when piscina has seen it exit and removed it: wait for that, at
      // most one more period.
      if (previous !== undefined) await settledWithin(previous, this.taskTimeout);
      let copy: PackedChunk;
      try {
        copy = workerChunk(chunk);
      } catch {
        // No copy for a worker (out of memory): a failed attempt like any other, so that the
        // chunk is RESULT_ERROR at worst and `run` never rejects (a rejected slice would end its
        // batch while the others still run, and release its admission early).
        if (attempt === 0) this.#retried++;
        continue;
      }
      let slot = this.#takeSlot();
      if (slot < 0) slot = await this.#slotFreed();
      const open: OpenTask = { chunk, mode, out, offset, slot, ranHere: false, done: undefined };
      this.#open.push(open);
      try {
        const posted = pool.run({ chunk: copy, mode, slot }, { transferList: [copy.keyBuffer] });
        previous = posted;
        // The slot is given back when piscina settles the task, not when it is answered here.
        // A reaction of its own, so the answer reaches this function in no more microtasks.
        // The task leaves #open first: helpOut must not claim, for a task piscina has settled
        // (rejected unclaimed: its word is 0), the slot handed on to another task meanwhile.
        const free = (): void => {
          this.#close(open);
          this.#freeSlot(slot);
        };
        posted.then(free, free);
        const onPool = this.#withDeadline(posted, slot);
        // Run here (helpOut): answered now, not when the worker gets to it and finds it taken;
        // the worker then reads nothing of the chunk, so its buffers may be reused at once.
        const here = new Promise<null>((resolve) => { open.done = () => resolve(null); });
        onPool.catch(() => {});
        const result = await Promise.race([onPool, here]);
        // Taken and run by this thread (helpOut): the worker found it claimed and left it.
        if (open.ranHere) return;
        if (!(result instanceof Int32Array) || result.length !== chunk.count) {
          throw new Error('worker returned a malformed result');
        }
        out.set(result, offset);
        this.#chunksPooled++;
        this.#workersSound = true;
        return;
      } catch {
        // Exit, uncaught throw, out of memory, deadline: the worker is gone or was terminated,
        // and piscina starts a replacement. Nothing from it is trusted.
        // Raw keys that never left are zeroed (once moved, detached: nothing here). The shared
        // fields are the chunk's own: run again, or wiped with it.
        wipeKeys(copy);
        this.#workerFailures++;
        this.#workersSound = false;
        // Run here already: its results stand, whatever became of the worker that held it.
        if (open.ranHere) return;
        if (attempt === 0) this.#retried++;
      } finally {
        this.#close(open);
        // A shared copy made for this attempt (see workerChunk) holds secrets too.
        if (copy.fixed !== chunk.fixed) new Uint8Array(copy.fixed).fill(0);
      }
    }
    this.#chunksPooled++;
    this.#failed++;
    out.fill(RESULT_ERROR, offset, offset + chunk.count);
  }

  /** `open` is answered: no longer one helpOut may take. */
  #close(open: OpenTask): void {
    const k = this.#open.lastIndexOf(open);
    if (k >= 0) this.#open.splice(k, 1);
  }

  /**
   * The calling thread, with every slice of a batch posted, runs tasks no worker has started
   * here, newest first, rather than sit idle while the workers hash (2026-11-24, issue 3: on 2
   * cores, 100k invalid codes at 1 worker 1.16x inline before, 1.59x with it). Each is claimed
   * in the owners table by a compare-and-exchange from unclaimed (0) to OWNER_CALLER, the same a
   * worker does from 0 to its threadId when it starts a task, so exactly one of them runs it: a
   * worker that finds its task claimed answers at once without reading the chunk, and the task
   * is answered when it has run here, without waiting for that. The oldest `threads` tasks still
   * open are left to the workers (running them, or about to): a batch of one chunk per worker is
   * the workers' alone; so is every task while workers fail (#workersSound).
   */
  helpOut(): void {
    if (!this.#workersSound) return;
    while (this.#open.length > this.threads) {
      const open = this.#open.pop();
      if (open === undefined) break;
      // The slot is still this task's (#freeSlot): a worker has it if the word is not 0.
      if (Atomics.compareExchange(this.#owners, open.slot, 0, OWNER_CALLER) !== 0) continue;
      open.ranHere = true;
      this.#runInline(open.chunk, open.mode, open.out, open.offset);
      open.done?.();
    }
  }

  /** Refuses new batches, lets admitted ones finish, then stops the workers. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#inFlight > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
    await this.#pool?.close();
  }
}
