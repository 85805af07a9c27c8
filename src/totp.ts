// TOTP generation (RFC 6238): one code, synchronously, on this thread's inline core.

import { intOption, optionsObject } from './errors.js';
import { type CommonOptions, generateCode, generatorKey, resolveCommon } from './otp.js';
import type { Secret } from './secret.js';
import { timeStep } from './time.js';

/** Longest step accepted, in seconds (a day). */
export const MAX_PERIOD = 86_400;
/** Latest T0 accepted, in seconds. */
export const MAX_T0 = Math.floor(Number.MAX_SAFE_INTEGER / 1000);

/** Options of TOTP time steps. */
export interface TimeOptions {
  /** Step length in seconds, 1..86400; default 30. */
  period?: number;
  /** Unix time (seconds) of step 0; default 0. */
  t0?: number;
}

export interface TotpGenerateOptions extends CommonOptions, TimeOptions {
  /** Milliseconds since the Unix epoch; default `Date.now()`. */
  timestamp?: number;
}

/** Validates period and t0. */
export function resolveTime(opts: TimeOptions): { period: number; t0: number } {
  return {
    period: intOption('period', opts.period, 1, MAX_PERIOD, 30),
    t0: intOption('t0', opts.t0, 0, MAX_T0, 0),
  };
}

/**
 * The TOTP code of `secret` at `opts.timestamp` (default now).
 * Throws TypeError / RangeError for a bad secret or option; never includes the secret.
 *
 * @example
 * totp.generate('GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', { timestamp: 59_000, digits: 8 }) // '94287082'
 */
export function generate(secret: Secret, opts?: TotpGenerateOptions): string {
  const o = optionsObject<TotpGenerateOptions>('opts', opts);
  const common = resolveCommon(o);
  const time = resolveTime(o);
  const timestamp = o.timestamp === undefined ? Date.now() : o.timestamp;
  const step = timeStep(timestamp, time);
  if (step < 0) {
    throw typeof timestamp === 'number'
      ? new RangeError('"timestamp" expected milliseconds at or after t0, below 2^53')
      : new TypeError(`"timestamp" expected a number of milliseconds, got ${typeof timestamp}`);
  }
  return generateCode(generatorKey(secret, common), step, common.digits, common.algorithm);
}
