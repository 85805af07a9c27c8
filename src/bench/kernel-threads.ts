// The machine's own two-core ceiling: the raw kernel (kernel.ts: core.verifyBatch over one
// pre-packed chunk) run by `threads` worker threads at once, each on its own core instance and
// its own copy of the same chunk, started together by the calling thread, which then sleeps in
// Atomics.wait until all are done (it takes no CPU while they run). Rates of 1 and 2 such
// workers, measured in the same rounds, say how much a second core gives this kernel on this
// machine: a shared VM may give far less than 2×, and no pool can beat that.

import { Worker } from 'node:worker_threads';
import type { PackedChunk } from '../batch.js';
import type { TaskSpec } from './measure.js';

/** Words of the control array: generation (−1: stop), workers done with it, any wrong count. */
export const CTL_GEN = 0;
export const CTL_DONE = 1;
export const CTL_FAILED = 2;

/** What each kernel worker is given. */
export interface KernelWorkerData {
  readonly module: WebAssembly.Module;
  readonly chunk: PackedChunk;
  /** The count core.verifyBatch must answer (all for valid codes, none for invalid ones). */
  readonly want: number;
  /** Kernel calls per generation. */
  readonly repeats: number;
  readonly threads: number;
  readonly ctl: Int32Array;
}

/** dist/bench/kernel-worker.js, also when this file runs from src/ (as the pool finds dist/worker.js). */
const WORKER_URL = new URL('../../dist/bench/kernel-worker.js', import.meta.url);

/** A gang of kernel workers, and a bench task that runs them all once per call. */
export interface KernelGang {
  readonly task: TaskSpec;
  close(): Promise<void>;
}

/**
 * Starts `threads` kernel workers on copies of `chunk` (from kernel.ts packChunk) and resolves
 * once every one is ready. Each task call runs `repeats` kernel calls in every worker at once;
 * its items are threads × repeats × chunk.count. A wrong count in any worker throws.
 */
export async function startKernelGang(
  module: WebAssembly.Module, chunk: PackedChunk, kind: 'valid' | 'invalid', threads: number, repeats: number,
  id: string, scenario: string, label: string,
): Promise<KernelGang> {
  const ctl = new Int32Array(new SharedArrayBuffer(12));
  const want = kind === 'valid' ? chunk.count : 0;
  const data: KernelWorkerData = { module, chunk, want, repeats, threads, ctl };
  const workers = Array.from({ length: threads }, () => new Worker(WORKER_URL, { workerData: data }));
  const exited = workers.map((w) => new Promise((done) => w.once('exit', done)));
  const stop = async (): Promise<void> => {
    Atomics.store(ctl, CTL_GEN, -1);
    Atomics.notify(ctl, CTL_GEN);
    await Promise.all(exited);
  };
  try {
    // Each worker says 'ready' once its core is warm and its chunk loaded; an error rejects.
    await Promise.all(workers.map((w) => new Promise((ready, fail) => {
      w.once('message', ready);
      w.once('error', fail);
      w.once('exit', () => fail(new Error(`${scenario}: a kernel worker exited before it was ready`)));
    })));
  } catch (error) {
    await Promise.all(workers.map((w) => w.terminate()));
    throw error;
  }
  const run = (): void => {
    Atomics.store(ctl, CTL_DONE, 0);
    Atomics.add(ctl, CTL_GEN, 1);
    Atomics.notify(ctl, CTL_GEN);
    for (let d = Atomics.load(ctl, CTL_DONE); d < threads; d = Atomics.load(ctl, CTL_DONE)) {
      // A worker that died never counts itself done: give up after 10 s rather than hang.
      if (Atomics.wait(ctl, CTL_DONE, d, 10_000) === 'timed-out') throw new Error(`${scenario}: a kernel worker did not answer`);
    }
    if (Atomics.load(ctl, CTL_FAILED) !== 0) throw new Error(`${scenario}: a kernel worker counted wrongly`);
  };
  return {
    task: { id, scenario, label, items: threads * repeats * chunk.count, async: false, fn: run },
    close: stop,
  };
}
