// TotpVerifier, the public class: options validated once (in `create`), the public methods,
// and the rounds of a batch. The work per slice of a batch is in src/verify/: prepare.ts
// validates, canonicalises and packs it, run.ts runs it (inline or on the workers) and answers
// one result per request, in request order; types.ts holds the public types re-exported here.
//
// A bad request is a result with status 'malformed' and a reason; it never throws and never
// disturbs its neighbours.

import { type Algorithm, algorithmCode, MID_WORDS } from './algorithm.js';
import { BackupCodes } from './backup.js';
import { deriveMidstates, packParams, wipeCore } from './batch.js';
import { Batcher } from './batcher.js';
import { intOption, optionsObject, TotpFleetError } from './errors.js';
import { KeyCache, KeyHandle, KeyRing } from './keys.js';
import { type Digits, generatorKey } from './otp.js';
import { clockChannel } from './policy/audit.js';
import { type ClockHealth, ClockMonitor } from './policy/clock.js';
import { resolvePolicy } from './policy/options.js';
import { type PolicyStats, PolicyRunner } from './policy/runner.js';
import { Dispatcher, type PoolInternals } from './pool.js';
import { DEFAULT_MIN_SECRET_BYTES, type Secret } from './secret.js';
import { MemoryStore } from './store/memory.js';
import type { Store } from './store/types.js';
import { SlicePreparer } from './verify/prepare.js';
import { type Deferred, laterRounds, type RoundState, SeenSets } from './verify/round.js';
import { SliceRunner } from './verify/run.js';
import { type CounterMode, phoneOffset, resolveSettings, type Settings } from './verify/settings.js';
import type { Prepared } from './verify/slice.js';
import type { BatchingOptions, VerifierOptions, VerifierStats, VerifyRequest, VerifyResult } from './verify/types.js';
import { type Core, inlineCore } from './wasm.js';

export type { PolicyStats } from './policy/runner.js';
export type { CounterMode } from './verify/settings.js';
export type {
  BatchingOptions, MalformedReason, VerifierOptions, VerifierStats, VerifyRequest, VerifyResult, VerifyStatus, WindowOptions,
} from './verify/types.js';

