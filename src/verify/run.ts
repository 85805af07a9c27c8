// Running a prepared slice (slice.ts) and answering its requests: stateless ones from the
// kernel's raw results (a match checked to lie in the window, its clock offset given to the
// clock monitor), stateful ones through the policy (store begin before the kernel, finish after).

import { PackedEditor, wipeChunk } from '../batch.js';
import type { ClockMonitor } from '../policy/clock.js';
import { type PolicyRunner, type StatefulItems, ValidResults } from '../policy/runner.js';
import type { Dispatcher } from '../pool.js';
import type { Core } from '../wasm.js';
import { phoneOffset, type Settings } from './settings.js';
import { type Prepared, releaseScratch } from './slice.js';
import type { VerifyResult, VerifyStatus } from './types.js';

const ERROR_RESULT: Readonly<VerifyResult> = Object.freeze({ status: 'error', reason: 'internal' });
const INVALID_RESULT: Readonly<VerifyResult> = Object.freeze({ status: 'invalid' });

/** Statuses that say something about the account's secret, and so carry `rotate`. */
const ROTATE_STATUSES: ReadonlySet<VerifyStatus> = new Set(['valid', 'invalid', 'replayed', 'locked']);

/**
 * Which of a slice's `total` packed items are stateful (1), for #answer to skip; undefined when
 * all are, as is usual (every packed item has an account): then none is left for #answer.
 */
function statefulSlots(items: StatefulItems, total: number): Uint8Array | undefined {
  if (items.size >= total) return undefined;
  const slots = new Uint8Array(total);
  for (let k = 0; k < items.size; k++) slots[items.packed[k]!] = 1;
  return slots;
}

/**
 * Marks the answered results of a slice's legacy secrets `rotate: true` (new frozen objects:
 * results may be shared). Legacy secrets are rare and opted into, so this costs nothing on the
 * common path (no flags at all when minSecretBytes is the default).
 */
function flagRotation(p: Prepared, results: VerifyResult[]): void {
  const legacy = p.legacy;
  if (legacy === undefined) return;
  for (let j = 0; j < legacy.length; j++) {
    const r = results[p.start + j];
    if (legacy[j] === 1 && r !== undefined && ROTATE_STATUSES.has(r.status)) {
      results[p.start + j] = Object.freeze({ ...r, rotate: true });
    }
  }
}

/** What a SliceRunner reads of its verifier, fixed at the verifier's construction. */
export interface SliceRunnerParts {
  readonly settings: Settings;
  readonly core: Core;
  readonly dispatcher: Dispatcher;
  /** Replay protection and failure limits; undefined with `store: null`. */
  readonly policy: PolicyRunner | undefined;
  readonly clock: ClockMonitor;
}

/** A verifier's slice runner: made once per verifier, like its SlicePreparer (prepare.ts). */
export class SliceRunner {
  readonly #settings: Settings;
  readonly #core: Core;
  readonly #dispatcher: Dispatcher;
  readonly #policy: PolicyRunner | undefined;
  readonly #clock: ClockMonitor;

  constructor(parts: SliceRunnerParts) {
    this.#settings = parts.settings;
    this.#core = parts.core;
    this.#dispatcher = parts.dispatcher;
    this.#policy = parts.policy;
    this.#clock = parts.clock;
  }

  /**
   * Runs a prepared slice and answers its packed requests in `results`: stateless ones from the
   * kernel's results; stateful ones through the policy (begin before the kernel, finish after).
   * Undefined when it is done already: an inline slice without stateful items runs here, now.
   * Never rejects: a failure is answered in `results`.
   */
  run(p: Prepared, results: VerifyResult[]): Promise<void> | undefined {
    if (p.stateful === undefined && !p.pooled) {
      try {
        if (p.total > 0) this.#answer(p, this.#dispatcher.runInline(p.chunks, p.total, 'verify'), undefined, results);
        flagRotation(p, results);
      } finally {
        releaseScratch(p.scratch);
      }
      return undefined;
    }
    if (!p.pooled && this.#policy!.answersNow) {
      this.#runNow(p, results);
      return undefined;
    }
    return this.#runLater(p, results);
  }

