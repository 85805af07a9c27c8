// Time steps (RFC 6238 §4.2): T = floor((t - T0) / X), exact for every timestamp a JS number
// holds, with nothing rounded and nothing negative.

/** Options that turn a timestamp into a time step. */
export interface StepOptions {
  /** Step length in seconds. */
  readonly period: number;
  /** Unix time (seconds) of step 0. */
  readonly t0: number;
}

/**
 * The time step of `timestamp` (milliseconds since the Unix epoch), or -1 when the timestamp
 * is not a finite number at or after T0 that a JS number holds exactly.
 */
export function timeStep(timestamp: unknown, { period, t0 }: StepOptions): number {
  if (typeof timestamp !== 'number' || !Number.isFinite(timestamp)) return -1;
  // floor(x / n) == floor(floor(x) / n) for a whole n, so whole milliseconds suffice.
  const ms = Math.floor(timestamp);
  if (ms > Number.MAX_SAFE_INTEGER) return -1;
  const elapsed = ms - t0 * 1000;
  if (elapsed < 0) return -1;
  const unit = period * 1000;
  // Exact without correction: elapsed / unit is correctly rounded, and for a whole elapsed
  // below 2^53 a quotient k - r/unit (r >= 1) lies more than half a unit in the last place
  // below k, because k < 2^53 / unit. So it never rounds up to k (test/time.test.ts probes
  // the boundaries).
  return Math.floor(elapsed / unit);
}
