// The verifier: validates and canonicalises every request, resolves each secret to its HMAC
// midstates (key handle, key cache, or derived in one batched core call), packs the good
// requests into chunks, dispatches them (inline or to workers) and answers one result per
// request, in request order.
//
// A bad request is a result with status 'malformed' and a reason; it never throws and never
// disturbs its neighbours. Options are validated once, in `create`.

import { Batcher } from './batcher.js';
import { BatchPacker, deriveMidstates, type PackedChunk, PackedEditor, packParams } from './batch.js';
import { intOption, optionsObject, TotpFleetError } from './errors.js';
import { type AuditEvent, auditChannel, clockChannel } from './policy/audit.js';
import { type ClockHealth, type ClockHealthOptions, ClockMonitor } from './policy/clock.js';
import { type PolicyOptions, type ResolvedPolicy, resolvePolicy } from './policy/options.js';
import { MemoryStore } from './store/memory.js';
import {
  type BeginResult, type FinishOps, type Store, BEGIN_GO, BEGIN_LOCKED, DONE_COMMITTED, DONE_LOCKED,
  OP_FAILURE, OP_RELEASE, OP_SUCCESS,
} from './store/types.js';
import { KeyCache, KeyHandle, KeyRing, NOT_A_HANDLE } from './keys.js';
import { type CommonOptions, type Digits, type ResolvedCommon, generatorKey, parseCode, resolveCommon } from './otp.js';
import { Dispatcher, type PoolInternals, type PoolOptions, type PoolStats, RESULT_ERROR } from './pool.js';
import { type Secret, type SecretProblem, secretBytes } from './secret.js';
import { type TimeOptions, resolveTime } from './totp.js';
import { timeStep } from './time.js';
import { type Core, inlineCore } from './wasm.js';

/** A window in time steps on each side of the current step. */
export interface WindowOptions {
  /** Steps before the current one that are accepted (0..10). */
  past?: number;
  /** Steps after the current one that are accepted (0..10). */
  future?: number;
}

/** How single `verify()` calls are coalesced into batches. */
export interface BatchingOptions {
  /** Largest batch the coalescer forms (1..1,000,000); default 8192. */
  maxBatch?: number;
  /** Longest a call waits for a busy verifier before its batch goes anyway, in ms (0..1000); default 2. */
  maxDelayMs?: number;
}

export interface VerifierOptions extends CommonOptions, TimeOptions, PoolOptions {
  /** Steps accepted on each side of the current step: a number for both, or `{ past, future }`; default 1. */
  window?: number | WindowOptions;
  /**
   * Base32 secrets whose midstates are kept (CLOCK eviction); 0 turns the cache off.
   * Default 100,000. Raw-byte secrets are derived in each batch instead, and `importKey`
   * handles need no cache.
   */
  keyCacheSize?: number;
  batching?: BatchingOptions;
  /**
   * Where replay marks and failure counts of requests with an `account` live. Default: a
   * MemoryStore of this verifier's own (closed with it). A RedisStore shares them across a
   * fleet (the caller closes it). `null`: no state; every request is verified on its own, and
   * replay protection is the caller's.
   */
  store?: Store | null;
  /** Failure limits, lockout and drift for requests with an `account`. */
  policy?: PolicyOptions;
  /** Fleet clock health: how matches are averaged and when the alarm is raised. */
  clock?: ClockHealthOptions;
  /** Names this verifier in audit events; default 'totp-fleet'. */
  name?: string;
}

/** One code to check. */
export interface VerifyRequest {
  /** Raw key bytes, base32 text, or a handle from `importKey`. */
  secret: Secret | KeyHandle;
  /** What the user typed: exactly `digits` ASCII digits. */
  code: string;
  /** Milliseconds since the Unix epoch; default the time the batch was received. */
  timestamp?: number;
  /**
   * The credential's identifier (1..512 characters). With a store (the default), a request with
   * an account gets replay protection and failure limits; without one it is verified on its own.
   */
  account?: string;
}

/** Why a request was malformed. */
export type MalformedReason =
  | 'request'
  | 'code'
  | 'timestamp'
  | 'account'
  | 'secret-handle'
  | SecretProblem;

export type VerifyStatus = 'valid' | 'invalid' | 'replayed' | 'locked' | 'malformed' | 'error';

