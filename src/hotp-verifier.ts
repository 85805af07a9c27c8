// HotpVerifier: RFC 4226 HOTP codes (YubiKey OATH-HOTP) against a counter per account kept in
// the store.
//
// It is the TOTP verifier's engine with one change: an item's counter is not the time step but
// its account's last accepted counter + 1, read from the store in the same begin call that
// checks the lockout (policy/runner.ts). The store's high-water mark is the last accepted
// counter; the kernel's floor sits at the next counter, so a match at a counter already used
// (in the look-back) is `replayed` and never hides an unused counter with the same code (R5).
// A match commits its counter as the new mark: the same or an earlier code is then replayed.
// Failures count toward the account's limit and lock as TOTP's do. HOTP state lives in the
// store's 'hotp' namespace: apart from a TOTP credential of the same account name.
//
// Resynchronisation (SECURITY.md R10): two consecutive codes, searched within a larger bounded
// window after the counter, set it past the second; a failure counts toward the limit, and a
// locked account is refused without evaluating them.

import { type Algorithm } from './algorithm.js';
import { intOption, optionsObject, TotpFleetError } from './errors.js';
import type { KeyHandle } from './keys.js';
import { type CommonOptions, type Digits, generateCodes, parseCode, resolveCommon } from './otp.js';
import { audit } from './policy/audit.js';
import { isAccount, type PolicyOptions, resolvePolicy } from './policy/options.js';
import { beginOne, failed, finishOne, lost, type Subject } from './policy/single.js';
import type { PoolOptions } from './pool.js';
import { DEFAULT_MIN_SECRET_BYTES, type Secret, secretBytes } from './secret.js';
import { MemoryStore } from './store/memory.js';
import { DONE_COMMITTED, DONE_REPLAYED, OP_FAILURE, OP_RELEASE, OP_SUCCESS, type Store } from './store/types.js';
import {
  type BatchingOptions, type MalformedReason, TotpVerifier, type VerifierStats, type VerifyResult,
} from './verifier.js';

export interface HotpVerifierOptions extends CommonOptions, PoolOptions {
  /**
   * Counters tried after the expected one (0..10); default 10: a token whose button was
   * pressed up to 10 times without a login still verifies.
   */
  lookAhead?: number;
  /** Counters before the expected one whose codes are answered `replayed` (0..10); default 10. Older ones are `invalid`. */
  lookBack?: number;
  /** Counters searched after the expected one by `resync` (2..1000); default 100. */
  resyncWindow?: number;
  /**
   * How long an account's counter is kept after its last accepted code, in ms (1 day..20 years);
   * default 5 years. A counter that expired starts again from 0: re-enrol such a token.
   */
  counterMemoryMs?: number;
  /** Base32 secrets whose midstates are kept; as for TotpVerifier. Default 100,000. */
  keyCacheSize?: number;
  batching?: BatchingOptions;
  /**
   * Where the counters live: a MemoryStore (default: one of this verifier's own) or a
   * RedisStore shared by a fleet. Its 'hotp' namespace is used. `null` is refused: HOTP needs
   * a counter per account.
   */
  store?: Store;
  /** Failure limit and lockout, as for TOTP (drift does not apply). */
  policy?: Omit<PolicyOptions, 'drift' | 'driftMemoryMs' | 'fleetSkewMs' | 'timestampSkewMs'>;
  /** Names this verifier in audit events; default 'totp-fleet'. */
  name?: string;
}

/** One HOTP code to check. */
export interface HotpRequest {
  /** The token's account (1..512 characters): its counter is kept under this name. */
  account: string;
  /** Raw key bytes, base32 text, or a handle from `importKey`. */
  secret: Secret | KeyHandle;
  /** What the token typed: exactly `digits` ASCII digits. */
  code: string;
}

const DAY = 86_400_000;
const MALFORMED = (reason: MalformedReason): Readonly<VerifyResult> => Object.freeze({ status: 'malformed', reason });
const REPLAYED: Readonly<VerifyResult> = Object.freeze({ status: 'replayed' });

/**
 * Verifies HOTP codes (RFC 4226; YubiKey OATH-HOTP) against a counter per account.
 *
 * @example
 * const verifier = await HotpVerifier.create({ store, lookAhead: 10 });
 * const r = await verifier.verify({ account: 'alice@example.com:yubikey', secret, code: '287082' });
 * // r.status 'valid': r.step is the accepted counter; the next code must come after it
 * await verifier.resync('alice@example.com:yubikey', secret, '162583', '399871'); // two presses in a row
 * await verifier.close();
 */
