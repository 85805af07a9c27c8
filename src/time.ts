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
  // Floating division can round up across a step boundary for large values; correct it so
  // the result is exact (both products stay below 2^53 here).
  let step = Math.floor(elapsed / unit);
  if (step * unit > elapsed) step -= 1;
  else if ((step + 1) * unit <= elapsed) step += 1;
  return step;
}