const NO_POLICY_STATS: Readonly<PolicyStats> = Object.freeze({
  valid: 0, invalid: 0, replayed: 0, locked: 0, storeErrors: 0, lockouts: 0,
});

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
  /** The core's code of this verifier's hash. */
  readonly #alg: number;
  readonly #midWords: number;
  readonly #cache: KeyCache;
  readonly #ring: KeyRing;
  readonly #dispatcher: Dispatcher;
  readonly #batcher: Batcher<VerifyRequest, VerifyResult>;
  /** Replay protection and failure limits; undefined with `store: null`. */
  readonly #policy: PolicyRunner | undefined;
  /** The "seen in this round" sets of finished first rounds, kept for the next batches' (see #rounds). */
  readonly #seen = new SeenSets();
  /** Validates, canonicalises and packs a slice (verify/prepare.ts). */
  readonly #preparer: SlicePreparer;
  /** Runs a prepared slice and answers it (verify/run.ts). */
  readonly #slices: SliceRunner;
  readonly #store: Store | undefined;
  readonly #ownsStore: boolean;
  readonly #clock: ClockMonitor;
  /** The time of a batch (VerifierOptions.now). */
  readonly #now: () => number;
  readonly #backup: BackupCodes | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;

  private constructor(opts: VerifierOptions, internals: PoolInternals, counters?: CounterMode) {
    const core = inlineCore();
    this.#core = core;
    this.#settings = resolveSettings(opts, core.layout.maxWindow);
    this.#alg = algorithmCode(core.layout, this.#settings.algorithm);
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
    if (opts.now !== undefined && typeof opts.now !== 'function') throw new TypeError('"now" expected a function');
    this.#now = opts.now ?? Date.now;
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
    const onMatch = counters !== undefined ? () => {} : (step: number, timeMs: number, times: number) => this.#clock.addRepeated(phoneOffset(s, step, timeMs), times);
    this.#policy = this.#store === undefined ? undefined
      : new PolicyRunner(this.#store, policy, s, name, onMatch, this.#now, counters !== undefined, answersNow(this.#store));
    this.#backup = this.#store === undefined ? undefined
      : new BackupCodes(this.#store, policy.limits, name, opts.backupCodes, () => this.#assertOpen());
    this.#preparer = new SlicePreparer({
      settings: s, core, params: packParams(core.layout, s.digits, s.past, s.future, this.#alg), alg: this.#alg,
      midWords: this.#midWords, cache: this.#cache, ring: this.#ring, policy: this.#policy, counting: counters !== undefined,
      seen: this.#seen, timestampSkewMs: this.#policy === undefined ? Number.POSITIVE_INFINITY : policy.timestampSkewMs,
    });
    this.#slices = new SliceRunner({ settings: s, core, dispatcher: this.#dispatcher, policy: this.#policy, clock: this.#clock });
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
    // Per key: decoded here from base32 (our copy, wiped below). Each secret is read once: a
    // getter answering bytes, then text, must not have the caller's bytes wiped.
    const decoded: boolean[] = [];
    const lengths: number[] = []; // as checked
    const w = this.#midWords;
    const mids = new Uint32Array(secrets.length * w);
    try {
      for (let i = 0; i < secrets.length; i++) {
        try {
          const secret: unknown = secrets[i];
          const key = generatorKey(secret, this.#settings);
          keys.push(key);
          lengths.push(key.length);
          decoded.push(typeof secret === 'string');
        } catch (error) {
          if (secrets.length === 1) throw error;
          const E = error instanceof RangeError ? RangeError : TypeError;
          throw new E(`secrets[${i}]: ${(error as Error).message}`);
        }
      }
      // A later secret's getter may have shrunk an earlier one (a length-tracking view of a
      // resizable buffer) since its length was checked: its bytes are derived only as checked.
      for (let i = 0; i < keys.length; i++) {
        if (keys[i]!.length !== lengths[i]) {
          throw new TypeError(secrets.length === 1 ? '"secret" changed while it was imported' : `secrets[${i}]: changed while the others were read`);
        }
      }
      deriveMidstates(this.#core, keys, mids, this.#alg, w);
      return keys.map((key, i) => this.#ring.issue(mids, i * w, lengths[i]! < DEFAULT_MIN_SECRET_BYTES));
    } finally {
      mids.fill(0);
      keys.forEach((key, i) => { if (decoded[i]) key.fill(0); }); // decoded here
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
    // Read once, and checked: a Proxy array (Array.isArray is true for one) may answer a length
    // that is no array length, or throw; either is a rejection, never a synchronous throw.
    let n: number;
    try {
      n = requests.length;
    } catch (error) {
      return Promise.reject(error);
    }
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0xffff_ffff) {
      return Promise.reject(new TypeError('"requests" expected an array (its length is not an array length)'));
    }
    const results = new Array<VerifyResult>(n);
    let running: Promise<void> | undefined;
    try {
      // Admission once per batch, so a batch is refused whole or run whole.
      this.#dispatcher.admit(n);
    } catch (error) {
      return Promise.reject(error);
    }
    try {
      // `n` is passed on, never re-read: a Proxy array (Array.isArray is true for one) could
      // answer another length, leaving positions unanswered or running more than was admitted.
      running = this.#rounds(requests, n, results);
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
   * Verifies `requests` into `results`, in rounds. With a store, a request whose account already
   * appeared in the batch is put off, with its fields as read, to a later round: the k-th repeat
   * of an account to the k-th round after the first (verify/round.ts laterRounds), each round
   * run after the one before it has ended. So requests of one account act as if made one after
   * the other (the first valid, a repeat of its code replayed), an account is in at most one
   * slice of a round, and the whole costs one pass over the batch however often an account
   * repeats. Almost every batch is one round.
   */
  #rounds(requests: readonly VerifyRequest[], n: number, results: VerifyResult[]): Promise<void> | undefined {
    if (this.#policy === undefined) return this.#round(requests, n, this.#now(), results, undefined);
    const first: RoundState = { seen: undefined, later: undefined, size: n, distinct: false };
    const running = this.#round(requests, n, this.#now(), results, first);
    if (running !== undefined) return running.then(() => this.#laterRounds(first, results));
    return this.#laterRounds(first, results);
  }

  /**
   * After the first round: keeps its "seen" set, and runs the requests it put off (if any), round
   * after round, in a loop (not by recursion: a batch may hold 100,000 repeats of one account).
   * Synchronous while the rounds are answered now (inline, MemoryStore); asynchronous from the
   * first that is not.
   */
  #laterRounds(first: RoundState, results: VerifyResult[]): Promise<void> | undefined {
    // No slice of the round reads its set now: keep it for the next batch's first round.
    if (first.seen !== undefined) this.#seen.keep(first.seen);
    if (first.later === undefined) return undefined;
    const rounds = laterRounds(first.later);
    for (let k = 0; k < rounds.length; k++) {
      const running = this.#laterRound(rounds[k]!, results);
      if (running !== undefined) return this.#laterRoundsAfter(running, rounds, k + 1, results);
    }
    return undefined;
  }

  /** #laterRounds from round `k` on, once `running` (the round before) has ended. */
  async #laterRoundsAfter(running: Promise<void>, rounds: readonly Deferred[][], k: number, results: VerifyResult[]): Promise<void> {
    await running;
    for (; k < rounds.length; k++) {
      const next = this.#laterRound(rounds[k]!, results);
      if (next !== undefined) await next;
    }
  }

  /**
   * One later round: its requests (as read in the first round; each account once) verified at
   * the clock's time now (policy.timestampSkewMs: the mark's margin covers a round's own wait
   * for the store, not the rounds before it), and answered at their places in the batch.
   */
  #laterRound(deferred: readonly Deferred[], results: VerifyResult[]): Promise<void> | undefined {
    const m = deferred.length;
    const requests = new Array<VerifyRequest>(m);
    for (let k = 0; k < m; k++) requests[k] = deferred[k]!.request;
    const own = new Array<VerifyResult>(m);
    const answer = (): void => {
      for (let k = 0; k < m; k++) results[deferred[k]!.index] = own[k]!;
    };
    const round: RoundState = { seen: undefined, later: undefined, size: m, distinct: true };
    const running = this.#round(requests, m, this.#now(), own, round);
    if (running === undefined) {
      answer();
      return undefined;
    }
    return running.then(answer);
  }

  /**
   * One round: verifies `requests` into `results`, with `round` shared by its slices (with a
   * store). Undefined when it was answered now.
   */
  #round(
    requests: readonly VerifyRequest[], n: number, now: number, results: VerifyResult[], round: RoundState | undefined,
  ): Promise<void> | undefined {
    // Large batches go out in slices: each slice is packed and handed to a worker before the
    // next is packed, so packing here overlaps hashing there. Small batches are one slice.
    const pooled = this.#dispatcher.pooled(n);
    const slice = this.#dispatcher.sliceItems(n);
    if (slice < n) return this.#roundInSlices(requests, n, now, results, round, pooled, slice);
    // One slice (every inline batch): nothing to overlap, so no promise per slice, and none
    // at all when the slice is answered now (undefined).
    let prepared: Prepared;
    try {
      prepared = this.#preparer.prepare(requests, 0, n, now, results, pooled, round);
    } catch (error) {
      // An inline slice is packed straight into the core: nothing of it may stay there.
      if (!pooled) wipeCore(this.#core);
      throw error;
    }
    return this.#slices.run(prepared, results);
  }

  /** #round of a batch in several slices (on the workers). */
  async #roundInSlices(
    requests: readonly VerifyRequest[], n: number, now: number, results: VerifyResult[], round: RoundState | undefined, pooled: boolean, slice: number,
  ): Promise<void> {
    // Slices already handed out run to the end even if preparing a later one fails, so this
    // returns only when nothing of the round is running (SliceRunner.run never rejects).
    const running: Promise<void>[] = [];
    try {
      const inFlight = this.#dispatcher.slicesInFlight;
      for (let start = 0; start < n; start += slice) {
        // The oldest slice answered first when as many are out as there are chunk buffers kept.
        if (running.length >= inFlight) await running[running.length - inFlight];
        const prepared = this.#preparer.prepare(requests, start, Math.min(n, start + slice), now, results, pooled, round);
        const run = this.#slices.run(prepared, results);
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
