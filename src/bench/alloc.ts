// What a verification allocates on the JS heap: bytes per call and young-generation collections
// (scavenges) per 10,000 calls, for N awaited calls of one shape (a single verify(), or a
// verifyBatch of 1..100 items) with fresh accounts and base32 secrets, as the server sends them
// (bench/alloc.ts runs it; issue 7's single-item tail is the scavenges this garbage causes).
//
// Bytes are exact, not sampled: v8.GCProfiler reports the heap before and after every
// collection, so what was allocated is what is in use at the end, less what was in use at the
// start, plus what each collection freed. The requests themselves (objects, account strings)
// are made by the caller and counted apart ("caller").

import v8 from 'node:v8';
import type { TotpVerifier, VerifyRequest } from '../verifier.js';
import type { Fixtures } from './fixtures.js';

export type AllocShape = 'verify' | 'verifyBatch';

export interface AllocFigures {
  /** Heap bytes per call, the requests' own allocation left out. */
  readonly bytesPerCall: number;
  /** The same per item (bytesPerCall / items per call). */
  readonly bytesPerItem: number;
  /** Heap bytes per call spent making the requests (the loop without the verifier). */
  readonly callerBytesPerCall: number;
  /** Scavenges per 10,000 calls (the calls and the caller's requests together). */
  readonly scavengesPer10k: number;
  /** Mark-compact (full) collections during the run. */
  readonly fullCollections: number;
}

interface HeapRun {
  bytes: number;
  scavenges: number;
  full: number;
}

/** Runs `body` under a GCProfiler: heap bytes allocated and collections by kind. */
async function profiled(body: () => Promise<void>): Promise<HeapRun> {
  const profiler = new v8.GCProfiler();
  profiler.start();
  const start = v8.getHeapStatistics().used_heap_size;
  await body();
  const end = v8.getHeapStatistics().used_heap_size;
  const stats = profiler.stop();
  let freed = 0, scavenges = 0, full = 0;
  for (const s of stats.statistics) {
    freed += s.beforeGC.heapStatistics.usedHeapSize - s.afterGC.heapStatistics.usedHeapSize;
    if (s.gcType === 'Scavenge' || s.gcType === 'MinorMarkSweep') scavenges++;
    else if (s.gcType === 'MarkSweepCompact') full++;
  }
  return { bytes: end - start + freed, scavenges, full };
}

let generation = 0;

/**
 * `calls` awaited calls of `shape` with `items` requests each (verify: one), fresh accounts
 * (`alloc-<generation>-<k>`), the fixture base32 secrets cycled (the key cache warms in the
 * first pass) and their valid codes. Every result is checked 'valid'. The verifier's store
 * grows by calls × items accounts.
 */
export async function measureAllocation(
  verifier: TotpVerifier, fx: Fixtures, shape: AllocShape, items: number, calls: number,
): Promise<AllocFigures> {
  if (shape === 'verify' && items !== 1) throw new RangeError('verify() takes one item');
  const g = ++generation;
  let next = 0;
  const make = (): VerifyRequest => {
    const s = next % fx.count;
    return { account: `alloc-${g}-${next++}`, secret: fx.base32[s]!, code: fx.valid[s]!, timestamp: fx.timestamp };
  };
  let bad = 0;
  const run = profiled(async () => {
    for (let c = 0; c < calls; c++) {
      if (shape === 'verify') {
        if ((await verifier.verify(make())).status !== 'valid') bad++;
      } else {
        const reqs = new Array<VerifyRequest>(items);
        for (let k = 0; k < items; k++) reqs[k] = make();
        for (const r of await verifier.verifyBatch(reqs)) if (r.status !== 'valid') bad++;
      }
    }
  });
  const total = await run;
  if (bad > 0) throw new Error(`${bad} results were not 'valid'`);
  // The same loop without the verifier: what the requests cost the caller.
  const caller = await profiled(async () => {
    let sink = 0;
    for (let c = 0; c < calls; c++) {
      const reqs = new Array<VerifyRequest>(items);
      for (let k = 0; k < items; k++) reqs[k] = make();
      sink += reqs.length;
      await undefined;
    }
    if (sink !== calls * items) throw new Error('unreachable');
  });
  const callerBytesPerCall = caller.bytes / calls;
  const bytesPerCall = total.bytes / calls - callerBytesPerCall;
  return {
    bytesPerCall,
    bytesPerItem: bytesPerCall / items,
    callerBytesPerCall,
    scavengesPer10k: (total.scavenges * 10_000) / calls,
    fullCollections: total.full,
  };
}