export class HotpVerifier {
  readonly #engine: TotpVerifier;
  readonly #store: Store;
  /** The MemoryStore made for this verifier when none was given (closed with it). */
  readonly #own: MemoryStore | undefined;
  readonly #subject: Omit<Subject, 'account'>;
  readonly #rules: ReturnType<typeof resolveCommon>;
  readonly #resyncWindow: number;
  #closed = false;

  private constructor(engine: TotpVerifier, store: Store, own: MemoryStore | undefined, subject: Omit<Subject, 'account'>,
    rules: ReturnType<typeof resolveCommon>, resyncWindow: number) {
    this.#engine = engine;
    this.#store = store;
    this.#own = own;
    this.#subject = subject;
    this.#rules = rules;
    this.#resyncWindow = resyncWindow;
  }

  /** Validates `opts` (TypeError / RangeError naming the option) and makes a verifier. */
  static async create(opts?: HotpVerifierOptions): Promise<HotpVerifier> {
    const o = optionsObject<HotpVerifierOptions>('opts', opts);
    const { lookAhead, lookBack, resyncWindow, counterMemoryMs, store: given, ...rest } = o;
    const future = intOption('lookAhead', lookAhead, 0, 10, 10);
    const past = intOption('lookBack', lookBack, 0, 10, 10);
    const window = intOption('resyncWindow', resyncWindow, 2, 1000, 100);
    const keepMs = intOption('counterMemoryMs', counterMemoryMs, DAY, 20 * 365 * DAY, 5 * 365 * DAY);
    if (given !== undefined && (given === null || typeof given !== 'object' || typeof (given as Store).namespace !== 'function')) {
      throw new TypeError('"store" expected a store (MemoryStore, RedisStore): HOTP counters live in it');
    }
    const rules = resolveCommon(o);
    // The engine validates the rest (digits, algorithm, pool, policy); settings it would take
    // from `rest` for TOTP (period, t0, window, clock) play no part in HOTP.
    const own = given === undefined ? new MemoryStore() : undefined;
    const store = (given ?? own!).namespace('hotp');
    let engine: TotpVerifier;
    try {
      engine = await TotpVerifier.createCounting({ ...rest, window: { past, future }, store }, { counterMemoryMs: keepMs });
    } catch (error) {
      await own?.close();
      throw error;
    }
    const policy = resolvePolicy(o.policy, 30, past, future, keepMs);
    const subject = { store, limits: policy.limits, verifier: o.name ?? 'totp-fleet', method: 'hotp-resync' } as const;
    return new HotpVerifier(engine, store, own, subject, rules, window);
  }

