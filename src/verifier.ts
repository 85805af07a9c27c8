// The verifier: validates and canonicalises every request, resolves each secret to its HMAC
// midstates (key handle, key cache, or derived in one batched core call), packs the good
// requests into chunks, dispatches them (inline or to workers) and answers one result per
// request, in request order.
//
// A bad request is a result with status 'malformed' and a reason; it never throws and never
// disturbs its neighbours. Options are validated once, in `create`.

import { type Algorithm, algorithmCode, MID_WORDS } from './algorithm.js';
import { type BackupCodeOptions, BackupCodes } from './backup.js';
import { Batcher } from './batcher.js';
import { BatchPacker, deriveMidstates, type PackedChunk, PackedEditor, packParams, wipeChunk, wipeCore } from './batch.js';
import { intOption, optionsObject, TotpFleetError } from './errors.js';
import { auditChannel, clockChannel } from './policy/audit.js';
import { type ClockHealth, type ClockHealthOptions, ClockMonitor } from './policy/clock.js';
import { type PolicyOptions, isAccount, resolvePolicy } from './policy/options.js';
import { type PolicyStats, PolicyRunner, StatefulItems, ValidResults } from './policy/runner.js';
import { MemoryStore } from './store/memory.js';
import type { Store } from './store/types.js';

export type { PolicyStats } from './policy/runner.js';
import { KeyCache, KeyHandle, KeyRing, NOT_A_HANDLE } from './keys.js';
import { type CommonOptions, type Digits, type ResolvedCommon, generatorKey, parseCode, resolveCommon } from './otp.js';
import { Dispatcher, type PoolInternals, type PoolOptions, type PoolStats, RESULT_ERROR } from './pool.js';
import { base32ByteLength, DEFAULT_MIN_SECRET_BYTES, type Secret, type SecretProblem, secretBytes } from './secret.js';
import { type TimeOptions, resolveTime } from './totp.js';
import { Spares } from './spares.js';
import { StringSet, stringHash } from './strhash.js';
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
  /** How backup-code sets are made and kept (`verifier.backupCodes`). */
  backupCodes?: BackupCodeOptions;
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
  /**
   * On 'valid', 'invalid', 'replayed' and 'locked' results: the secret is a legacy one, shorter
   * than 16 bytes, accepted only because `minSecretBytes` was lowered. Re-enrol the account
   * with a new secret (`generateSecret()`).
   */
  rotate?: true;
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


interface Settings extends ResolvedCommon {
  readonly period: number;
  readonly t0: number;
  readonly past: number;
  readonly future: number;
}

/**
 * @internal How a HOTP verifier (hotp-verifier.ts) differs from a TOTP one: an account's
 * counter comes from the store (the last accepted counter + 1), not from the time; the window
 * is { past: lookBack, future: lookAhead } around it; its marks are kept `counterMemoryMs`.
 */
export interface CounterMode {
  readonly counterMemoryMs: number;
}
const ERROR_RESULT: Readonly<VerifyResult> = Object.freeze({ status: 'error', reason: 'internal' });
const INVALID_RESULT: Readonly<VerifyResult> = Object.freeze({ status: 'invalid' });
const NO_POLICY_STATS: Readonly<PolicyStats> = Object.freeze({
  valid: 0, invalid: 0, replayed: 0, locked: 0, storeErrors: 0, lockouts: 0,
});

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

/**
 * The store, when begin and finish can be answered now (beginNow / finishNow): a MemoryStore
 * whose begin and finish are MemoryStore's own (a subclass that overrides them is called as
 * any store is).
 */
function answersNow(store: Store): MemoryStore | undefined {
  return store instanceof MemoryStore && store.begin === MemoryStore.prototype.begin &&
    store.finish === MemoryStore.prototype.finish ? store : undefined;
}

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

