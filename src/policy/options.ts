// Policy options: failure limits, lockout, drift, and how long state is kept. Validated once.

import { boolOption, intOption, optionsObject } from '../errors.js';
import type { AttemptLimits } from '../store/types.js';

/** Replay protection, failure limits and drift (SECURITY.md R6, R7, R9). */
export interface PolicyOptions {
  /** Consecutive failures that lock an account (1..100); default 10. */
  maxFailures?: number;
  /** How long a lock lasts, in ms (1,000..7 days); default 15 minutes. */
  lockoutMs?: number;
  /** How long a failure streak is remembered after its last failure, in ms (1,000..30 days); default 24 hours. */
  failureMemoryMs?: number;
  /**
   * How long an attempt in flight is held when its process never finishes it (it crashed), in ms
   * (1,000..600,000); default 60,000. Until then it counts toward the limit.
   */
  reservationMs?: number;
  /**
   * Largest difference between the clocks of the machines of a fleet, in ms (0..1 day); default
   * 5 minutes. It lengthens how long a used step is remembered, so that no machine accepts it again.
   */
  fleetSkewMs?: number;
  /**
   * How far a request's `timestamp` may be from the verifier's clock, for a request with an
   * account, in ms (1,000..1 day); default `fleetSkewMs`. A request further off is `malformed`
   * (`timestamp`), its code not evaluated: otherwise an old `timestamp` would reach steps whose
   * marks have expired. Twice this lengthens how long a used step is remembered.
   */
  timestampSkewMs?: number;
  /**
   * Learn each account's drift from its successful matches and centre its window there:
   * `true` (at most 2 steps), `{ maxSteps }` (1..10), or false (default).
   */
  drift?: boolean | { maxSteps?: number };
  /** How long learned drift is kept after an account's last success, in ms (1 hour..365 days); default 30 days. */
  driftMemoryMs?: number;
}

/** The policy in force. */
export interface ResolvedPolicy {
  readonly limits: AttemptLimits;
  /** Largest learned drift in steps; 0 when learning is off. */
  readonly driftMax: number;
  /**
   * How far (ms) a stateful request's `timestamp` may be from the verifier's clock; Infinity for
   * HOTP, whose counters do not come from the time.
   */
  readonly timestampSkewMs: number;
  /**
   * Longest time (ms) from a slice's timestamp check to its commit: the one period of margin in
   * the mark's life. Infinity for HOTP.
   */
  readonly maxAttemptMs: number;
}

const DAY = 86_400_000;

/** Longest account name (characters). */
export const MAX_ACCOUNT_LENGTH = 512;

// String.prototype.isWellFormed (ES2024, in Node 20), taken once and called with `.call` for
// the reason charcode.ts gives.
const IS_WELL_FORMED = (String.prototype as unknown as { isWellFormed(this: string): boolean }).isWellFormed;

/**
 * Whether `value` can name an account: a well-formed string of 1..512 characters. A lone
 * surrogate is refused: RedisStore's keys are UTF-8, where every lone surrogate becomes U+FFFD,
 * so two such accounts would share one credential (marks, failures, lock).
 */
export function isAccount(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_ACCOUNT_LENGTH && IS_WELL_FORMED.call(value);
}

/**
 * Validates `opts` for a verifier with this period (seconds) and window (steps). With
 * `counterMemoryMs` (HOTP), marks are kept that long instead, and drift is not learned.
 */
export function resolvePolicy(
  opts: unknown, period: number, past: number, future: number, counterMemoryMs?: number,
): ResolvedPolicy {
  const o = optionsObject<PolicyOptions>('policy', opts);
  if (counterMemoryMs !== undefined && o.drift !== undefined && o.drift !== false) {
    throw new TypeError('"policy.drift" is for TOTP; HOTP counters do not drift');
  }
  let driftMax = 0;
  if (typeof o.drift === 'object' && o.drift !== null && !Array.isArray(o.drift)) {
    driftMax = intOption('policy.drift.maxSteps', o.drift.maxSteps, 1, 10, 2);
  } else if (boolOption('policy.drift', o.drift, false)) {
    driftMax = 2;
  }
  const fleetSkewMs = intOption('policy.fleetSkewMs', o.fleetSkewMs, 0, DAY, 300_000);
  const timestampSkewMs = counterMemoryMs !== undefined ? Number.POSITIVE_INFINITY
    : intOption('policy.timestampSkewMs', o.timestampSkewMs, 1000, DAY, Math.max(1000, fleetSkewMs));
  // A used step must be remembered while any machine could still find it in a window. A step m
  // is accepted at a verifier clock c with a timestamp at most c + B (B = timestampSkewMs), so
  // m <= step(c + B) + future + drift. Later, on a machine whose clock is at most S
  // (fleetSkewMs) behind, the lowest step a window can reach is step(c' - B) - past - drift. That
  // is above m once c' - B >= c + B + (past + future + 2 drift + 1) periods, i.e. from
  // (past + future + 2 drift + 1) periods + S + 2B after the verification; one period more is
  // kept as a margin for the time from a round's clock reading to its commit (maxAttemptMs:
  // policy/runner.ts commits nothing for a slice slower than that, and each round of a batch
  // reads the clock anew, verifier.ts #laterRound).
  // test/timestamp-bound.test.ts replays a code at the edges.
  // A HOTP counter is kept as long as its token may be used (counterMemoryMs).
  const replayMs = counterMemoryMs ?? (past + future + 2 * driftMax + 2) * period * 1000 + fleetSkewMs + 2 * timestampSkewMs;
  return Object.freeze({
    driftMax,
    timestampSkewMs,
    maxAttemptMs: counterMemoryMs !== undefined ? Number.POSITIVE_INFINITY : period * 1000,
    limits: Object.freeze({
      maxFailures: intOption('policy.maxFailures', o.maxFailures, 1, 100, 10),
      lockoutMs: intOption('policy.lockoutMs', o.lockoutMs, 1000, 7 * DAY, 900_000),
      failureMemoryMs: intOption('policy.failureMemoryMs', o.failureMemoryMs, 1000, 30 * DAY, DAY),
      reservationMs: intOption('policy.reservationMs', o.reservationMs, 1000, 600_000, 60_000),
      replayMs,
      driftMemoryMs: intOption('policy.driftMemoryMs', o.driftMemoryMs, 3_600_000, 365 * DAY, 30 * DAY),
    }),
  });
}