/** The answer to one request. Results are frozen, and equal results may be the same object. */
export interface VerifyResult {
  status: VerifyStatus;
  /** For 'valid': the matched step minus the current step (negative: the code was older). */
  delta?: number;
  /** For 'valid': the matched time step (the RFC 6238 counter). */
  step?: number;
  /**
   * For 'malformed': what was wrong (never the value itself). For 'error': 'store' (the store
   * could not answer) or 'internal' (a worker or the core failed).
   */
  reason?: MalformedReason | 'internal' | 'store';
  /** For 'locked': ms until the account may try again (at most). */
  retryAfterMs?: number;
}

/** Counters for operators. */
export interface VerifierStats {
  keyCache: ReturnType<KeyCache['stats']>;
  keyHandles: number;
  pool: PoolStats;
  batcher: { queued: number; running: number; batches: number };
  /** Requests with an account, by outcome (zero without a store). */
  policy: PolicyStats;
}

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

interface Settings extends ResolvedCommon {
  readonly period: number;
  readonly t0: number;
  readonly past: number;
  readonly future: number;
}

const MAX_ACCOUNT_LENGTH = 512;
const ERROR_RESULT: Readonly<VerifyResult> = Object.freeze({ status: 'error', reason: 'internal' });
const STORE_ERROR: Readonly<VerifyResult> = Object.freeze({ status: 'error', reason: 'store' });
const INVALID_RESULT: Readonly<VerifyResult> = Object.freeze({ status: 'invalid' });
const REPLAYED_RESULT: Readonly<VerifyResult> = Object.freeze({ status: 'replayed' });