  /** The options in force, with defaults filled in. */
  get options(): Readonly<{ digits: Digits; algorithm: Algorithm; lookAhead: number; lookBack: number; resyncWindow: number }> {
    const o = this.#engine.options;
    return { digits: o.digits, algorithm: o.algorithm, lookAhead: o.window.future, lookBack: o.window.past, resyncWindow: this.#resyncWindow };
  }

  /**
   * Verifies one code. `valid` carries `step` (the accepted counter; the next code must be
   * after it) and `delta` (counters skipped: 0 is the expected one). A code of a counter at or
   * before the last accepted one (within `lookBack`) is `replayed`; other statuses as for TOTP.
   */
  verify(request: HotpRequest): Promise<VerifyResult> {
    return this.#engine.verify(request);
  }

  /**
   * Verifies every request; the i-th result answers the i-th request. Two requests of one
   * account act as if made one after the other (a repeat of an accepted code is replayed).
   */
  verifyBatch(requests: readonly HotpRequest[]): Promise<VerifyResult[]> {
    return this.#engine.verifyBatch(requests);
  }

  /**
   * Resynchronises a token whose counter ran ahead of the window (its button was pressed many
   * times): `code1` and `code2` must be the codes of two consecutive counters within
   * `resyncWindow` after the expected one. Then the counter is set past `code2`: `valid` with
   * `step` = the counter of `code2` and `delta` = how far `code1` was ahead of the expected
   * counter. A failure is `invalid` and counts toward the failure limit; a locked account is
   * `locked` without its codes being evaluated. `secret` is raw bytes or base32 text (not a handle).
   */
  async resync(account: string, secret: Secret, code1: string, code2: string): Promise<VerifyResult> {
    if (this.#closed) throw new TotpFleetError('ERR_CLOSED', 'the verifier is closed');
    if (!isAccount(account)) return MALFORMED('account');
    const { digits, algorithm } = this.#rules;
    const first = parseCode(code1, digits);
    const second = parseCode(code2, digits);
    if (first < 0 || second < 0) return MALFORMED('code');
    let key: Uint8Array | string;
    try {
      key = secretBytes(secret, this.#rules);
    } catch {
      key = 'secret-type';
    }
    if (typeof key === 'string') return MALFORMED(key as MalformedReason);
    // Raw bytes are copied as checked: the store is awaited before they are used, and the
    // caller's array may change meanwhile (a resizable buffer may even shrink below the minimum).
    const own = typeof secret === 'string' ? key : new Uint8Array(key);
    const subject: Subject = { ...this.#subject, account };
    try {
      const result = await this.#resync(subject, own, first, second);
      return own.length < DEFAULT_MIN_SECRET_BYTES && result.status !== 'error' ? Object.freeze({ ...result, rotate: true }) : result;
    } finally {
      own.fill(0); // ours: decoded or copied here
    }
  }

  async #resync(s: Subject, key: Uint8Array, first: number, second: number): Promise<Readonly<VerifyResult>> {
    const last = await beginOne(s);
    if (typeof last !== 'number') return last;
    const next = last + 1;
    const n = this.#resyncWindow;
    let codes: Int32Array;
    try {
      // Counters past 2^53 - 1 are not searched: a JS number would round them (R2).
      if (!Number.isSafeInteger(next + n)) throw new RangeError('the resync window passes 2^53 - 1');
      codes = generateCodes(key, next, n + 1, this.#rules.digits, this.#rules.algorithm);
    } catch {
      await finishOne(s, OP_RELEASE); // the core failed, not the user: nothing is counted
      audit(s.verifier, { type: 'error', account: s.account, reason: 'internal', method: s.method });
      return Object.freeze({ status: 'error', reason: 'internal' });
    }
    // Every pair is compared (no early exit): how long this takes says nothing about where, or
    // whether, the codes matched.
    let found = -1;
    for (let i = 0; i < n; i++) {
      const hit = ((codes[i]! ^ first) | (codes[i + 1]! ^ second)) === 0;
      found = hit && found < 0 ? i : found;
    }
    codes.fill(0);
    const op = found >= 0 ? OP_SUCCESS : OP_FAILURE;
    const counter = next + found + 1;
    const done = await finishOne(s, op, counter);
    if (done === undefined) return lost(s);
    if (op === OP_FAILURE) return failed(s, done);
    if (done === DONE_REPLAYED) {
      // Another attempt accepted a counter at or after it meanwhile.
      audit(s.verifier, { type: 'replayed', account: s.account, method: s.method });
      return REPLAYED;
    }
    if (done !== DONE_COMMITTED) return lost(s);
    audit(s.verifier, { type: 'valid', account: s.account, delta: found, method: s.method });
    return Object.freeze({ status: 'valid', delta: found, step: counter });
  }

  /**
   * Forgets the account's counter, failures and lock: for a token programmed with a new
   * secret (its counter starts again at 0). Rejects ERR_STORE_UNAVAILABLE when the store cannot answer.
   */
  async reset(account: string): Promise<void> {
    if (this.#closed) throw new TotpFleetError('ERR_CLOSED', 'the verifier is closed');
    if (!isAccount(account)) throw new TypeError('"account" expected a string of 1..512 characters');
    await this.#store.forget(account);
  }

  /** Hashes a secret's key blocks once; the handle is usable as `secret` in `verify`. */
  importKey(secret: Secret): KeyHandle {
    return this.#engine.importKey(secret);
  }

  /** Zeroes a handle's midstates. */
  releaseKey(handle: KeyHandle): void {
    this.#engine.releaseKey(handle);
  }

  /** Counters for operators (`policy` counts `verify` outcomes). */
  stats(): VerifierStats {
    return this.#engine.stats();
  }

  /** Resolves when the store can run its scripts; rejects with ERR_STORE_UNAVAILABLE otherwise. */
  storeHealth(): Promise<void> {
    return this.#engine.storeHealth();
  }

  /** Answers what is in flight, then stops; a store made for this verifier is closed. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#engine.close();
    await this.#own?.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
