// A piscina worker: stateless. It instantiates the core once from the module compiled on the
// main thread (passed in workerData), runs each chunk it is given, and moves the results back.
// The chunk's fields arrive shared (a SharedArrayBuffer, not cloned), and are only read here:
// the pool keeps them whole in case this worker dies with them, and wipes them once answered.
// Its raw keys, if any, arrive moved, and are zeroed here afterwards, as is the core.

import { threadId } from 'node:worker_threads';
import { move, workerData } from 'piscina';
import { type KernelMode, type PackedChunk, runChunk, warmCore, wipeKeys } from './batch.js';
import { type Core, instantiateCore } from './wasm.js';

/**
 * What the pool sends: one chunk, what to do with it, and its slot in the owners table (the
 * task's alone until piscina settles it: the pool hands a slot to no other task before then).
 */
export interface WorkerTask {
  readonly chunk: PackedChunk;
  readonly mode: KernelMode;
  readonly slot: number;
}

/** What the pool passes to every worker. */
export interface PoolWorkerData {
  readonly module: WebAssembly.Module;
  /** Per task slot: its owner word (pool.ts #owners: deadlines, and who runs the task). */
  readonly owners: Int32Array;
  /**
   * [0]: tasks any worker has reached (claim called, whatever came of it). The pool's sign that
   * its workers move: a task unclaimed while this stands still is on a worker that is stuck.
   */
  readonly progress: Int32Array;
}

/**
 * Claims `task` for this worker: records its threadId in the task's slot, so that the pool can
 * terminate this worker if the task misses its deadline. The first thing any worker entry point
 * does with a task. False when the calling thread has claimed it already (the pool's helpOut:
 * it runs the task itself): the task is then not to be run, nor its chunk read. A compare-and-
 * exchange from unclaimed, so that exactly one of the two runs it; claiming twice is harmless.
 */
export function claim(task: WorkerTask): boolean {
  const { owners, progress } = workerData as PoolWorkerData;
  Atomics.add(progress, 0, 1);
  const was = Atomics.compareExchange(owners, task.slot, 0, threadId);
  return was === 0 || was === threadId;
}

/**
 * Records that this worker has run `task` (−threadId in its slot): its answer is on the way, and
 * the pool's deadline no longer applies, however long the calling thread takes to read it. The
 * last thing a worker entry point does before it returns.
 */
export function answered(task: WorkerTask): void {
  Atomics.store((workerData as PoolWorkerData).owners, task.slot, -threadId);
}

// Instantiated (and warmed) when the worker starts, not on its first task.
const core: Core = instantiateCore((workerData as PoolWorkerData).module);
warmCore(core);

export default function runTask(task: WorkerTask): unknown {
  const { chunk } = task;
  if (!claim(task)) {
    // Run on the calling thread: only the raw keys moved here are to be wiped.
    wipeKeys(chunk);
    return null;
  }
  const out = new Int32Array(chunk.count);
  try {
    // runChunk wipes the core's regions, whatever happens.
    runChunk(core, chunk, task.mode, out, 0);
  } finally {
    wipeKeys(chunk);
  }
  answered(task);
  return move(out);
}
