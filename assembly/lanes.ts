// The fixed HMAC blocks of an HOTP counter, shared by SHA-1 (hmac.ts) and SHA-256 (hmac2.ts,
// sha256x4.ts), which pad alike: gathering one state word of four SIMD lanes, the counter's
// inner block for four lanes and for one, and the outer block of an inner digest.

import { X4_MSG_PTR } from "./layout";

/** The u32 at byte offset `o` of m0..m3 as the four lanes of a v128. */
// @ts-ignore: decorator
@inline export function laneWords(m0: usize, m1: usize, m2: usize, m3: usize, o: usize): v128 {
  let v = i32x4.splat(load<u32>(m0 + o));
  v = i32x4.replace_lane(v, 1, load<u32>(m1 + o));
  v = i32x4.replace_lane(v, 2, load<u32>(m2 + o));
  return i32x4.replace_lane(v, 3, load<u32>(m3 + o));
}

/** Word `word` of four lanes' states, one state per lane at m0..m3, as a v128 at `dst`. */
// @ts-ignore: decorator
@inline export function gather(dst: usize, m0: usize, m1: usize, m2: usize, m3: usize, word: usize): void {
  v128.store(dst + (word << 4), laneWords(m0, m1, m2, m3, word << 2));
}

/** The high (`hi`) or low 32 bits of four lanes' u64 counters (lane l's at counters + 8l). */
// @ts-ignore: decorator
@inline export function counterWords4(counters: usize, hi: bool): v128 {
  const o: usize = hi ? 4 : 0;
  return laneWords(counters + o, counters + 8 + o, counters + 16 + o, counters + 24 + o, 0);
}

/**
 * Writes to X4_MSG_PTR the inner HMAC block of four lanes' u64 counters (lane l's at
 * counters + 8l): counter (big-endian words) | 0x80 | zeros | bit length 576. The same for
 * SHA-1 and SHA-256 (64-byte blocks, 64-bit length field).
 */
// @ts-ignore: decorator
@inline export function counterBlock4(counters: usize): void {
  const zero = i32x4.splat(0);
  v128.store(X4_MSG_PTR, counterWords4(counters, true), 0);
  v128.store(X4_MSG_PTR, counterWords4(counters, false), 16);
  v128.store(X4_MSG_PTR, i32x4.splat(0x80000000), 32);
  for (let j: usize = 3; j < 15; j++) v128.store(X4_MSG_PTR + (j << 4), zero);
  v128.store(X4_MSG_PTR, i32x4.splat(576), 240);
}

/**
 * Writes at `m` the scalar inner HMAC block of a u64 counter: counter (big-endian words) | 0x80 |
 * zeros | bit length 576 (the 64-byte key block + 8 bytes). SHA-1 and SHA-256 alike.
 */
// @ts-ignore: decorator
@inline export function counterBlock(m: usize, counter: u64): void {
  store<u32>(m, <u32>(counter >>> 32), 0);
  store<u32>(m, <u32>counter, 4);
  store<u32>(m, 0x80000000, 8);
  for (let i: usize = 12; i < 60; i += 4) store<u32>(m + i, 0);
  store<u32>(m, 576, 60);
}

/**
 * Writes at `m` the scalar outer HMAC block: the inner digest (`bytes` bytes, as words at
 * `digest`) | 0x80 | zeros | bit length (64 + bytes) * 8. SHA-1 (20 bytes) and SHA-256 (32).
 */
// @ts-ignore: decorator
@inline export function digestBlock(m: usize, digest: usize, bytes: usize): void {
  for (let i: usize = 0; i < bytes; i += 4) store<u32>(m + i, load<u32>(digest + i));
  store<u32>(m + bytes, 0x80000000);
  for (let i: usize = bytes + 4; i < 60; i += 4) store<u32>(m + i, 0);
  store<u32>(m, (64 + <u32>bytes) << 3, 60);
}
