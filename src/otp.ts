// What TOTP and HOTP share on the JS side: the code format (SECURITY.md R4), the common
// options, and one-code generation on this thread's inline core.

import { type Algorithm, algorithmCode, algorithmOption } from './algorithm.js';
import { BatchPacker, packParams, runChunks } from './batch.js';
import { charCodeAt } from './charcode.js';
import { boolOption, choiceOption, intOption } from './errors.js';
import { DEFAULT_MIN_SECRET_BYTES, type SecretRules, describeSecretProblem, secretBytes } from './secret.js';
import { inlineCore } from './wasm.js';

/** Code lengths the core computes exactly (RFC 4226 §5.3). */
export type Digits = 6 | 7 | 8;
export const DIGITS: readonly Digits[] = [6, 7, 8];

/** Options every generator and verifier takes. */
export interface CommonOptions {
  /** Code length: 6 (default), 7 or 8. */
  digits?: Digits;
  /**
   * The HMAC hash: 'SHA1' (default; what authenticator apps assume), 'SHA256' or 'SHA512'
   * (RFC 6238). It must match what the account was enrolled with (its otpauth URI).
   */
  algorithm?: Algorithm;
  /**
   * Shortest secret accepted, in bytes: 16 by default (RFC 4226 §4 R6). Lower it (down to 1)
   * only for legacy secrets that cannot be rotated yet.
   */
  minSecretBytes?: number;
  /**
   * Accept base32 secrets whose last character carries non-zero unused bits (default false);
   * see `base32.decode`.
   */
  allowBase32TrailingBits?: boolean;
}

export interface ResolvedCommon extends SecretRules {
  readonly digits: Digits;
  readonly algorithm: Algorithm;
}

/** Validates the common options (TypeError / RangeError naming the option). */
export function resolveCommon(opts: CommonOptions): ResolvedCommon {
  return {
    digits: choiceOption('digits', opts.digits, DIGITS, 6),
    algorithm: algorithmOption('algorithm', opts.algorithm, 'SHA1'),
    minSecretBytes: intOption('minSecretBytes', opts.minSecretBytes, 1, DEFAULT_MIN_SECRET_BYTES, DEFAULT_MIN_SECRET_BYTES),
    maxSecretBytes: inlineCore().layout.maxKeyBytes,
    allowBase32TrailingBits: boolOption('allowBase32TrailingBits', opts.allowBase32TrailingBits, false),
  };
}

/**
 * The numeric value of `code` when it is a string of exactly `digits` ASCII digits, else -1.
 * No trimming, no Unicode digits, no numbers: anything else is malformed, never canonicalised.
 */
export function parseCode(code: unknown, digits: number): number {
  if (typeof code !== 'string' || code.length !== digits) return -1;
  // Once per request on the hot path. `bad` collects the sign bit of (c - 48) and of (57 - c)
  // for every character: negative exactly when one is not an ASCII digit; one test at the end.
  let value = 0;
  let bad = 0;
  for (let i = 0; i < digits; i++) {
    const c = charCodeAt(code, i) - 48;
    bad |= c | (9 - c);
    value = value * 10 + c;
  }
  return bad < 0 ? -1 : value;
}

/** A code as the zero-padded string users type. */
export function formatCode(value: number, digits: number): string {
  return String(value).padStart(digits, '0');
}

/** Key bytes of a secret given to a generator; throws (without the secret) when unusable. */
export function generatorKey(secret: unknown, common: ResolvedCommon): Uint8Array {
  const key = secretBytes(secret, common);
  if (typeof key === 'string') {
    const message = describeSecretProblem(key, common);
    throw key === 'secret-length' ? new RangeError(message) : new TypeError(message);
  }
  return key;
}

/** The code for `counter` (0..2^64-1, already checked) on this thread's inline core. */
export function generateCode(key: Uint8Array, counter: number | bigint, digits: Digits, algorithm: Algorithm = 'SHA1'): string {
  return formatCode(generateCodes(key, counter, 1, digits, algorithm)[0]!, digits);
}

/**
 * The codes (as numbers) of `count` consecutive counters from `first` (a safe integer, already
 * checked), in one batched call on this thread's inline core: HOTP resynchronisation.
 */
export function generateCodes(
  key: Uint8Array, first: number | bigint, count: number, digits: Digits, algorithm: Algorithm = 'SHA1',
): Int32Array {
  const core = inlineCore();
  const packer = new BatchPacker(core.layout, count);
  const params = packParams(core.layout, digits, 0, 0, algorithmCode(core.layout, algorithm));
  for (let k = 0; k < count; k++) packer.addKey(key, typeof first === 'bigint' ? first + BigInt(k) : first + k, 0, params);
  return runChunks(core, packer.finish(), 'generate');
}
