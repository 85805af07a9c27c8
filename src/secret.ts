// Secrets as the facade accepts them: raw bytes (Uint8Array) or base32 text (string).
// The two are different types, so base32 text is never used as raw key bytes by accident
// (SECURITY.md R1).

import { getRandomValues } from 'node:crypto';
import { type Algorithm, algorithmOption, SECRET_BYTES } from './algorithm.js';
import { Base32Error, decode } from './base32.js';
import { dataCharacters, maxDecodedBytes } from './base32-into.js';
import { intOption, optionsObject } from './errors.js';

/** Raw key bytes, or base32 text such as an authenticator app shows. */
export type Secret = Uint8Array | string;

/** RFC 4226 §4 R6: at least 128 bits. Shorter legacy secrets need an explicit opt-in. */
export const DEFAULT_MIN_SECRET_BYTES = 16;

/** Largest secret `generateSecret` makes (the core's MAX_KEY_BYTES). */
export const MAX_GENERATED_SECRET_BYTES = 256;

export interface GenerateSecretOptions {
  /** The hash the secret is for; sets the default length (SHA1 20, SHA256 32, SHA512 64 bytes). */
  algorithm?: Algorithm;
  /** Length in bytes, 16..256, overriding the algorithm's default. */
  bytes?: number;
}

/**
 * A new random secret from the operating system's CSPRNG (`crypto.getRandomValues`): 20 bytes
 * for SHA1 (the default), 32 for SHA256, 64 for SHA512 (RFC 6238's seed sizes). Never shorter
 * than 16 bytes (RFC 4226 §4 R6). Encode it with `base32.encode` for an authenticator app.
 *
 * @example
 * const secret = generateSecret({ algorithm: 'SHA256' }); // 32 random bytes
 * otpauth.build({ account: 'alice@example.com', secret, algorithm: 'SHA256' });
 */
export function generateSecret(opts?: GenerateSecretOptions): Uint8Array {
  const o = optionsObject<GenerateSecretOptions>('opts', opts);
  const algorithm = algorithmOption('algorithm', o.algorithm, 'SHA1');
  const n = intOption('bytes', o.bytes, DEFAULT_MIN_SECRET_BYTES, MAX_GENERATED_SECRET_BYTES, SECRET_BYTES[algorithm]);
  // A fresh, unpooled array: Buffer-based helpers may hand out a slice of a shared slab.
  return getRandomValues(new Uint8Array(n));
}

/**
 * The byte length of base32 text already known to be valid (a key-cache hit), without
 * decoding it: data characters (not spaces, hyphens or padding) × 5 / 8.
 */
export function base32ByteLength(text: string): number {
  return maxDecodedBytes(dataCharacters(text));
}

// %TypedArray%.prototype's own getters, taken once: a Uint8Array is extensible, so an instance
// (or a subclass) can redefine `length` to claim more bytes than it has, and the key packed
// would then be the real bytes plus whatever follows them in the key pool (zeros: the same
// HMAC key as the short secret, accepted without the opt-in of R1).
const TYPED_ARRAY = Object.getPrototypeOf(Uint8Array.prototype) as object;
const getter = (name: string): (this: unknown) => unknown => Object.getOwnPropertyDescriptor(TYPED_ARRAY, name)!.get!;
const REAL_LENGTH = getter('length') as (this: Uint8Array) => number;
const REAL_BUFFER = getter('buffer') as (this: Uint8Array) => ArrayBufferLike;
const REAL_OFFSET = getter('byteOffset') as (this: Uint8Array) => number;

/**
 * `bytes` itself when its `length` is the real one (a plain Uint8Array or Buffer); otherwise a
 * plain view of its real bytes, or undefined when its `length` claims another count than it
 * holds (or throws: the caller treats that as a bad type).
 */
function realBytes(bytes: Uint8Array): Uint8Array | undefined {
  const proto: unknown = Object.getPrototypeOf(bytes);
  if ((proto === Uint8Array.prototype || proto === Buffer.prototype) && !Object.hasOwn(bytes, 'length')) return bytes;
  const n = REAL_LENGTH.call(bytes);
  if (bytes.length !== n) return undefined;
  // Later reads (a getter may answer differently each time) see a plain view of the same bytes.
  return new Uint8Array(REAL_BUFFER.call(bytes), REAL_OFFSET.call(bytes), n);
}

/** What makes a secret acceptable. */
export interface SecretRules {
  readonly minSecretBytes: number;
  readonly maxSecretBytes: number;
  readonly allowBase32TrailingBits: boolean;
}

/** Why a secret was refused; used as the `reason` of a malformed result. */
export type SecretProblem = 'secret-type' | 'secret-encoding' | 'secret-length';

/**
 * The key bytes of `secret`, or the problem with it. Never throws for bad input and never
 * puts the secret in a message.
 */
export function secretBytes(secret: unknown, rules: SecretRules): Uint8Array | SecretProblem {
  let bytes: Uint8Array;
  // ArrayBuffer.isView is true only for a real typed array (not a Proxy of one, nor an object
  // made from its prototype, whose length getter would throw).
  if (ArrayBuffer.isView(secret) && secret instanceof Uint8Array) {
    const real = realBytes(secret);
    if (real === undefined) return 'secret-type';
    bytes = real;
  } else if (typeof secret === 'string') {
    try {
      bytes = decode(secret, { allowTrailingBits: rules.allowBase32TrailingBits });
    } catch (error) {
      if (error instanceof Base32Error) return 'secret-encoding';
      throw error;
    }
  } else {
    return 'secret-type';
  }
  if (bytes.length < rules.minSecretBytes || bytes.length > rules.maxSecretBytes) {
    // Decoded here from base32: our copy of a secret (someone's, if too short for these rules), wiped.
    if (typeof secret === 'string') bytes.fill(0);
    return 'secret-length';
  }
  return bytes;
}

/** Human-readable text for a secret problem, for thrown errors (no secret in it). */
export function describeSecretProblem(problem: SecretProblem, rules: SecretRules): string {
  switch (problem) {
    case 'secret-type':
      return '"secret" expected a Uint8Array or a base32 string';
    case 'secret-encoding':
      return '"secret" is not valid base32';
    case 'secret-length':
      return `"secret" expected ${rules.minSecretBytes}..${rules.maxSecretBytes} bytes`;
  }
}