  /**
   * #runLater for an inline slice with stateful items on a store that answers now
   * (MemoryStore): begin, the kernel, finish, with no promise. Its first chunk may still be
   * packed in the core (SlicePreparer #keepsCore); if anything fails before the kernel ran, it
   * is wiped.
   */
  #runNow(p: Prepared, results: VerifyResult[]): void {
    const items = p.stateful!;
    const policy = this.#policy!;
    let ran = false;
    try {
      if (p.total === 0) return;
      policy.beginNow(items, PackedEditor.of(this.#core.layout, p.chunks), results);
      const statefulSlot = statefulSlots(items, p.total);
      ran = true;
      const raw = this.#dispatcher.runInline(p.chunks, p.total, 'verify');
      if (statefulSlot !== undefined) this.#answer(p, raw, statefulSlot, results);
      const layout = this.#core.layout;
      policy.finishNow(items, { raw, noMatch: layout.resultNoMatch, replayed: layout.resultReplayed }, results);
      flagRotation(p, results);
    } finally {
      if (!ran) for (const c of p.chunks) wipeChunk(c);
      releaseScratch(p.scratch);
      policy.release(items);
    }
  }

  async #runLater(p: Prepared, results: VerifyResult[]): Promise<void> {
    try {
      if (p.total === 0) return;
      const items = p.stateful;
      let statefulSlot: Uint8Array | undefined;
      if (items !== undefined) {
        await this.#policy!.begin(items, new PackedEditor(this.#core.layout, p.chunks), results);
        statefulSlot = statefulSlots(items, p.total);
      }
      const raw = await this.#dispatcher.run(p.chunks, p.total, 'verify', p.pooled);
      if (items === undefined || statefulSlot !== undefined) this.#answer(p, raw, statefulSlot, results);
      if (items !== undefined) {
        const { resultNoMatch, resultReplayed } = this.#core.layout;
        await this.#policy!.finish(items, { raw, noMatch: resultNoMatch, replayed: resultReplayed }, results);
      }
      flagRotation(p, results);
    } finally {
      releaseScratch(p.scratch);
      if (p.stateful !== undefined) this.#policy!.release(p.stateful);
    }
  }

  /** Answers the slice's packed stateless requests from the kernel's results `raw`. */
  #answer(p: Prepared, raw: Int32Array, statefulSlot: Uint8Array | undefined, results: VerifyResult[]): void {
    const { resultNoMatch } = this.#core.layout;
    const s = this.#settings;
    const { past, future } = s;
    const { packed, steps, times } = p.scratch;
    const clock = this.#clock;
    const valid = new ValidResults();
    // Matches of one batch mostly share one delta, step and time: their result and clock offset
    // are made once, and each run of matches with one offset goes to the clock in one call
    // (addRepeated: one sample per match, in order, as that many calls of add). PolicyRunner
    // #finished coalesces its matches by (step, time) instead, and one per call with audit
    // subscribers: one piece of code for both would change one side's addRepeated calls where
    // two (step, time) pairs give the same offset, so each keeps its own.
    let lastR = Number.NaN;
    let lastStep = Number.NaN;
    let lastTime = Number.NaN;
    let lastResult: VerifyResult = ERROR_RESULT;
    let lastOffset = 0;
    /** Matches at lastOffset not given to the clock yet. */
    let run = 0;
    for (let j = 0; j < p.count; j++) {
      const slot = packed[j]!;
      if (slot < 0 || (statefulSlot !== undefined && statefulSlot[slot] === 1)) continue;
      const r = raw[slot]!;
      const i = p.start + j;
      if (r === resultNoMatch) results[i] = INVALID_RESULT;
      else if (r < -past || r > future) results[i] = ERROR_RESULT; // RESULT_ERROR, MALFORMED, or nonsense
      else {
        const step = steps[j]!;
        const time = times[j]!;
        if (r !== lastR || step !== lastStep) {
          lastResult = valid.get(r, step + r);
          lastR = r;
          lastStep = step;
          lastTime = Number.NaN;
        }
        results[i] = lastResult;
        if (time !== lastTime) {
          const offset = phoneOffset(s, step + r, time);
          if (run > 0 && !Object.is(offset, lastOffset)) {
            clock.addRepeated(lastOffset, run);
            run = 0;
          }
          lastOffset = offset;
          lastTime = time;
        }
        run++;
      }
    }
    if (run > 0) clock.addRepeated(lastOffset, run);
  }
}
