// The policy around one kernel call (SECURITY.md, "The order of a verification"): for the
// items of a slice that name an account,
//
//   before:  store.begin  ─ a locked account is answered now and skipped in the core (its code
//                            is not evaluated); the others get their window's floor (last
//                            accepted step + 1) and, with drift learning, a moved centre;
//   after:   store.finish ─ a match is committed (check-and-mark) and only then `valid`; a miss
//                            is counted; a replayed code or an error gives its reservation back.
//
// A store that cannot answer makes those items `error`: never `valid`, never counted. The
// verifier guarantees an account appears at most once per slice and once per round.

import type { PackedEditor } from '../batch.js';
import { Spares } from '../spares.js';
import { noteHashes } from '../strhash.js';
import {
  answersOp, type AttemptLimits, type BeginResult, type FinishOps, beginResult, type Store, BEGIN_GO, BEGIN_LOCKED, DONE_COMMITTED,
  DONE_LOCKED, OP_FAILURE, OP_RELEASE, OP_SUCCESS,
} from '../store/types.js';
import type { VerifyResult } from '../verifier.js';
import { type AuditEvent, audit, auditChannel } from './audit.js';
import type { ResolvedPolicy } from './options.js';

/** A store that can also answer begin and finish synchronously (MemoryStore's beginNow / finishNow). */
export interface SyncStore {
  beginNow(accounts: readonly string[], hashes: Int32Array, limits: AttemptLimits, out: BeginResult): BeginResult;
  finishNow(accounts: readonly string[], ops: FinishOps, limits: AttemptLimits, out: Uint8Array): Uint8Array;
}

/** Requests with an account, by outcome. */
export interface PolicyStats {
  valid: number;
  invalid: number;
  replayed: number;
  locked: number;
  /** Items answered 'error' because the store could not answer. */
  storeErrors: number;
  /** Failures that locked an account. */
  lockouts: number;
}

/** The raw kernel results this layer reads. */
export interface RawCodes {
  /** The slice's kernel results, by packed index (StatefulItems.packed). */
  readonly raw: Int32Array;
  readonly noMatch: number;
  readonly replayed: number;
}

/**
 * The stateful items of one slice, column by column (sized for `capacity` items). Taken from and
 * given back to a PolicyRunner (items, release), which keeps a few for later slices: the columns
 * of a 10,000-item slice are ~500 KB, and allocating typed arrays that large per call cost more
 * than the work done in them (each is a fresh zeroed backing store outside the JS heap).
 */
const NO_ACCOUNTS: readonly string[] = Object.freeze([]);

export class StatefulItems {
  /**
   * The accounts, in order; passed as is to the store's begin and (when all go) finish. Made
   * with `capacity` slots, of which the first `size` are set; `seal` (at begin) trims it to
   * `size` and freezes it, and its hashes are noted (MemoryStore does not hash them again). A
   * new array for each slice (stores may key what they remember by it). Preallocated rather
   * than pushed to: growing an array to 10,000 strings cost ~9 ns per add.
   */
  accounts: string[];
  #size = 0;
  readonly capacity: number;
  /** stringHash of each account. */
  readonly hash: Int32Array;
  /** Index of the request in the batch. */
  readonly request: Int32Array;
  /** Index among the slice's packed items. */
  readonly packed: Int32Array;
  /** The server's current step, and the centre of the window (moved by learned drift). */
  readonly step: Float64Array;
  readonly center: Float64Array;
  /** The request's time, ms. */
  readonly time: Float64Array;
  /** Whether begin let the item go (it must be finished). */
  readonly go: Uint8Array;
  /** finish's columns: the items that went, and their ops (FinishOps). */
  readonly which: Int32Array;
  readonly op: Uint8Array;
  readonly opStep: Float64Array;
  readonly opDrift: Float64Array;

  /** For at most `capacity` items. */
  constructor(capacity: number) {
    this.capacity = capacity;
    this.accounts = new Array<string>(capacity);
    this.go = new Uint8Array(capacity);
    this.which = new Int32Array(capacity);
    this.op = new Uint8Array(capacity);
    this.opStep = new Float64Array(capacity);
    this.opDrift = new Float64Array(capacity);
    this.hash = new Int32Array(capacity);
    this.request = new Int32Array(capacity);
    this.packed = new Int32Array(capacity);
    this.step = new Float64Array(capacity);
    this.center = new Float64Array(capacity);
    this.time = new Float64Array(capacity);
  }

