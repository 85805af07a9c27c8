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
import { noteHashes } from '../strhash.js';
import {
  type BeginResult, type FinishOps, type Store, BEGIN_GO, BEGIN_LOCKED, DONE_COMMITTED, DONE_LOCKED,
  OP_FAILURE, OP_RELEASE, OP_SUCCESS,
} from '../store/types.js';
import type { VerifyResult } from '../verifier.js';
import { type AuditEvent, audit, auditChannel } from './audit.js';
import type { ResolvedPolicy } from './options.js';

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
  readonly noMatch: number;
  readonly replayed: number;
}

/** The stateful items of one slice, column by column (sized once for the slice). */
export class StatefulItems {
  /**
   * The accounts, in order; passed as is to the store's begin and (when all go) finish. Frozen
   * at begin, with their hashes noted (MemoryStore does not hash them again).
   */
  readonly accounts: string[] = [];
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
  /** Raw kernel results, filled by the verifier. */
  raw = new Int32Array(0);
  /** Whether begin let the item go (it must be finished). */
  go = new Uint8Array(0);

  /** For at most `capacity` items. */
  constructor(capacity: number) {
    this.hash = new Int32Array(capacity);
    this.request = new Int32Array(capacity);
    this.packed = new Int32Array(capacity);
    this.step = new Float64Array(capacity);
    this.center = new Float64Array(capacity);
    this.time = new Float64Array(capacity);
  }

  add(account: string, hash: number, request: number, packed: number, step: number, time: number): number {
    const k = this.accounts.push(account) - 1;
    this.hash[k] = hash;
    this.request[k] = request;
    this.packed[k] = packed;
    this.step[k] = step;
    this.center[k] = step;
    this.time[k] = time;
    return k;
  }

  get size(): number {
    return this.accounts.length;
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
  /** Called with (matched step, request time ms) for each committed match (clock health). */
  readonly #onMatch: (step: number, timeMs: number) => void;
  /** HOTP: each item's counter is its account's last accepted counter + 1, read in begin. */
  readonly #counters: boolean;

  constructor(
    store: Store, policy: ResolvedPolicy, window: { past: number; future: number }, name: string,
    onMatch: (step: number, timeMs: number) => void, counters = false,
  ) {
    this.#counters = counters;
    this.#store = store;
    this.#policy = policy;
    this.#window = window;
    this.#name = name;
    this.#onMatch = onMatch;
  }

  /** Begins the items: answers the locked ones (and all on a store failure), edits the rest. */
  async begin(items: StatefulItems, editor: PackedEditor, results: VerifyResult[]): Promise<void> {
    const n = items.size;
    items.raw = new Int32Array(n);
    items.go = new Uint8Array(n);
    let begun: BeginResult | undefined;
    try {
      noteHashes(Object.freeze(items.accounts), items.hash);
      begun = await this.#store.begin(items.accounts, this.#policy.limits);
    } catch {
      begun = undefined; // fail closed below
    }
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
    const { past, future } = this.#window;
    const { driftMax } = this.#policy;
    const n = items.size;
    // Items begin let go, in order. Usually all of them: then the store gets the same accounts
    // array as in begin (MemoryStore finds its records again without a lookup).
    let count = 0;
    for (let k = 0; k < n; k++) count += items.go[k]!;
    if (count === 0) return;
    const which = new Int32Array(count);
    for (let k = 0, w = 0; k < n; k++) if (items.go[k] === 1) which[w++] = k;
    const accounts = count === n ? items.accounts : Array.from(which, (k) => items.accounts[k]!);
    const ops: FinishOps = {
      op: new Uint8Array(count),
      step: new Float64Array(count),
      drift: new Float64Array(count).fill(Number.NaN),
    };
    for (let w = 0; w < count; w++) {
      const k = which[w]!;
      const r = items.raw[k]!;
      if (r >= -past && r <= future) {
        ops.op[w] = OP_SUCCESS;
        ops.step[w] = items.center[k]! + r;
        if (driftMax > 0) ops.drift[w] = Math.max(-driftMax, Math.min(driftMax, ops.step[w]! - items.step[k]!));
      } else {
        ops.op[w] = r === codes.noMatch ? OP_FAILURE : OP_RELEASE; // replayed, or an error
      }
    }
    let done: Uint8Array | undefined;
    try {
      done = await this.#store.finish(accounts, ops, this.#policy.limits);
    } catch {
      done = undefined;
    }
    const stats = this.stats;
    const auditing = auditChannel.hasSubscribers;
    const valid = new ValidResults();
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
        results[i] = valid.get(delta, matched);
        stats.valid++;
        this.#onMatch(matched, items.time[k]!);
        if (auditing) this.#audit({ type: 'valid', account: accounts[w]!, delta, ...this.#method });
      } else if (op === OP_SUCCESS || items.raw[k] === codes.replayed) {
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
  }

  get #method(): Pick<AuditEvent, 'method'> {
    return this.#counters ? HOTP_METHOD : {};
  }

  /** Publishes an event; callers on a per-item path check `auditChannel.hasSubscribers` first. */
  #audit(event: Omit<AuditEvent, 'verifier' | 'time'>): void {
    audit(this.#name, event);
  }
}