function resolveWindow(value: unknown, max: number): { past: number; future: number } {
  if (value === undefined || typeof value === 'number') {
    const both = intOption('window', value, 0, max, 1);
    return { past: both, future: both };
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`"window" expected an integer 0..${max} or { past, future }, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
  }
  const w = value as WindowOptions;
  return {
    past: intOption('window.past', w.past, 0, max, 1),
    future: intOption('window.future', w.future, 0, max, 1),
  };
}

/** One frozen result per malformed reason: results are read-only and may be shared. */
const MALFORMED: Readonly<Record<MalformedReason, VerifyResult>> = Object.freeze(Object.fromEntries(
  (['request', 'code', 'timestamp', 'account', 'secret-handle', 'secret-type', 'secret-encoding', 'secret-length'] as const)
    .map((reason) => [reason, Object.freeze({ status: 'malformed', reason })]),
) as Record<MalformedReason, VerifyResult>);

/** Offsets deltas (-MAX_DELTA..MAX_DELTA) to indices of a per-step result table. */
const MAX_DELTA = 16;

/** A slice of a batch, validated and packed, waiting for the dispatcher. */
interface Prepared {
  readonly start: number;
  /** Per request of the slice: its index among the packed items, or -1 (answered already). */
  readonly packed: Int32Array;
  readonly steps: Float64Array;
  /** Per request of the slice: its time in ms (the request's timestamp, or the batch's). */
  readonly times: Float64Array;
  readonly chunks: PackedChunk[];
  readonly total: number;
  /** Whether the batch this slice belongs to runs on the workers. */
  readonly pooled: boolean;
  /**
   * With a store: per request of the slice, its index among the round's stateful items, or -1.
   * A stateful item's raw kernel result goes to `PolicyRound.raw`, not to `results`.
   */
  stateful?: Int32Array;
}

/** The stateful items of one round of a batch (see #verifyWithPolicy), column by column. */
interface PolicyRound {
  readonly accounts: string[];
  /** Index of the request in the round. */
  readonly request: number[];
  /** The server's current step, and the centre of the window (moved by learned drift). */
  readonly step: number[];
  readonly center: number[];
  readonly time: number[];
  /** Raw kernel results. */
  readonly raw: Int32Array;
}

/**
 * Verifies TOTP codes in batches on the WebAssembly core, inline or on worker threads.
 *
 * @example
 * const verifier = await TotpVerifier.create({ window: 1 });
 * const [result] = await verifier.verifyBatch([{ secret, code: '287082', timestamp: Date.now() }]);
 * if (result.status === 'valid') { ... }
 * await verifier.close();
 */
export class TotpVerifier {
  readonly #settings: Settings;
  readonly #core: Core;
  readonly #params: number;
  readonly #midWords: number;
  readonly #cache: KeyCache;
  readonly #ring: KeyRing;
  readonly #dispatcher: Dispatcher;
  readonly #batcher: Batcher<VerifyRequest, VerifyResult>;
  readonly #store: Store | undefined;
  readonly #ownsStore: boolean;
  readonly #policy: ResolvedPolicy;
  readonly #clock: ClockMonitor;
  readonly #name: string;
  readonly #policyStats: PolicyStats = { valid: 0, invalid: 0, replayed: 0, locked: 0, storeErrors: 0, lockouts: 0 };
  #closed = false;
  #closing: Promise<void> | undefined;

  private constructor(opts: VerifierOptions, internals: PoolInternals) {
    const core = inlineCore();
    this.#core = core;
    this.#settings = Object.freeze({
      ...resolveCommon(opts),
      ...resolveTime(opts),
      ...resolveWindow(opts.window, core.layout.maxWindow),
    });
    this.#params = packParams(core.layout, this.#settings.digits, this.#settings.past, this.#settings.future);
    this.#midWords = core.layout.midStride / 4;
    this.#cache = new KeyCache(this.#midWords, intOption('keyCacheSize', opts.keyCacheSize, 0, 100_000_000, 100_000));
    this.#ring = new KeyRing(this.#midWords);
    const batching = optionsObject<BatchingOptions>('batching', opts.batching);
    const maxBatch = intOption('batching.maxBatch', batching.maxBatch, 1, 1_000_000, 8192);
    const maxDelayMs = intOption('batching.maxDelayMs', batching.maxDelayMs, 0, 1000, 2);
    const s = this.#settings;
    this.#policy = resolvePolicy(opts.policy, s.period, s.past, s.future);
    if (opts.name !== undefined && (typeof opts.name !== 'string' || opts.name.length === 0 || opts.name.length > 100)) {
      throw new TypeError('"name" expected a string of 1..100 characters');
    }
    this.#name = opts.name ?? 'totp-fleet';
    this.#clock = new ClockMonitor(opts.clock, s.period, (health) => {
      if (clockChannel.hasSubscribers) clockChannel.publish({ verifier: this.#name, ...health });
    });
    const store: unknown = opts.store;
    if (store !== undefined && store !== null &&
        (typeof store !== 'object' || typeof (store as Store).begin !== 'function' || typeof (store as Store).finish !== 'function')) {
      throw new TypeError('"store" expected a store (MemoryStore, RedisStore) or null');
    }
    this.#dispatcher = new Dispatcher(opts, internals);
    // Last: the one option that allocates something that must be closed.
    this.#ownsStore = store === undefined;
    this.#store = store === undefined ? new MemoryStore() : ((store as Store | null) ?? undefined);
    this.#batcher = new Batcher((reqs) => this.#verifyNow(reqs), {
      maxBatch,
      maxDelayMs,
      maxQueue: this.#dispatcher.maxQueue,
      concurrency: Math.max(1, this.#dispatcher.threads),
    });
  }

  /** Validates `opts` (TypeError / RangeError naming the option) and makes a verifier. */
  static async create(opts?: VerifierOptions): Promise<TotpVerifier> {
    return new TotpVerifier(optionsObject<VerifierOptions>('opts', opts), {});
  }

  /** @internal For tests: a verifier with pool internals (fault-injecting workers). */
  static async createWithInternals(opts: VerifierOptions, internals: PoolInternals): Promise<TotpVerifier> {
    return new TotpVerifier(optionsObject<VerifierOptions>('opts', opts), internals);
  }

  /** The options in force, with defaults filled in. */
  get options(): Readonly<{
    digits: Digits; period: number; t0: number; window: { past: number; future: number };
    minSecretBytes: number; keyCacheSize: number; threads: number; inlineThreshold: number;
  }> {
    const s = this.#settings;
    return {
      digits: s.digits, period: s.period, t0: s.t0, window: { past: s.past, future: s.future },
      minSecretBytes: s.minSecretBytes, keyCacheSize: this.#cache.capacity,
      threads: this.#dispatcher.threads, inlineThreshold: this.#dispatcher.inlineThreshold,
    };
  }

  /**
   * Hashes a secret's HMAC key blocks once and returns a handle to use as `secret` in requests
   * to this verifier. About 90 bytes per handle (see README). Throws TypeError / RangeError for
   * a secret this verifier would refuse; the message never contains the secret.
   */
  importKey(secret: Secret): KeyHandle {
    return this.importKeys([secret])[0]!;
  }

  /**
   * `importKey` for many secrets, derived in batches (one core call per few thousand keys):
   * the way to load millions of accounts at start-up. All or nothing: a bad secret throws
   * (naming its index, never its value) and no handle is issued.
   */
  importKeys(secrets: readonly Secret[]): KeyHandle[] {
    this.#assertOpen();
    if (!Array.isArray(secrets)) throw new TypeError('"secrets" expected an array');
    const keys: Uint8Array[] = [];
    const w = this.#midWords;
    const mids = new Uint32Array(secrets.length * w);
    try {
      for (let i = 0; i < secrets.length; i++) {
        try {
          keys.push(generatorKey(secrets[i], this.#settings));
        } catch (error) {
          if (secrets.length === 1) throw error;
          const E = error instanceof RangeError ? RangeError : TypeError;
          throw new E(`secrets[${i}]: ${(error as Error).message}`);
        }
      }
      deriveMidstates(this.#core, keys, mids);
      return keys.map((_, i) => this.#ring.issue(mids, i * w));
    } finally {
      mids.fill(0);
      keys.forEach((key, i) => { if (typeof secrets[i] === 'string') key.fill(0); }); // decoded here
    }
  }

  /** Zeroes a handle's midstates; requests using it afterwards are malformed ('secret-handle'). */
  releaseKey(handle: KeyHandle): void {
    this.#ring.release(handle);
  }

  stats(): VerifierStats {
    return {
      keyCache: this.#cache.stats(),
      keyHandles: this.#ring.size,
      pool: this.#dispatcher.stats(),
      batcher: this.#batcher.pending,
      policy: { ...this.#policyStats },
    };
  }

  /**
   * Fleet clock health: whether this server's clock agrees with its users' phones, from the
   * offsets of recent matches of every account. Changes are also published on the
   * 'totp-fleet:clock' diagnostics channel.
   */
  clockHealth(): ClockHealth {
    return this.#clock.summary();
  }

  /**
   * Resolves when the store can run its scripts; rejects with ERR_STORE_UNAVAILABLE when it
   * cannot. Resolves at once without a store.
   */
  async storeHealth(): Promise<void> {
    this.#assertOpen();
    await this.#store?.health();
  }

  /**
   * Verifies one request. Calls made close together are coalesced into one batch, and a lone
   * call on an idle verifier runs at once.
   */
  verify(request: VerifyRequest): Promise<VerifyResult> {
    // Not `async`: that would wrap the batcher's promise in a second one per call.
    if (this.#closed) return Promise.reject(new TotpFleetError('ERR_CLOSED', 'the verifier is closed'));
    return this.#batcher.submit(request);
  }

  /**
   * Verifies every request; the i-th result answers the i-th request. Rejects only when
   * `requests` is not an array, the verifier is closed (ERR_CLOSED), or too much work is in
   * flight (ERR_OVERLOADED).
   */
  async verifyBatch(requests: readonly VerifyRequest[]): Promise<VerifyResult[]> {
    this.#assertOpen();
    if (!Array.isArray(requests)) throw new TypeError('"requests" expected an array');
    return this.#verifyNow(requests);
  }

  #verifyNow(requests: readonly VerifyRequest[]): Promise<VerifyResult[]> {
    return this.#store === undefined ? this.#verifyStateless(requests) : this.#verifyWithPolicy(requests, this.#store);
  }

  async #verifyStateless(requests: readonly VerifyRequest[]): Promise<VerifyResult[]> {
    const n = requests.length;
    const results = new Array<VerifyResult>(n);
    const now = Date.now();
    // Admission once per batch, so a batch is refused whole or run whole.
    this.#dispatcher.admit(n);
    // Slices already handed out run to the end even if preparing a later one fails, so the
    // admission is released only when nothing of this batch is running (#runSlice never rejects).
    const running: Promise<void>[] = [];
    try {
      // Large batches go out in slices: each slice is packed and handed to a worker before the
      // next is packed, so packing here overlaps hashing there. Small batches are one slice.
      const pooled = this.#dispatcher.pooled(n);
      const slice = this.#dispatcher.sliceItems(n);
      for (let start = 0; start < n; start += slice) {
        const prepared = this.#prepare(requests, start, Math.min(n, start + slice), now, results, pooled);
        running.push(this.#runSlice(prepared, results));
        // Let the pool hand the slice to a worker now (piscina distributes queued tasks in a
        // microtask), rather than after every slice is packed.
        if (start + slice < n) await undefined;
      }
    } finally {
      try {
        await Promise.all(running);
      } finally {
        this.#dispatcher.release(n);
      }
    }
    return results;
  }

  /**
   * A batch with a store (SECURITY.md, "The order of a verification"). Requests are read once
   * into plain objects; the first request of each account goes in the first round, a second
   * request of the same account in the second round, and so on, so that they act as if made one
   * after the other (the first valid, a repeat of its code replayed). Almost every batch is one
   * round. Admission is once per batch.
   */
  async #verifyWithPolicy(requests: readonly VerifyRequest[], store: Store): Promise<VerifyResult[]> {
    const n = requests.length;
    const results = new Array<VerifyResult>(n);
    const now = Date.now();
    this.#dispatcher.admit(n);
    try {
      const snapshot = new Array<VerifyRequest>(n);
      const rounds: number[][] = [[]];
      const seen = new Map<string, number>();
      for (let i = 0; i < n; i++) {
        let account: unknown, code: unknown, timestamp: unknown, secret: unknown;
        try {
          const req: unknown = requests[i];
          if (req === null || typeof req !== 'object' || Array.isArray(req)) {
            results[i] = MALFORMED.request;
            continue;
          }
          ({ account, code, timestamp, secret } = req as Partial<Record<keyof VerifyRequest, unknown>>);
        } catch {
          results[i] = MALFORMED.request;
          continue;
        }
        snapshot[i] = { account, code, timestamp, secret } as VerifyRequest;
        let round = 0;
        if (typeof account === 'string') {
          round = seen.get(account) ?? 0;
          seen.set(account, round + 1);
        }
        (rounds[round] ??= []).push(i);
      }
      for (const indices of rounds) {
        const sub = indices.map((i) => snapshot[i]!);
        const subResults = new Array<VerifyResult>(sub.length);
        await this.#policyRound(sub, now, subResults, store);
        for (let k = 0; k < indices.length; k++) results[indices[k]!] = subResults[k]!;
      }
    } finally {
      this.#dispatcher.release(n);
    }
    return results;
  }

  /** One round: prepare, begin (lockout, marks), evaluate, finish (commit or count), answer. */
  async #policyRound(requests: VerifyRequest[], now: number, results: VerifyResult[], store: Store): Promise<void> {
    const m = requests.length;
    const pooled = this.#dispatcher.pooled(m);
    const slice = this.#dispatcher.sliceItems(m);
    const prepared: Prepared[] = [];
    for (let start = 0; start < m; start += slice) {
      prepared.push(this.#prepare(requests, start, Math.min(m, start + slice), now, results, pooled));
    }
    // The stateful items: packed, with an account.
    const accounts: string[] = [];
    const request: number[] = [];
    const step: number[] = [];
    const time: number[] = [];
    const editors: PackedEditor[] = [];
    const packedAt: number[] = []; // pairs: prepared index, packed index
    prepared.forEach((p, q) => {
      const stateful = new Int32Array(p.packed.length).fill(-1);
      for (let j = 0; j < p.packed.length; j++) {
        const account = requests[p.start + j]!.account;
        if (p.packed[j]! < 0 || account === undefined) continue;
        stateful[j] = accounts.length;
        accounts.push(account);
        request.push(p.start + j);
        step.push(p.steps[j]!);
        time.push(p.times[j]!);
        packedAt.push(q, p.packed[j]!);
      }
      p.stateful = stateful;
      editors.push(new PackedEditor(this.#core.layout, p.chunks));
    });
    const count = accounts.length;
    const round: PolicyRound = { accounts, request, step, center: step.slice(), time, raw: new Int32Array(count) };
    const go = new Uint8Array(count); // 1: evaluated, to be finished
    if (count > 0) this.#begin(round, go, editors, packedAt, results, await this.#tryBegin(store, accounts));
    await Promise.all(prepared.map((p) => this.#runSlice(p, results, round)));
    if (count > 0) await this.#finish(round, go, results, store);
  }

  async #tryBegin(store: Store, accounts: string[]): Promise<BeginResult | undefined> {
    try {
      return await store.begin(accounts, this.#policy.limits);
    } catch {
      return undefined; // fail closed: every stateful item of the round is 'error'
    }
  }

  /**
   * Applies begin's answers: a locked account (or a store failure) is answered now and its code
   * is not evaluated (PARAM_SKIP); the others get their window's floor (last accepted step + 1)
   * and, with drift learning, a moved centre.
   */
  #begin(
    round: PolicyRound, go: Uint8Array, editors: PackedEditor[], packedAt: number[], results: VerifyResult[],
    begun: BeginResult | undefined,
  ): void {
    const { driftMax } = this.#policy;
    for (let k = 0; k < round.accounts.length; k++) {
      const editor = editors[packedAt[2 * k]!]!;
      const index = packedAt[2 * k + 1]!;
      const state = begun === undefined ? -1 : begun.state[k];
      if (state !== BEGIN_GO) {
        editor.skip(index);
        if (state === BEGIN_LOCKED) {
          const retryAfterMs = begun!.retryAfterMs[k]!;
          results[round.request[k]!] = Object.freeze({ status: 'locked', retryAfterMs });
          this.#policyStats.locked++;
          this.#audit({ type: 'locked', account: round.accounts[k]!, retryAfterMs });
        } else {
          results[round.request[k]!] = STORE_ERROR;
          this.#policyStats.storeErrors++;
          this.#audit({ type: 'error', account: round.accounts[k]!, reason: 'store' });
        }
        continue;
      }
      go[k] = 1;
      if (driftMax > 0) {
        const drift = Math.max(-driftMax, Math.min(driftMax, begun!.drift[k]!));
        const center = round.step[k]! + drift;
        if (drift !== 0 && center >= 0 && Number.isSafeInteger(center)) {
          round.center[k] = center;
          editor.setCounter(index, center);
        }
      }
      const last = begun!.lastStep[k]!;
      if (last >= 0) editor.setLowestDelta(index, last - round.center[k]! + 1);
    }
  }

  /** Commits matches and counts failures in one store call, then answers the round's items. */
  async #finish(round: PolicyRound, go: Uint8Array, results: VerifyResult[], store: Store): Promise<void> {
    const { resultNoMatch, resultReplayed } = this.#core.layout;
    const { past, future } = this.#settings;
    const { driftMax } = this.#policy;
    const which: number[] = [];
    for (let k = 0; k < go.length; k++) if (go[k] === 1) which.push(k);
    if (which.length === 0) return;
    const accounts = which.map((k) => round.accounts[k]!);
    const ops: FinishOps = {
      op: new Uint8Array(which.length),
      step: new Float64Array(which.length),
      drift: new Float64Array(which.length).fill(Number.NaN),
    };
    which.forEach((k, w) => {
      const r = round.raw[k]!;
      if (r >= -past && r <= future) {
        ops.op[w] = OP_SUCCESS;
        ops.step[w] = round.center[k]! + r;
        if (driftMax > 0) ops.drift[w] = Math.max(-driftMax, Math.min(driftMax, ops.step[w]! - round.step[k]!));
      } else {
        ops.op[w] = r === resultNoMatch ? OP_FAILURE : OP_RELEASE; // replayed, or an error
      }
    });
    let done: Uint8Array | undefined;
    try {
      done = await store.finish(accounts, ops, this.#policy.limits);
    } catch {
      done = undefined;
    }
    const stats = this.#policyStats;
    which.forEach((k, w) => {
      const account = round.accounts[k]!;
      const i = round.request[k]!;
      if (done === undefined) {
        // Not known to be committed (so never 'valid') nor counted (so never 'invalid').
        results[i] = STORE_ERROR;
        stats.storeErrors++;
        this.#audit({ type: 'error', account, reason: 'store' });
        return;
      }
      const op = ops.op[w];
      const outcome = done[w];
      if (op === OP_SUCCESS && outcome === DONE_COMMITTED) {
        const matched = ops.step[w]!;
        const delta = matched - round.step[k]!;
        results[i] = Object.freeze({ status: 'valid', delta, step: matched });
        stats.valid++;
        this.#clock.add(this.#phoneOffset(matched, round.time[k]!));
        this.#audit({ type: 'valid', account, delta });
      } else if (op === OP_SUCCESS || (op === OP_RELEASE && round.raw[k] === resultReplayed)) {
        // A used step (found by the core below the floor, or committed meanwhile elsewhere).
        results[i] = REPLAYED_RESULT;
        stats.replayed++;
        this.#audit({ type: 'replayed', account });
      } else if (op === OP_FAILURE) {
        const lockedNow = outcome === DONE_LOCKED;
        results[i] = INVALID_RESULT;
        stats.invalid++;
        if (lockedNow) stats.lockouts++;
        this.#audit({ type: 'invalid', account, lockedNow });
      } else {
        results[i] = ERROR_RESULT;
        this.#audit({ type: 'error', account, reason: 'internal' });
      }
    });
  }

  #audit(event: Omit<AuditEvent, 'verifier' | 'time'>): void {
    if (auditChannel.hasSubscribers) auditChannel.publish({ ...event, verifier: this.#name, time: Date.now() });
  }

  /**
   * Validates and canonicalises requests[start..end), answering bad ones in `results`, and
   * packs the rest. Synchronous: nothing else runs between reading a request and packing it.
   */
  #prepare(
    requests: readonly VerifyRequest[], start: number, end: number, now: number, results: VerifyResult[], pooled: boolean,
  ): Prepared {
    const s = this.#settings;
    const n = end - start;
    const packed = new Int32Array(n).fill(-1);
    const steps = new Float64Array(n);
    const times = new Float64Array(n);
    const packer = new BatchPacker(this.#core.layout, n, pooled ? n : this.#core.layout.maxItems);
    const cache = this.#cache.capacity > 0 ? this.#cache : undefined;
    // Cache misses: distinct secrets to derive, and the packed items waiting for each.
    const missKeys: Uint8Array[] = [];
    const missIds: string[] = [];
    const missById = new Map<string, number>();
    const waiting: number[] = []; // pairs: packed index, miss number
    for (let j = 0; j < n; j++) {
      const i = start + j;
      // Each field is read exactly once, here: a getter or Proxy that throws (or answers
      // differently on a second read) makes this item malformed, not the batch rejected.
      let account: unknown, codeText: unknown, timestamp: unknown, secret: unknown;
      try {
        const req: unknown = requests[i];
        if (req === null || typeof req !== 'object' || Array.isArray(req)) {
          results[i] = MALFORMED.request;
          continue;
        }
        ({ account, code: codeText, timestamp, secret } = req as Partial<Record<keyof VerifyRequest, unknown>>);
      } catch {
        results[i] = MALFORMED.request;
        continue;
      }
      if (account !== undefined &&
          (typeof account !== 'string' || account.length === 0 || account.length > MAX_ACCOUNT_LENGTH)) {
        results[i] = MALFORMED.account;
        continue;
      }
      const code = parseCode(codeText, s.digits);
      if (code < 0) {
        results[i] = MALFORMED.code;
        continue;
      }
      const time = timestamp === undefined ? now : timestamp;
      const step = timeStep(time, s);
      if (step < 0) {
        results[i] = MALFORMED.timestamp;
        continue;
      }
      // A secret that is not what it claims (a typed array whose getters throw) is malformed.
      try {
        const handleAt = this.#ring.offsetOf(secret);
        if (handleAt >= 0) {
          packed[j] = packer.addMid(this.#ring.data, handleAt, step, code, this.#params);
        } else if (handleAt !== NOT_A_HANDLE) {
          results[i] = MALFORMED['secret-handle'];
          continue;
        } else if (cache !== undefined && typeof secret === 'string') {
          // Base32 text: a cache hit saves decoding and deriving. (Raw bytes skip the cache:
          // turning them into a lookup key costs more than the SIMD derivation it would save.)
          const at = cache.lookup(secret);
          if (at >= 0) {
            packed[j] = packer.addMid(cache.data, at, step, code, this.#params);
          } else {
            let miss = missById.get(secret);
            if (miss === undefined) {
              const key = secretBytes(secret, s);
              if (typeof key === 'string') {
                results[i] = MALFORMED[key];
                continue;
              }
              miss = missKeys.push(key) - 1;
              missIds.push(secret);
              missById.set(secret, miss);
            }
            packed[j] = packer.addPending(step, code, this.#params);
            waiting.push(packed[j]!, miss);
          }
        } else {
          const key = secretBytes(secret, s);
          if (typeof key === 'string') {
            results[i] = MALFORMED[key];
            continue;
          }
          packed[j] = packer.addKey(key, step, code, this.#params);
          if (typeof secret === 'string') key.fill(0); // our own decoded copy, now packed
        }
      } catch {
        results[i] = MALFORMED['secret-type'];
        continue;
      }
      steps[j] = step;
      times[j] = time as number;
    }
    if (missKeys.length > 0) this.#deriveMisses(packer, missKeys, missIds, waiting);
    const chunks = packer.finish();
    let total = 0;
    for (const c of chunks) total += c.count;
    return { start, packed, steps, times, chunks, total, pooled };
  }

  /**
   * Runs a prepared slice and answers its packed requests in `results`; the raw results of
   * stateful items go to `round.raw` instead.
   */
  async #runSlice(p: Prepared, results: VerifyResult[], round?: PolicyRound): Promise<void> {
    if (p.total === 0) return;
    const raw = await this.#dispatcher.run(p.chunks, p.total, 'verify', p.pooled);
    const { resultNoMatch } = this.#core.layout;
    const { past, future } = this.#settings;
    const stateful = p.stateful;
    // Valid results are frozen and shared by the items with the same step and delta (a batch
    // received at one moment has one current step): one object per delta, not per item.
    const shared: (VerifyResult | undefined)[] = [];
    let sharedStep = -1;
    for (let j = 0; j < p.packed.length; j++) {
      const slot = p.packed[j]!;
      if (slot < 0) continue;
      const r = raw[slot]!;
      const i = p.start + j;
      if (stateful !== undefined && stateful[j]! >= 0) {
        round!.raw[stateful[j]!] = r;
        continue;
      }
      if (r === resultNoMatch) results[i] = INVALID_RESULT;
      else if (r < -past || r > future) results[i] = ERROR_RESULT; // RESULT_ERROR, MALFORMED, or nonsense
      else {
        const step = p.steps[j]!;
        if (step !== sharedStep) {
          sharedStep = step;
          shared.length = 0;
        }
        const k = r + MAX_DELTA;
        results[i] = shared[k] ??= Object.freeze({ status: 'valid', delta: r, step: step + r });
        this.#clock.add(this.#phoneOffset(step + r, p.times[j]!));
      }
    }
  }

  /** (phone − server) in seconds, estimated from a matched step: its midpoint minus `time`. */
  #phoneOffset(matchedStep: number, timeMs: number): number {
    const { t0, period } = this.#settings;
    return t0 + (matchedStep + 0.5) * period - timeMs / 1000;
  }

  /** Derives every missed secret in one batched core call, fills the waiting items, caches them. */
  #deriveMisses(packer: BatchPacker, keys: Uint8Array[], ids: string[], waiting: number[]): void {
    const w = this.#midWords;
    const mids = new Uint32Array(keys.length * w);
    try {
      deriveMidstates(this.#core, keys, mids);
      for (let k = 0; k < waiting.length; k += 2) packer.fillMid(waiting[k]!, mids, waiting[k + 1]! * w);
      for (let m = 0; m < keys.length; m++) this.#cache.insert(ids[m]!, mids, m * w);
    } finally {
      mids.fill(0);
      for (const key of keys) key.fill(0); // decoded from base32 here: our copies
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new TotpFleetError('ERR_CLOSED', 'the verifier is closed');
  }

  /**
   * Closes the verifier: calls already made are answered, later calls reject with ERR_CLOSED,
   * the workers stop, and the key cache and handles are zeroed. Idempotent.
   */
  close(): Promise<void> {
    // Every caller waits for the same closing, not just the first.
    this.#closing ??= (async () => {
      this.#closed = true;
      await this.#batcher.drain();
      await this.#dispatcher.close();
      this.#cache.clear();
      this.#ring.wipe();
      if (this.#ownsStore) await this.#store?.close();
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
