// HOTP generation (RFC 4226): one code, synchronously, on this thread's inline core.

import { optionsObject } from './errors.js';
import { type CommonOptions, generateCode, generatorKey, resolveCommon } from './otp.js';
import type { Secret } from './secret.js';

export type HotpGenerateOptions = CommonOptions;

const MAX_COUNTER = (1n << 64n) - 1n;

/**
 * A counter as the core takes it: a safe non-negative integer, or a bigint 0..2^64-1.
 * Throws TypeError / RangeError otherwise; nothing is rounded or wrapped.
 */
export function checkCounter(counter: unknown): number | bigint {
  if (typeof counter === 'bigint') {
    if (counter < 0n || counter > MAX_COUNTER) throw new RangeError('"counter" expected 0..2^64-1');
    return counter;
  }
  if (typeof counter !== 'number' || !Number.isInteger(counter)) {
    throw new TypeError('"counter" expected a safe integer or a bigint');
  }
  if (counter < 0 || !Number.isSafeInteger(counter)) {
    throw new RangeError('"counter" expected 0..2^53-1 as a number (use a bigint above that)');
  }
  return counter;
}

/**
 * The HOTP code of `secret` at `counter`.
 * Throws TypeError / RangeError for a bad secret, counter or option; never includes the secret.
 *
 * @example
 * hotp.generate(new TextEncoder().encode('12345678901234567890'), 1) // '287082'
 */
export function generate(secret: Secret, counter: number | bigint, opts?: HotpGenerateOptions): string {
  const o = optionsObject<HotpGenerateOptions>('opts', opts);
  const common = resolveCommon(o);
  return generateCode(generatorKey(secret, common), checkCounter(counter), common.digits, common.algorithm);
}
