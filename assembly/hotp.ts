// HOTP (RFC 4226 §5.3): dynamic truncation of an HMAC digest (SHA-1, and SHA-256/512 as
// RFC 6238 allows) to a 6-, 7- or 8-digit code.

import { DIGEST_PTR, DIGEST2_PTR, ALG_SHA256, ALG_SHA512 } from "./layout";
import { hmacSha1Counter } from "./hmac";
import { hmacSha256Counter, hmacSha512Counter } from "./hmac2";

/** 10^digits for digits 0..8; the core accepts 6..8. */
// @ts-ignore: decorator
@inline export function pow10(digits: u32): u32 {
  let p: u32 = 1;
  for (let i: u32 = 0; i < digits; i++) p *= 10;
  return p;
}

/**
 * The 31-bit dynamic-truncation value of a digest held as 5 words, word j at
 * `digest + j * stride` (4 for a plain digest, 16 for one lane of a SIMD digest):
 * offset = low nibble of byte 19; the 4 bytes from there, big-endian, top bit cleared.
 */
export function truncate(digest: usize, stride: usize): u32 {
  return truncateAt(digest, stride, 4);
}

/** `truncate` for a SHA-256 digest (8 words, word j at `digest + j * stride`). */
export function truncate256(digest: usize, stride: usize): u32 {
  return truncateAt(digest, stride, 7);
}

/**
 * `truncate` for a digest of `lastWord + 1` words: the offset is the low nibble of its last
 * byte (word 4 for SHA-1, 7 for SHA-256, 15 for SHA-512). The 4 bytes it selects lie in
 * words 0..4 whatever the hash.
 */
// @ts-ignore: decorator
@inline function truncateAt(digest: usize, stride: usize, lastWord: usize): u32 {
  const offset = <usize>(load<u32>(digest + lastWord * stride) & 0xf);
  // Bytes offset..offset+3 of the big-endian digest span at most two words.
  const wi = offset >>> 2;
  const sh = <u32>(offset & 3) << 3;
  const hi = load<u32>(digest + wi * stride);
  // wi <= 3, so word wi + 1 always exists. `(lo >>> 1) >>> (31 - sh)` is `lo >>> (32 - sh)`
  // without a 32-bit shift when sh is 0, and without a branch on digest bits.
  const lo = load<u32>(digest + (wi + 1) * stride);
  return ((hi << sh) | ((lo >>> 1) >>> (31 - sh))) & 0x7fffffff;
}

/** The HOTP code (as a number below 10^digits) for `counter` from the midstates at `mid`. */
export function hotpCode(mid: usize, counter: u64, digits: u32): u32 {
  hmacSha1Counter(mid, counter, DIGEST_PTR);
  return truncate(DIGEST_PTR, 4) % pow10(digits);
}

/**
 * The HOTP code for `counter` from the midstates at `mid`, with the hash `alg` (ALG_SHA1,
 * ALG_SHA256 or ALG_SHA512; anything else is treated as SHA-1, the caller having checked it).
 */
export function hotpCodeAlg(mid: usize, counter: u64, digits: u32, alg: u32): u32 {
  if (alg == ALG_SHA256) {
    hmacSha256Counter(mid, counter, DIGEST2_PTR);
    return truncateAt(DIGEST2_PTR, 4, 7) % pow10(digits);
  }
  if (alg == ALG_SHA512) {
    hmacSha512Counter(mid, counter, DIGEST2_PTR);
    return truncateAt(DIGEST2_PTR, 4, 15) % pow10(digits);
  }
  return hotpCode(mid, counter, digits);
}
