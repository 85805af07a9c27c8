// A piscina worker: stateless. It instantiates the core once from the module compiled on the
// main thread (passed in workerData), runs each chunk it is given, and moves the results back.
// The chunk arrives transferred, not cloned; its secret-bearing fields are zeroed afterwards.

import { move, workerData } from 'piscina';
import { type KernelMode, type PackedChunk, runChunk, warmCore, wipeChunk } from './batch.js';
import { type Core, instantiateCore } from './wasm.js';

/** What the pool sends: one chunk and what to do with it. */
export interface WorkerTask {
  readonly chunk: PackedChunk;
  readonly mode: KernelMode;
}

/** What the pool passes to every worker. */
export interface PoolWorkerData {
  readonly module: WebAssembly.Module;
}

// Instantiated (and warmed) when the worker starts, not on its first task.
const core: Core = instantiateCore((workerData as PoolWorkerData).module);
warmCore(core);

export default function runTask(task: WorkerTask): unknown {
  const out = new Int32Array(task.chunk.count);
  try {
    runChunk(core, task.chunk, task.mode, out, 0);
  } finally {
    wipeChunk(task.chunk);
  }
  return move(out);
}
