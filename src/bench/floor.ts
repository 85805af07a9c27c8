// Floors: the least any implementation must spend, measured in the same run as what they bound,
// so that a target out of reach shows the figure that puts it there.
//
// - requestFloor: the irreducible JavaScript per request of a verifyBatch: read the request's
//   fields once, parse the code, compute the time step (the facade's own parseCode and
//   timeStep). No packing, no kernel, no result objects.
// - packAnswerFloor: the request floor plus the least a facade over this kernel must add to
//   read, pack and answer each request, on the most favourable assumptions (a key table the
//   kernel reads by index, which the facade does not have): resolve the KeyHandle to its slot
//   (the facade's own check), write the item's key slot and code (4 + 4 bytes; one step and
//   one params word shared by the batch), and answer it: read its raw result and store a
//   shared result object in a fresh results array. No midstate copy, no wipe, no scratch
//   arrays, no clock. Any facade that reads, packs and answers pays at least this.
// - serialFigure: two costs paid one after the other (kernel + floor), as a rate per round.

import { KeyRing } from '../keys.js';
import { parseCode } from '../otp.js';
import { timeStep } from '../time.js';
import type { VerifyRequest, VerifyResult } from '../verifier.js';
import { type Fixtures, PERIOD } from './fixtures.js';
import type { Figure } from './measure.js';
import { pairedRounds } from './report.js';

/**
 * One call of the request floor over `reqs`: returns how many requests parsed (every one, for
 * the fixtures: a wrong count throws in the caller, so the work cannot be optimised away).
 */
export function requestFloor(reqs: readonly VerifyRequest[], fx: Fixtures, now: number): number {
  const opts = { period: PERIOD, t0: 0 };
  let ok = 0;
  for (let i = 0; i < reqs.length; i++) {
    const req: unknown = reqs[i];
    if (req === null || typeof req !== 'object') continue;
    const { code: codeText, timestamp, secret } = req as Partial<Record<keyof VerifyRequest, unknown>>;
    const code = parseCode(codeText, 6);
    const step = timeStep(timestamp === undefined ? now : timestamp, opts);
    if (code >= 0 && step === fx.step && secret !== undefined) ok++;
  }
  return ok;
}

/** Results the pack-and-answer floor hands out: shared and frozen, as the facade's are. */
const FLOOR_VALID: readonly VerifyResult[] = [-1, 0, 1].map((delta) => Object.freeze({ status: 'valid', delta, step: 0 }));
const FLOOR_INVALID: VerifyResult = Object.freeze({ status: 'invalid' });
const FLOOR_ERROR: VerifyResult = Object.freeze({ status: 'error', reason: 'internal' });

/** What packAnswerFloor works on: requests with handles of its own ring, and its pack buffers. */
export interface PackAnswerFixture {
  readonly reqs: readonly VerifyRequest[];
  readonly ring: KeyRing;
  /** Per packed item: its key slot (offset into the ring's slab) and its code. */
  readonly slots: Uint32Array;
  readonly codes: Uint32Array;
  /** The kernel's raw results to answer from: `answer` for every item. */
  readonly raw: Int32Array;
}

/**
 * `n` requests shaped as the facade's (secret i mod 10,000 as a KeyHandle, its code, the
 * fixtures' timestamp), with handles issued by a KeyRing of their own (the floor cannot reach a
 * verifier's ring; the handles are the same class, checked by the same code), and raw results
 * all `answer` (0: valid at delta 0; the core's RESULT_NO_MATCH: invalid).
 */
export function packAnswerFixture(fx: Fixtures, codes: readonly string[], n: number, answer: number): PackAnswerFixture {
  const ring = new KeyRing(10);
  const zero = new Uint32Array(10); // the floor never hashes: the midstates' values do not matter
  const handles = Array.from({ length: fx.count }, () => ring.issue(zero, 0));
  const reqs = Array.from({ length: n }, (_, j) => ({ secret: handles[j % fx.count]!, code: codes[j % fx.count]!, timestamp: fx.timestamp }));
  return { reqs, ring, slots: new Uint32Array(n), codes: new Uint32Array(n), raw: new Int32Array(n).fill(answer) };
}

/**
 * One call of the pack-and-answer floor: read, parse and step each request (as requestFloor),
 * resolve its handle, pack its slot and code, then answer every packed item from `raw` into a
 * fresh results array. Returns how many answers were valid (all of them for valid codes, none
 * for invalid: the caller checks, so the work cannot be optimised away).
 */
export function packAnswerFloor(f: PackAnswerFixture, fx: Fixtures, now: number, noMatch: number): number {
  const { reqs, ring, slots, codes, raw } = f;
  const opts = { period: PERIOD, t0: 0 };
  const n = reqs.length;
  let packed = 0;
  for (let i = 0; i < n; i++) {
    const req: unknown = reqs[i];
    if (req === null || typeof req !== 'object') continue;
    const { code: codeText, timestamp, secret } = req as Partial<Record<keyof VerifyRequest, unknown>>;
    const code = parseCode(codeText, 6);
    const step = timeStep(timestamp === undefined ? now : timestamp, opts);
    const at = ring.offsetOf(secret);
    if (code < 0 || step !== fx.step || at < 0) continue;
    slots[packed] = at;
    codes[packed] = code;
    packed++;
  }
  const results = new Array<VerifyResult>(n);
  let valid = 0;
  for (let k = 0; k < packed; k++) {
    const r = raw[k]!;
    if (r === noMatch) results[k] = FLOOR_INVALID;
    else if (r >= -1 && r <= 1) {
      results[k] = FLOOR_VALID[r + 1]!;
      valid++;
    } else results[k] = FLOOR_ERROR;
  }
  return valid;
}