/** Per-request arrays of a slice, reused from slice to slice (see takeScratch). */
interface Scratch {
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

function takeScratch(n: number): Scratch {
  return spareScratch.take(n) ?? { packed: new Int32Array(n), steps: new Float64Array(n), times: new Float64Array(n) };
}

function releaseScratch(scratch: Scratch): void {
  spareScratch.give(scratch);
}

/** A slice of a batch, validated and packed, waiting for the dispatcher. */
interface Prepared {
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

/**
 * With a store, what a round shares across its slices: the accounts seen so far (made at the
 * first request with an account) and the requests put off to the next round.
 */
interface RoundState {
  seen: StringSet | undefined;
  /** Made at the first request put off. */
  later: Deferred[] | undefined;
  /** Requests in the round: the most accounts `seen` will hold. */
  readonly size: number;
}

/** A request put off to the next round (its account was already in this one), as read. */
interface Deferred {
  readonly index: number;
  readonly request: VerifyRequest;
}

/** Rounds of fewer requests reuse the verifier's small spare "seen" set, larger ones its large spare. */
const SPARE_SEEN_MIN = 1024;

/** Statuses that say something about the account's secret, and so carry `rotate`. */
const ROTATE_STATUSES: ReadonlySet<VerifyStatus> = new Set(['valid', 'invalid', 'replayed', 'locked']);

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
  /** The core's code of this verifier's hash. */
  readonly #alg: number;
  readonly #midWords: number;
  readonly #cache: KeyCache;
  readonly #ring: KeyRing;
  readonly #dispatcher: Dispatcher;
  readonly #batcher: Batcher<VerifyRequest, VerifyResult>;
  /** Replay protection and failure limits; undefined with `store: null`. */
  readonly #policy: PolicyRunner | undefined;
  /** The "seen in this round" set of a finished round, kept for the next one (see #round). */
  #spareSeen: StringSet | undefined;
  /** The same for rounds of fewer than SPARE_SEEN_MIN requests. */
  #spareSmallSeen: StringSet | undefined;
  readonly #store: Store | undefined;
  readonly #ownsStore: boolean;
  readonly #clock: ClockMonitor;
  /** HOTP: counters from the store; undefined for TOTP. */
  readonly #counters: CounterMode | undefined;
  readonly #backup: BackupCodes | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  private constructor(opts: VerifierOptions, internals: PoolInternals, counters?: CounterMode) {
    const core = inlineCore();
    this.#counters = counters;
    this.#core = core;
    this.#settings = Object.freeze({
      ...resolveCommon(opts),
      ...resolveTime(opts),
      ...resolveWindow(opts.window, core.layout.maxWindow),
    });
    this.#alg = algorithmCode(core.layout, this.#settings.algorithm);
    this.#params = packParams(core.layout, this.#settings.digits, this.#settings.past, this.#settings.future, this.#alg);
    // The cache and handles keep only the words this verifier's hash uses (10 for SHA-1).
    this.#midWords = MID_WORDS[this.#settings.algorithm];
    this.#cache = new KeyCache(this.#midWords, intOption('keyCacheSize', opts.keyCacheSize, 0, 100_000_000, 100_000));
    this.#ring = new KeyRing(this.#midWords);
    const batching = optionsObject<BatchingOptions>('batching', opts.batching);
    const maxBatch = intOption('batching.maxBatch', batching.maxBatch, 1, 1_000_000, 8192);
    const maxDelayMs = intOption('batching.maxDelayMs', batching.maxDelayMs, 0, 1000, 2);
    const s = this.#settings;
    const policy = resolvePolicy(opts.policy, s.period, s.past, s.future, counters?.counterMemoryMs);
    if (opts.name !== undefined && (typeof opts.name !== 'string' || opts.name.length === 0 || opts.name.length > 100)) {
      throw new TypeError('"name" expected a string of 1..100 characters');
    }
    const name = opts.name ?? 'totp-fleet';
    this.#clock = new ClockMonitor(opts.clock, s.period, (health) => {
      if (clockChannel.hasSubscribers) clockChannel.publish({ verifier: name, ...health });
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
    // HOTP matches say nothing about clocks.
    const onMatch = counters !== undefined ? () => {} : (step: number, timeMs: number, times: number) => this.#clock.addRepeated(this.#phoneOffset(step, timeMs), times);
    this.#policy = this.#store === undefined ? undefined
      : new PolicyRunner(this.#store, policy, s, name, onMatch, counters !== undefined, answersNow(this.#store));
    this.#backup = this.#store === undefined ? undefined
      : new BackupCodes(this.#store, policy.limits, name, opts.backupCodes, () => this.#assertOpen());
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

  /** @internal The engine of a HotpVerifier: counters from the store (hotp-verifier.ts). */
  static async createCounting(opts: VerifierOptions, counters: CounterMode): Promise<TotpVerifier> {
    return new TotpVerifier(optionsObject<VerifierOptions>('opts', opts), {}, counters);
  }

  /**
   * The accounts' backup codes, in this verifier's store and under its failure limit: a wrong
   * backup code counts as a wrong TOTP code, and a locked account is refused both. Throws
   * TypeError for a verifier made with `store: null`.
   */
  get backupCodes(): BackupCodes {
    if (this.#backup === undefined) throw new TypeError('backup codes need a store (this verifier has store: null)');
    return this.#backup;
  }

  /** The options in force, with defaults filled in. */
  get options(): Readonly<{
    digits: Digits; algorithm: Algorithm; period: number; t0: number; window: { past: number; future: number };
    minSecretBytes: number; keyCacheSize: number; threads: number; inlineThreshold: number;
  }> {
    const s = this.#settings;
    return {
      digits: s.digits, algorithm: s.algorithm, period: s.period, t0: s.t0, window: { past: s.past, future: s.future },
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
      deriveMidstates(this.#core, keys, mids, this.#alg, w);
      return keys.map((key, i) => this.#ring.issue(mids, i * w, key.length < DEFAULT_MIN_SECRET_BYTES));
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
      policy: { ...(this.#policy?.stats ?? NO_POLICY_STATS) },
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
  verifyBatch(requests: readonly VerifyRequest[]): Promise<VerifyResult[]> {
    // Not `async`: that would wrap #verifyNow's promise in a second one per call.
    if (this.#closed) return Promise.reject(new TotpFleetError('ERR_CLOSED', 'the verifier is closed'));
    if (!Array.isArray(requests)) return Promise.reject(new TypeError('"requests" expected an array'));
    return this.#verifyNow(requests);
  }

  /**
   * Runs a batch; never throws (a failure is a rejection). A batch answered without waiting
   * (inline, and a store that answers now, or none) costs one promise, already resolved.
   */
  #verifyNow(requests: readonly VerifyRequest[]): Promise<VerifyResult[]> {
    const n = requests.length;
    const results = new Array<VerifyResult>(n);
    let running: Promise<void> | undefined;
    try {
      // Admission once per batch, so a batch is refused whole or run whole.
      this.#dispatcher.admit(n);
    } catch (error) {
      return Promise.reject(error);
    }
    try {
      running = this.#round(requests, Date.now(), results);
    } catch (error) {
      this.#dispatcher.release(n);
      return Promise.reject(error);
    }
    if (running === undefined) {
      this.#dispatcher.release(n);
      return Promise.resolve(results);
    }
    return running.then(
      () => {
        this.#dispatcher.release(n);
        return results;
      },
      (error: unknown) => {
        this.#dispatcher.release(n);
        throw error;
      },
    );
  }

  /**
   * Verifies `requests` into `results`. With a store, a request whose account already appeared
   * in this round is put off, with its fields as read, to a next round run after this one ends:
   * requests of one account act as if made one after the other (the first valid, a repeat of its
   * code replayed), and an account is in at most one slice of a round. Almost every batch is one
   * round.
   */
  #round(requests: readonly VerifyRequest[], now: number, results: VerifyResult[]): Promise<void> | undefined {
    const n = requests.length;
    const round: RoundState | undefined = this.#policy === undefined ? undefined : { seen: undefined, later: undefined, size: n };
    // Large batches go out in slices: each slice is packed and handed to a worker before the
    // next is packed, so packing here overlaps hashing there. Small batches are one slice.
    const pooled = this.#dispatcher.pooled(n);
    const slice = this.#dispatcher.sliceItems(n);
    if (slice < n) return this.#roundInSlices(requests, now, results, round, pooled, slice);
    // One slice (every inline batch): nothing to overlap, so no promise per slice, and none
    // at all when the slice is answered now (undefined).
    let prepared: Prepared;
    try {
      prepared = this.#prepare(requests, 0, n, now, results, pooled, round);
    } catch (error) {
      // An inline slice is packed straight into the core: nothing of it may stay there.
      if (!pooled) wipeCore(this.#core);
      throw error;
    }
    const running = this.#runSlice(prepared, results);
    if (running !== undefined) return running.then(() => this.#endRound(round, now, results));
    return this.#endRound(round, now, results);
  }

  /** #round of a batch in several slices (on the workers). */
  async #roundInSlices(
    requests: readonly VerifyRequest[], now: number, results: VerifyResult[], round: RoundState | undefined, pooled: boolean, slice: number,
  ): Promise<void> {
    const n = requests.length;
    // Slices already handed out run to the end even if preparing a later one fails, so this
    // returns only when nothing of the round is running (#runSlice never rejects).
    const running: Promise<void>[] = [];
    try {
      const inFlight = this.#dispatcher.slicesInFlight;
      for (let start = 0; start < n; start += slice) {
        // The oldest slice answered first when as many are out as there are chunk buffers kept.
        if (running.length >= inFlight) await running[running.length - inFlight];
        const prepared = this.#prepare(requests, start, Math.min(n, start + slice), now, results, pooled, round);
        const run = this.#runSlice(prepared, results);
        if (run !== undefined) running.push(run);
        // Let the pool hand the slice to a worker now (piscina distributes queued tasks in a
        // microtask), rather than after every slice is packed.
        if (start + slice < n) await undefined;
      }
      // Every slice is out: rather than wait, this thread runs chunks no worker has started yet
      // (newest first) while the workers run the rest (pool.ts helpOut).
      if (pooled) this.#dispatcher.helpOut();
    } finally {
      await Promise.all(running);
    }
    await this.#endRound(round, now, results);
  }

  /** After a round's slices: keeps its "seen" set, and runs the requests put off (if any) as the next round. */
  #endRound(round: RoundState | undefined, now: number, results: VerifyResult[]): Promise<void> | undefined {
    if (round === undefined) return undefined;
    // No slice of the round reads its set now: keep it for the next round of its kind.
    const seen = round.seen;
    if (seen !== undefined) {
      if (seen.limit >= SPARE_SEEN_MIN) this.#spareSeen = seen;
      else this.#spareSmallSeen = seen;
    }
    const later = round.later;
    if (later === undefined || later.length === 0) return undefined;
    const again = new Array<VerifyResult>(later.length);
    const answer = (): void => {
      for (let k = 0; k < later.length; k++) results[later[k]!.index] = again[k]!;
    };
    const running = this.#round(later.map((d) => d.request), now, again);
    if (running === undefined) {
      answer();
      return undefined;
    }
    return running.then(answer);
  }

  /**
   * An empty set for a round of `size` requests: the spare one when it fits (large enough, and
   * not so large that emptying it costs more than a new one), else a new one.
   */
  #seenSet(size: number): StringSet {
    if (size < SPARE_SEEN_MIN) {
      // Small rounds (single items, small batches) take the small spare when its size fits.
      const small = this.#spareSmallSeen;
      if (small === undefined || small.limit < size || small.limit > 4 * size) return new StringSet(size);
      this.#spareSmallSeen = undefined;
      small.clear();
      return small;
    }
    const spare = this.#spareSeen;
    if (spare === undefined || spare.limit < size || spare.limit > 4 * size) return new StringSet(size);
    this.#spareSeen = undefined;
    spare.clear();
    return spare;
  }

  /**
   * Validates and canonicalises requests[start..end), answering bad ones in `results`, and
   * packs the rest. Synchronous: nothing else runs between reading a request and packing it.
   */
  #prepare(
    requests: readonly VerifyRequest[], start: number, end: number, now: number, results: VerifyResult[], pooled: boolean,
    round?: RoundState,
  ): Prepared {
    const s = this.#settings;
    const n = end - start;
    const scratch = takeScratch(n);
    const { packed, steps, times } = scratch;
    const counting = this.#counters !== undefined;
    const ring = this.#ring;
    const params = this.#params;
    const digits = s.digits;
    // Made at the first request with an account: most batches of most fleets have none.
    let stateful: StatefulItems | undefined;
    // Inline, the first chunk is packed straight into the core, where the kernel reads it
    // (`leaveCore` below moves it out when the core is needed before it runs).
    const packer = pooled ? new BatchPacker(this.#core.layout, n, n, this.#midWords, undefined, true)
      : new BatchPacker(this.#core.layout, n, this.#core.layout.maxItems, this.#midWords, this.#core);
    // Legacy secrets exist only where the caller lowered minSecretBytes; otherwise no flags.
    const legacy = s.minSecretBytes < DEFAULT_MIN_SECRET_BYTES ? new Uint8Array(n) : undefined;
    const cache = this.#cache.capacity > 0 ? this.#cache : undefined;
    // Cache misses: distinct secrets to derive, and the packed items waiting for each (made at
    // the first miss: a warm cache has none).
    let missKeys: Uint8Array[] | undefined;
    let missIds: string[] | undefined;
    let missById: Map<string, number> | undefined;
    let waiting: number[] | undefined; // pairs: packed index, miss number
    // The step of the last time seen: the requests of a batch mostly share one time.
    let lastTime = Number.NaN;
    let lastStep = -1;
    for (let j = 0; j < n; j++) {
      const i = start + j;
      packed[j] = -1;
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
      // A HOTP request needs its account: the counter is the account's.
      if (account !== undefined && !isAccount(account) || account === undefined && counting) {
        results[i] = MALFORMED.account;
        continue;
      }
      let hash = 0;
      if (round !== undefined && account !== undefined) {
        hash = stringHash(account);
        if (!(round.seen ??= this.#seenSet(round.size)).add(account, hash)) {
          (round.later ??= []).push({ index: i, request: { account, code: codeText, timestamp, secret } as VerifyRequest });
          continue;
        }
      }
      const code = parseCode(codeText, digits);
      if (code < 0) {
        results[i] = MALFORMED.code;
        continue;
      }
      // HOTP: the time plays no part; the counter is set from the store in the policy's begin.
      const time = timestamp === undefined || counting ? now : timestamp;
      let step: number;
      if (time === lastTime) step = lastStep;
      else {
        step = counting ? 0 : timeStep(time, s);
        if (step < 0) {
          results[i] = MALFORMED.timestamp;
          continue;
        }
        lastTime = time as number;
        lastStep = step;
      }
      // A secret that is not what it claims (a typed array whose getters throw) is malformed.
      try {
        const handleAt = ring.offsetOf(secret);
        if (handleAt >= 0) {
          packed[j] = packer.addMid(ring.data, handleAt, step, code, params);
        } else if (handleAt !== NOT_A_HANDLE) {
          results[i] = MALFORMED['secret-handle'];
          continue;
        } else if (cache !== undefined && typeof secret === 'string') {
          // Base32 text: a cache hit saves decoding and deriving. (Raw bytes skip the cache:
          // turning them into a lookup key costs more than the SIMD derivation it would save.)
          const at = cache.lookup(secret);
          if (at >= 0) {
            packed[j] = packer.addMid(cache.data, at, step, code, params);
          } else {
            let miss = missById?.get(secret);
            if (miss === undefined) {
              const key = secretBytes(secret, s);
              if (typeof key === 'string') {
                results[i] = MALFORMED[key];
                continue;
              }
              miss = (missKeys ??= []).push(key) - 1;
              (missIds ??= []).push(secret);
              (missById ??= new Map()).set(secret, miss);
            }
            packed[j] = packer.addPending(step, code, params);
            (waiting ??= []).push(packed[j]!, miss);
          }
        } else if (typeof secret === 'string') {
          // Base32 text, no cache: decoded straight into the chunk.
          const at = packer.addBase32(secret, s, step, code, params);
          if (typeof at === 'string') {
            results[i] = MALFORMED[at];
            continue;
          }
          packed[j] = at;
        } else {
          const key = secretBytes(secret, s);
          if (typeof key === 'string') {
            results[i] = MALFORMED[key];
            continue;
          }
          packed[j] = packer.addKey(key, step, code, params);
        }
        if (legacy !== undefined) {
          // The secret is valid by now (a handle, a cache hit, or checked above).
          const bytes = handleAt >= 0 ? (ring.isLegacy(handleAt) ? 0 : DEFAULT_MIN_SECRET_BYTES)
            : typeof secret === 'string' ? base32ByteLength(secret) : (secret as Uint8Array).length;
          if (bytes < DEFAULT_MIN_SECRET_BYTES) legacy[j] = 1;
        }
      } catch {
        results[i] = MALFORMED['secret-type'];
        continue;
      }
      steps[j] = step;
      times[j] = time as number;
      if (round !== undefined && account !== undefined) {
        (stateful ??= this.#policy!.items(n)).add(account, hash, i, packed[j]!, step, time as number);
      }
    }
    // Deriving misses uses the core; stateful items wait for the store (and the core may run
    // other batches meanwhile): either way the packed chunk leaves the core first. Unless the
    // store answers now (#keepsCore): then nothing runs between packing and the kernel call.
    if (missKeys !== undefined || (stateful !== undefined && !this.#keepsCore(pooled))) packer.leaveCore();
    if (missKeys !== undefined) this.#deriveMisses(packer, missKeys, missIds!, waiting!);
    const chunks = packer.finish();
    let total = 0;
    for (const c of chunks) total += c.count;
    return { start, count: n, scratch, chunks, total, pooled, legacy, stateful: stateful?.size ? stateful : undefined };
  }

  /**
   * Runs a prepared slice and answers its packed requests in `results`: stateless ones from the
   * kernel's results; stateful ones through the policy (begin before the kernel, finish after).
   * Undefined when it is done already: an inline slice without stateful items runs here, now.
   */
  #runSlice(p: Prepared, results: VerifyResult[]): Promise<void> | undefined {
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
      this.#runSliceNow(p, results);
      return undefined;
    }
    return this.#runSliceLater(p, results);
  }

  /**
   * Whether an inline slice's stateful items may stay packed in the core through the store's
   * begin: the store answers now (so nothing else can use the core before the kernel call), and
   * nobody listens for audit events (begin publishes 'locked' and 'error' events, and a
   * subscriber could use the shared inline core, e.g. through totp.generate).
   */
  #keepsCore(pooled: boolean): boolean {
    return !pooled && this.#policy !== undefined && this.#policy.answersNow && !auditChannel.hasSubscribers;
  }

  /**
   * #runSliceLater for an inline slice with stateful items on a store that answers now
   * (MemoryStore): begin, the kernel, finish, with no promise. Its first chunk may still be
   * packed in the core (#keepsCore); if anything fails before the kernel ran, it is wiped.
   */
  #runSliceNow(p: Prepared, results: VerifyResult[]): void {
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

  async #runSliceLater(p: Prepared, results: VerifyResult[]): Promise<void> {
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
    const { past, future } = this.#settings;
    const { packed, steps, times } = p.scratch;
    const clock = this.#clock;
    const valid = new ValidResults();
    // Matches of one batch mostly share one delta, step and time: their result and clock offset
    // are made once, and each run of matches with one offset goes to the clock in one call
    // (addRepeated: one sample per match, in order, as that many calls of add).
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
          const offset = this.#phoneOffset(step + r, time);
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
      deriveMidstates(this.#core, keys, mids, this.#alg, w);
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
