// A piscina worker: stateless. It instantiates the core once from the module compiled on the
// main thread (passed in workerData), runs each chunk it is given, and moves the results back.
// The chunk arrives transferred, not cloned; its secret-bearing fields are zeroed afterwards,
// and its buffer goes back holding only the results.

import { threadId } from 'node:worker_threads';
import { move, workerData } from 'piscina';
import { type KernelMode, type PackedChunk, runChunk, warmCore, wipeChunk } from './batch.js';
import { type Core, instantiateCore } from './wasm.js';

/** What the pool sends: one chunk, what to do with it, and its ticket in the owners table. */
export interface WorkerTask {
  readonly chunk: PackedChunk;
  readonly mode: KernelMode;
  readonly slot: number;
  readonly seq: number;
}

/** What the pool passes to every worker. */
export interface PoolWorkerData {
  readonly module: WebAssembly.Module;
  /** Per task slot: [sequence number, threadId of the worker that took it] (pool deadlines). */
  readonly owners: Int32Array;
}

/**
 * Records that this worker took `task`, so that the pool can terminate this worker if the task
 * misses its deadline. The first thing any worker entry point does with a task.
 */
export function claim(task: WorkerTask): void {
  const owners = (workerData as PoolWorkerData).owners;
  // A slot reused by a later task (the ring wrapped) is that task's; leave it alone.
  if (Atomics.load(owners, 2 * task.slot) === task.seq) Atomics.store(owners, 2 * task.slot + 1, threadId);
}

/**
 * Records that this worker has run `task` (−threadId in its slot): its answer is on the way, and
 * the pool's deadline no longer applies, however long the calling thread takes to read it. The
 * last thing a worker entry point does before it returns.
 */
export function answered(task: WorkerTask): void {
  const owners = (workerData as PoolWorkerData).owners;
  if (Atomics.load(owners, 2 * task.slot) === task.seq) Atomics.store(owners, 2 * task.slot + 1, -threadId);
}

// Instantiated (and warmed) when the worker starts, not on its first task.
const core: Core = instantiateCore((workerData as PoolWorkerData).module);
warmCore(core);

/** The kernel's results of one chunk, before they go back in the chunk's own buffer. */
const results = new Int32Array(core.layout.maxItems);

export default function runTask(task: WorkerTask): unknown {
  claim(task);
  const { chunk } = task;
  const n = chunk.count;
  try {
    runChunk(core, chunk, task.mode, results, 0);
  } finally {
    wipeChunk(chunk);
  }
  // The results go back in the chunk's buffer, wiped above (cap ≥ count slots of 28+ bytes):
  // the pool reuses it for its next copy instead of allocating (and faulting in) a fresh
  // half-megabyte buffer per chunk, and this worker frees nothing.
  const out = new Int32Array(chunk.fixed, 0, n);
  out.set(results.subarray(0, n));
  answered(task);
  return move(out);
}