/**
 * A figure computed from two measured in the same rounds: `combine(a, b)` of their rates, per
 * round (over the rounds both ran) and for the medians and quartiles.
 */
export function derivedFigure(
  id: string, label: string, a: Figure, b: Figure, combine: (a: number, b: number) => number,
): Figure {
  const rounds = pairedRounds(a, b).map(([x, y]) => combine(x, y));
  const ib = new Set(b.roundIndex ?? b.roundMedians.map((_, i) => i));
  return {
    id, scenario: a.scenario, label, items: a.items,
    median: combine(a.median, b.median), p25: combine(a.p25, b.p25), p75: combine(a.p75, b.p75),
    rme: Math.max(a.rme, b.rme), samples: Math.min(a.samples, b.samples), rounds: rounds.length,
    roundMedians: rounds, roundIndex: (a.roundIndex ?? a.roundMedians.map((_, i) => i)).filter((r) => ib.has(r)),
    reference: false, params: a.params,
  };
}

/**
 * The rate of doing `a`'s work and then `b`'s for each item: 1 / (1/a + 1/b). With a = kernel
 * and b = request floor, its ratio to the kernel is the most a facade that runs both can reach
 * (the ceiling of "facade ÷ raw kernel").
 */
export function serialFigure(id: string, label: string, a: Figure, b: Figure): Figure {
  return derivedFigure(id, label, a, b, (x, y) => 1 / (1 / x + 1 / y));
}

/**
 * The most a pool of `threads` workers can reach on `cores` cores when the calling thread does
 * all of each item but the kernel (it validates, packs and answers; workers hash): per item the
 * calling thread spends J = 1/inline − 1/kernel, the workers K = 1/kernel shared among them,
 * and all threads J + K shared among the cores: 1 / max(J, K/threads, (J + K)/cores). `inline`
 * and `kernel` are rates of the same items; pool overheads (copies, messages) are left out, so
 * this is a bound, not a prediction.
 */
export function poolCeiling(id: string, label: string, inline: Figure, kernel: Figure, threads: number, cores: number): Figure {
  return derivedFigure(id, label, inline, kernel, (i, k) => 1 / Math.max(callingThreadTime(i, k), 1 / k / threads, 1 / i / cores));
}

/** J: the calling thread's time per item (all of it but the kernel), from the inline and kernel rates of the same items. */
function callingThreadTime(inline: number, kernel: number): number {
  return Math.max(0, 1 / inline - 1 / kernel);
}

/**
 * poolCeiling with the machine's measured cores instead of the nominal ones: `gang` is the raw
 * kernel's rate in `threads` worker threads at once (kernel-threads.ts), and `cores` the
 * measured scaling (the kernel in as many workers as cores ÷ in one worker), per round. The
 * bound is the least of the calling thread's (1/J), the workers' kernel (`gang`), and all the
 * work on the cores the machine really gives (inline × cores).
 */
export function machinePoolCeiling(id: string, label: string, inline: Figure, kernel: Figure, gang: Figure, cores: Figure): Figure {
  const calling = derivedFigure(id, label, inline, kernel, (i, k) => 1 / callingThreadTime(i, k));
  const allCores = derivedFigure(id, label, inline, cores, (i, c) => i * c);
  return derivedFigure(id, label, derivedFigure(id, label, calling, gang, Math.min), allCores, Math.min);
}

/** What a no-op async call answers: its argument. */
async function noop(x: unknown): Promise<unknown> {
  return x;
}

/** `items.length` no-op async calls at once, awaited together; how many answered. */
export async function asyncFloor(items: readonly unknown[]): Promise<number> {
  return (await Promise.all(items.map(noop))).length;
}

/**
 * `items.length` calls at once to a coalescer that does nothing else: one pending promise for
 * the batch, each call's promise `batch.then(next)` (a promise and a reaction per call, no
 * resolve function: the cheapest pending promise per call known here, as the batcher makes
 * them), and one microtask answers them all, each with its own item. Unlike `asyncFloor`, every
 * promise is still pending when Promise.all is given it, which costs a reaction per call and
 * keeps 100k promises alive across collections: the least any batcher of concurrent calls pays
 * here. (Until 2026-11-24 this floor made a pending promise and a resolve function per call:
 * 483 against 285 bytes per call, 1.2-1.4x slower.) Returns how many answered with their own item.
 */
export async function coalescerFloor(items: readonly unknown[]): Promise<number> {
  let queued: unknown[] = [];
  let batch: Promise<unknown[]> | undefined;
  let answer: (batch: unknown[]) => void = () => {};
  let next: (batch: unknown[]) => unknown = () => undefined;
  const flush = (): void => {
    const answered = queued;
    queued = [];
    batch = undefined;
    answer(answered);
  };
  const call = (item: unknown): Promise<unknown> => {
    if (batch === undefined) {
      batch = new Promise((resolve) => { answer = resolve; });
      // Reactions run in the order they were added: the k-th call answered gets item k.
      let k = 0;
      next = (answered) => answered[k++];
      queueMicrotask(flush);
    }
    queued.push(item);
    return batch.then(next);
  };
  const out = await Promise.all(items.map(call));
  let same = 0;
  for (let i = 0; i < out.length; i++) if (out[i] === items[i]) same++;
  return same;
}
