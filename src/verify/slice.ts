// A slice of a batch between preparing it (prepare.ts) and answering it (run.ts): the packed
// chunks, and per-request scratch arrays kept from slice to slice.

import type { PackedChunk } from '../batch.js';
import type { StatefulItems } from '../policy/runner.js';
import { Spares } from '../spares.js';

/** Per-request arrays of a slice, reused from slice to slice (see takeScratch). */
export interface Scratch {
  /** Per request of the slice: its index among the packed items, or -1 (answered already). */
  readonly packed: Int32Array;
  readonly steps: Float64Array;
  /** Per request of the slice: its time in ms (the request's timestamp, or the batch's). */
  readonly times: Float64Array;
}

/**
 * Scratch arrays not in use. A slice takes one (or makes one) and gives it back when it has
 * been answered; slices running at the same time each hold their own. Fresh typed arrays per
 * slice cost more than their use: 20 bytes per request allocated, zeroed and collected.
 */
// Up to 16 kept (a pooled batch has up to 16 slices out at once, pool.ts SLICES_IN_FLIGHT; with
// 4 kept, a 100k batch on 2 workers made 9 of its 13 slices' arrays afresh: 160 KB each), of up
// to 65,536 requests each.
const spareScratch = new Spares<Scratch>((scratch) => scratch.packed.length, 16, 65_536);

export function takeScratch(n: number): Scratch {
  return spareScratch.take(n) ?? { packed: new Int32Array(n), steps: new Float64Array(n), times: new Float64Array(n) };
}

export function releaseScratch(scratch: Scratch): void {
  spareScratch.give(scratch);
}

/** A slice of a batch, validated and packed, waiting for the dispatcher. */
export interface Prepared {
  readonly start: number;
  /** Requests in the slice (the scratch arrays may be longer). */
  readonly count: number;
  readonly scratch: Scratch;
  readonly chunks: PackedChunk[];
  readonly total: number;
  /** Whether the batch this slice belongs to runs on the workers. */
  readonly pooled: boolean;
  /** Per request of the slice: 1 for a legacy secret to be rotated. Only when the verifier accepts them. */
  readonly legacy: Uint8Array | undefined;
  /** With a store: the stateful items (packed, with an account), or undefined when none. */
  readonly stateful: StatefulItems | undefined;
}