  add(account: string, hash: number, request: number, packed: number, step: number, time: number): number {
    const k = this.#size;
    this.accounts[k] = account; // throws once sealed (frozen)
    this.#size = k + 1;
    this.hash[k] = hash;
    this.request[k] = request;
    this.packed[k] = packed;
    this.step[k] = step;
    this.center[k] = step;
    this.time[k] = time;
    return k;
  }

  get size(): number {
    return this.#size;
  }

  /** Trims `accounts` to `size` and freezes it (no more adds); returns it. */
  seal(): readonly string[] {
    const accounts = this.accounts;
    if (!Object.isFrozen(accounts)) {
      accounts.length = this.#size;
      Object.freeze(accounts);
    }
    return accounts;
  }

  /** Empties it for another slice of at most `items` items (≤ capacity). */
  reset(items: number): void {
    this.accounts = new Array<string>(Math.min(items, this.capacity));
    this.finishAccounts = NO_ACCOUNTS;
    this.#size = 0;
  }

  /** finish's accounts: `accounts`, or those of them begin let go (set with finishOps). */
  finishAccounts: readonly string[] = NO_ACCOUNTS;
  /** The verifier's clock (ms) when the items' timestamps were checked against it (prepare). */
  clockAt = 0;
  #ops: FinishOps | undefined;

  /** finish's columns for `count` items: views of op, opStep and opDrift (drift NaN), reused while `count` stays the same. */
  opsFor(count: number): FinishOps {
    let ops = this.#ops;
    if (ops === undefined || ops.op.length !== count) {
      ops = { op: this.op.subarray(0, count), step: this.opStep.subarray(0, count), drift: this.opDrift.subarray(0, count) };
      this.#ops = ops;
    }
    ops.drift.fill(Number.NaN);
    return ops;
  }

  #beginAnswer: BeginResult | undefined;
  #finishAnswer: Uint8Array | undefined;

