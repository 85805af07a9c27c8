// The public types of TotpVerifier (src/verifier.ts re-exports them, and src/index.ts exports
// them from there): its options, a request, a result and the counters for operators. Types only.

import type { BackupCodeOptions } from '../backup.js';
import type { KeyCache, KeyHandle } from '../keys.js';
import type { CommonOptions } from '../otp.js';
import type { ClockHealthOptions } from '../policy/clock.js';
import type { PolicyOptions } from '../policy/options.js';
import type { PolicyStats } from '../policy/runner.js';
import type { PoolOptions, PoolStats } from '../pool.js';
import type { Secret, SecretProblem } from '../secret.js';
import type { Store } from '../store/types.js';
import type { TimeOptions } from '../totp.js';

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
  /**
   * @internal The verifier's clock, in ms (tests and benchmarks): the time of a request without
   * a `timestamp`, and what a stateful request's `timestamp` is checked against. Default Date.now.
   */
  now?: () => number;
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
