// The HMAC hash functions of HOTP/TOTP (RFC 6238 §1.2: SHA-1, SHA-256, SHA-512), their names
// as the API takes them (strict) and as otpauth URIs spell them (tolerant).

/** An HMAC hash for HOTP/TOTP. SHA1 is what authenticator apps and control panels use by default. */
export type Algorithm = 'SHA1' | 'SHA256' | 'SHA512';

export const ALGORITHMS: readonly Algorithm[] = ['SHA1', 'SHA256', 'SHA512'];

/**
 * Bytes of secret generated per algorithm: the hash's output size, as RFC 6238's reference
 * seeds (20, 32 and 64 bytes) and RFC 4226 §4 R6's recommended 160 bits for SHA-1.
 */
export const SECRET_BYTES: Readonly<Record<Algorithm, number>> = Object.freeze({ SHA1: 20, SHA256: 32, SHA512: 64 });

/**
 * Words (u32) of HMAC midstate an algorithm uses: inner and outer state, 5 + 5 for SHA-1,
 * 8 + 8 for SHA-256, 16 + 16 for SHA-512. What the key cache and handles keep per key; the
 * core's per-item slot (MID_STRIDE) has room for the largest.
 */
export const MID_WORDS: Readonly<Record<Algorithm, number>> = Object.freeze({ SHA1: 10, SHA256: 16, SHA512: 32 });

/** The core's code for an algorithm (the params word's algorithm field). */
export function algorithmCode(layout: { algSha1: number; algSha256: number; algSha512: number }, algorithm: Algorithm): number {
  return algorithm === 'SHA256' ? layout.algSha256 : algorithm === 'SHA512' ? layout.algSha512 : layout.algSha1;
}

/**
 * The `algorithm` option: exactly 'SHA1', 'SHA256' or 'SHA512', or `fallback` when undefined.
 * TypeError for a non-string, RangeError for another name (the API is strict; URIs are not).
 */
export function algorithmOption(name: string, value: unknown, fallback: Algorithm): Algorithm {
  if (value === undefined) return fallback;
  if (typeof value !== 'string') {
    throw new TypeError(`"${name}" expected one of ${ALGORITHMS.join(', ')}, got ${value === null ? 'null' : typeof value}`);
  }
  if (!(ALGORITHMS as readonly string[]).includes(value)) {
    // The value is short and not secret, but it is bounded anyway so that a message stays a line.
    throw new RangeError(`"${name}" expected one of ${ALGORITHMS.join(', ')}, got "${value.slice(0, 16)}"`);
  }
  return value as Algorithm;
}

/**
 * An algorithm name as authenticator apps and panels write it in otpauth URIs: any case,
 * with or without a hyphen or an "HMAC" prefix (`sha1`, `SHA-1`, `HmacSHA256`). Undefined for
 * anything else.
 */
export function parseAlgorithmName(text: string): Algorithm | undefined {
  const m = /^(?:hmac-?)?sha-?(1|256|512)$/i.exec(text);
  return m === null ? undefined : (`SHA${m[1]}` as Algorithm);
}