  /**
   * Columns for a store's synchronous answers (beginNow, finishNow), `capacity` long, made at
   * first use. Per StatefulItems, so per slice: a slice begun from within another's (an audit or
   * clock subscriber verifying) writes its own, never the answer the other is reading.
   */
  get beginAnswer(): BeginResult {
    return (this.#beginAnswer ??= beginResult(this.capacity));
  }

  get finishAnswer(): Uint8Array {
    return (this.#finishAnswer ??= new Uint8Array(this.capacity));
  }

  /** The finish columns as they stand (opsFor). */
  get finishOps(): FinishOps {
    return this.#ops!;
  }
}


/** Offset of delta 0 in ValidResults' table; deltas beyond ±VALID_SPAN get their own object. */
const VALID_SPAN = 64;

/**
 * Frozen `valid` results, shared by the items with the same step and delta: a batch received at
 * one moment has one current step, so a few objects serve 10,000 items.
 */
export class ValidResults {
  #current = Number.NaN;
  #byDelta: (VerifyResult | undefined)[] = [];

  /** The result for a match at `step`, `delta` steps from the current one. */
  get(delta: number, step: number): VerifyResult {
    if (delta < -VALID_SPAN || delta > VALID_SPAN) return Object.freeze({ status: 'valid', delta, step });
    if (step - delta !== this.#current) {
      this.#current = step - delta;
      this.#byDelta = [];
    }
    return (this.#byDelta[delta + VALID_SPAN] ??= Object.freeze({ status: 'valid', delta, step }));
  }
}

const STORE_ERROR: Readonly<VerifyResult> = Object.freeze({ status: 'error', reason: 'store' });
const INTERNAL_ERROR: Readonly<VerifyResult> = Object.freeze({ status: 'error', reason: 'internal' });
const INVALID: Readonly<VerifyResult> = Object.freeze({ status: 'invalid' });
const REPLAYED: Readonly<VerifyResult> = Object.freeze({ status: 'replayed' });
const HOTP_METHOD: Pick<AuditEvent, 'method'> = Object.freeze({ method: 'hotp' });

export class PolicyRunner {
  readonly stats: PolicyStats = { valid: 0, invalid: 0, replayed: 0, locked: 0, storeErrors: 0, lockouts: 0 };
  readonly #store: Store;
  readonly #policy: ResolvedPolicy;
  readonly #window: { past: number; future: number };
  readonly #name: string;
  /** The verifier's clock (VerifierOptions.now). */
  readonly #clock: () => number;
  /** Called with (matched step, request time ms, matches) for committed matches (clock health). */
  readonly #onMatch: (step: number, timeMs: number, times: number) => void;
  /** HOTP: each item's counter is its account's last accepted counter + 1, read in begin. */
  readonly #counters: boolean;
  /** StatefulItems kept for later slices: up to 4, of up to 65,536 items. */
  readonly #spare = new Spares<StatefulItems>((items) => items.capacity, 4, 1 << 16);
  /** The store again when it answers synchronously (MemoryStore), else undefined. */
  readonly #now: SyncStore | undefined;
  /** Frozen `valid` results, shared by every slice's items of one current step. */
  readonly #valid = new ValidResults();

  constructor(
    store: Store, policy: ResolvedPolicy, window: { past: number; future: number }, name: string,
    onMatch: (step: number, timeMs: number, times: number) => void, clock: () => number, counters = false, syncStore?: SyncStore,
  ) {
    this.#clock = clock;
    this.#counters = counters;
    this.#store = store;
    this.#now = syncStore;
    this.#policy = policy;
    this.#window = window;
    this.#name = name;
    this.#onMatch = onMatch;
  }

  /**
   * Empty StatefulItems for up to `capacity` items (a kept one, or a new one), whose timestamps
   * are checked against the verifier's clock reading `clockAt`.
   */
  items(capacity: number, clockAt: number): StatefulItems {
    let items = this.#spare.take(capacity);
    if (items === undefined) items = new StatefulItems(capacity);
    else items.reset(capacity);
    items.clockAt = clockAt;
    return items;
  }

  /** Takes back items whose slice is answered (nothing reads them any more). */
  release(items: StatefulItems): void {
    this.#spare.give(items);
  }

  /**
   * Whether `beginNow` / `finishNow` may be used: the store answers synchronously (a
   * MemoryStore). Then nothing else runs between a slice's begin, its kernel call and its finish.
   */
  get answersNow(): boolean {
    return this.#now !== undefined;
  }

  /** Begins the items: answers the locked ones (and all on a store failure), edits the rest. */
  async begin(items: StatefulItems, editor: PackedEditor, results: VerifyResult[]): Promise<void> {
    items.go.fill(0, 0, items.size);
    let begun: BeginResult | undefined;
    try {
      noteHashes(items.seal(), items.hash);
      begun = await this.#store.begin(items.accounts, this.#policy.limits);
      // (A custom store's answer without its columns is its failure, not a crash here.)
      if (begun === null || typeof begun !== 'object' || begun.state === undefined) begun = undefined;
    } catch {
      begun = undefined; // fail closed below
    }
    this.#begun(items, editor, begun, results);
  }

  /** `begin` on a store that answers now (see answersNow), without a promise. */
  beginNow(items: StatefulItems, editor: PackedEditor, results: VerifyResult[]): void {
    items.go.fill(0, 0, items.size);
    let begun: BeginResult | undefined;
    try {
      begun = this.#now!.beginNow(items.seal(), items.hash, this.#policy.limits, items.beginAnswer);
    } catch {
      begun = undefined; // fail closed below
    }
    this.#begun(items, editor, begun, results);
  }

  /** Applies begin's answer (undefined: the store failed) to the items. */
  #begun(items: StatefulItems, editor: PackedEditor, begun: BeginResult | undefined, results: VerifyResult[]): void {
    const n = items.size;
    const { driftMax } = this.#policy;
    for (let k = 0; k < n; k++) {
      const index = items.packed[k]!;
      const state = begun === undefined ? -1 : begun.state[k];
      if (state !== BEGIN_GO) {
        editor.skip(index);
        if (state === BEGIN_LOCKED) {
          const retryAfterMs = begun!.retryAfterMs[k]!;
          results[items.request[k]!] = Object.freeze({ status: 'locked', retryAfterMs });
          this.stats.locked++;
          this.#audit({ type: 'locked', account: items.accounts[k]!, retryAfterMs });
        } else {
          results[items.request[k]!] = STORE_ERROR;
          this.stats.storeErrors++;
          this.#audit({ type: 'error', account: items.accounts[k]!, reason: 'store' });
        }
        continue;
      }
      items.go[k] = 1;
      if (driftMax > 0) {
        const drift = Math.max(-driftMax, Math.min(driftMax, begun!.drift[k]!));
        const center = items.step[k]! + drift;
        if (drift !== 0 && center >= 0 && Number.isSafeInteger(center)) {
          items.center[k] = center;
          editor.setCounter(index, center);
        }
      }
      const last = begun!.lastStep[k]!;
      if (this.#counters) {
        // HOTP: the window starts at the next counter (0 for a token never used); codes of the
        // counters before it are in the window's past, below the floor: replayed.
        const next = last + 1;
        items.step[k] = next;
        items.center[k] = next;
        editor.setCounter(index, next);
      }
      if (last >= 0) editor.setLowestDelta(index, last - items.center[k]! + 1);
    }
  }

  /** Commits matches and counts failures in one store call, then answers the items. */
  async finish(items: StatefulItems, codes: RawCodes, results: VerifyResult[]): Promise<void> {
    const count = this.#ops(items, codes);
    if (count === 0) return;
    let done: Uint8Array | undefined;
    try {
      done = await this.#store.finish(items.finishAccounts, items.finishOps, this.#policy.limits);
      // (A custom store's answer that is no array at all is its failure, not a crash here.)
      if (done === null || typeof done !== 'object') done = undefined;
    } catch {
      done = undefined;
    }
    this.#finished(items, codes, count, done, results);
  }

  /** `finish` on a store that answers now (see answersNow), without a promise. */
  finishNow(items: StatefulItems, codes: RawCodes, results: VerifyResult[]): void {
    const count = this.#ops(items, codes);
    if (count === 0) return;
    let done: Uint8Array | undefined;
    try {
      done = this.#now!.finishNow(items.finishAccounts, items.finishOps, this.#policy.limits, items.finishAnswer);
    } catch {
      done = undefined;
    }
    this.#finished(items, codes, count, done, results);
  }

  /**
   * Fills finish's columns (items.finishOps, for items.finishAccounts) from the kernel's
   * results: the items begin let go, in order. Returns how many.
   */
  #ops(items: StatefulItems, codes: RawCodes): number {
    const { past, future } = this.#window;
    const { driftMax } = this.#policy;
    const n = items.size;
    // Items begin let go, in order. Usually all of them: then the store gets the same accounts
    // array as in begin (MemoryStore finds its records again without a lookup).
    const { go, which, packed } = items;
    let count = 0;
    for (let k = 0; k < n; k++) if (go[k] === 1) which[count++] = k;
    if (count === 0) return 0;
    const raw = codes.raw;
    items.finishAccounts = count === n ? items.accounts : Array.from(which.subarray(0, count), (k) => items.accounts[k]!);
    const ops = items.opsFor(count);
    // The mark's life has a margin of maxAttemptMs (policy/options.ts) for the time from the
    // timestamps' check to this commit: a slice slower than that (a long wait for a worker or the
    // store) commits nothing, since a mark it needed may have expired meanwhile. Its matches are
    // released, answered 'error' ('internal'), never 'valid'.
    const late = this.#clock() - items.clockAt > this.#policy.maxAttemptMs;
    for (let w = 0; w < count; w++) {
      const k = which[w]!;
      const r = raw[packed[k]!]!;
      const step = items.center[k]! + r;
      // A match at a step a JS number cannot hold (a HOTP counter past 2^53 - 1, reached from a
      // mark near it) is not committed: its step would be rounded (R2). Released, answered error.
      if (r >= -past && r <= future && !late && Number.isSafeInteger(step)) {
        ops.op[w] = OP_SUCCESS;
        ops.step[w] = step;
        if (driftMax > 0) ops.drift[w] = Math.max(-driftMax, Math.min(driftMax, step - items.step[k]!));
      } else {
        ops.op[w] = r === codes.noMatch ? OP_FAILURE : OP_RELEASE; // replayed, or an error
        ops.step[w] = 0;
      }
    }
    return count;
  }

  /** Answers the `count` items finish was asked about from its answer (undefined: the store failed). */
  #finished(items: StatefulItems, codes: RawCodes, count: number, done: Uint8Array | undefined, results: VerifyResult[]): void {
    const { which, packed } = items;
    const raw = codes.raw;
    const accounts = items.finishAccounts;
    const ops = items.finishOps;
    const stats = this.stats;
    const auditing = auditChannel.hasSubscribers;
    const valid = this.#valid;
    // Matches of one slice mostly share their step, delta and time: one result object for a
    // run of them, and the clock gets the run in one call (one sample per match still). With
    // audit subscribers each match goes to the clock before its event, as it lands. (The
    // verifier's SliceRunner #answer, verify/run.ts, coalesces stateless matches by offset.)
    let lastMatched = Number.NaN;
    let lastDelta = Number.NaN;
    let lastResult: VerifyResult = INTERNAL_ERROR;
    let runStep = Number.NaN;
    let runTime = Number.NaN;
    let runLength = 0;
    for (let w = 0; w < count; w++) {
      const k = which[w]!;
      const i = items.request[k]!;
      const op = ops.op[w];
      if (done === undefined) {
        // Not known to be committed (so never 'valid') nor counted (so never 'invalid').
        results[i] = STORE_ERROR;
        stats.storeErrors++;
        if (auditing) this.#audit({ type: 'error', account: accounts[w]!, reason: 'store' });
      } else if (op === OP_SUCCESS && done[w] === DONE_COMMITTED) {
        const matched = ops.step[w]!;
        const delta = matched - items.step[k]!;
        if (matched !== lastMatched || delta !== lastDelta) {
          lastResult = valid.get(delta, matched);
          lastMatched = matched;
          lastDelta = delta;
        }
        results[i] = lastResult;
        stats.valid++;
        const time = items.time[k]!;
        if (matched === runStep && time === runTime) {
          runLength++;
        } else {
          if (runLength > 0) this.#onMatch(runStep, runTime, runLength);
          runStep = matched;
          runTime = time;
          runLength = 1;
        }
        if (auditing) {
          this.#onMatch(runStep, runTime, runLength);
          runLength = 0;
          this.#audit({ type: 'valid', account: accounts[w]!, delta, ...this.#method });
        }
      } else if (!answersOp(op, done[w])) {
        // This credential alone could not be finished (DONE_ERROR), or the store's answer is not
        // one finish gives for its op: neither known committed nor counted.
        results[i] = STORE_ERROR;
        stats.storeErrors++;
        if (auditing) this.#audit({ type: 'error', account: accounts[w]!, reason: 'store' });
      } else if (op === OP_SUCCESS || raw[packed[k]!] === codes.replayed) {
        // A used step: found by the core below the floor, or committed meanwhile elsewhere.
        results[i] = REPLAYED;
        stats.replayed++;
        if (auditing) this.#audit({ type: 'replayed', account: accounts[w]!, ...this.#method });
      } else if (op === OP_FAILURE) {
        const lockedNow = done[w] === DONE_LOCKED;
        results[i] = INVALID;
        stats.invalid++;
        if (lockedNow) stats.lockouts++;
        if (auditing) this.#audit({ type: 'invalid', account: accounts[w]!, lockedNow, ...this.#method });
      } else {
        results[i] = INTERNAL_ERROR;
        if (auditing) this.#audit({ type: 'error', account: accounts[w]!, reason: 'internal' });
      }
    }
    if (runLength > 0) this.#onMatch(runStep, runTime, runLength);
  }

  get #method(): Pick<AuditEvent, 'method'> {
    return this.#counters ? HOTP_METHOD : {};
  }

  /** Publishes an event; callers on a per-item path check `auditChannel.hasSubscribers` first. */
  #audit(event: Omit<AuditEvent, 'verifier' | 'time'>): void {
    audit(this.#name, event);
  }
}

