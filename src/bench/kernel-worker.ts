// A bench worker thread for the machine's own ceiling (kernel-threads.ts): it instantiates the
// core from the module it is given, loads one pre-packed chunk, and then, each time the
// calling thread bumps the generation word, runs the raw kernel over it `repeats` times and
// counts itself done. Between calls it sleeps in Atomics.wait (no CPU), so a gang of these
// measures what the cores give the kernel, with no pool, no copies and no messages.

import { parentPort, workerData } from 'node:worker_threads';
import { loadChunk, warmCore } from '../batch.js';
import { instantiateCore } from '../wasm.js';
import { CTL_DONE, CTL_FAILED, CTL_GEN, type KernelWorkerData } from './kernel-threads.js';

const { module, chunk, want, repeats, threads, ctl } = workerData as KernelWorkerData;
const core = instantiateCore(module);
warmCore(core);
loadChunk(core, chunk);
const n = chunk.count;
let seen = 0;
parentPort!.postMessage('ready');
for (;;) {
  Atomics.wait(ctl, CTL_GEN, seen);
  const gen = Atomics.load(ctl, CTL_GEN);
  if (gen < 0) break; // stop
  if (gen === seen) continue; // spurious wake
  seen = gen;
  for (let r = 0; r < repeats; r++) {
    if (core.verifyBatch(n) !== want) Atomics.store(ctl, CTL_FAILED, 1);
  }
  if (Atomics.add(ctl, CTL_DONE, 1) + 1 === threads) Atomics.notify(ctl, CTL_DONE);
}
core.wipe(n);
