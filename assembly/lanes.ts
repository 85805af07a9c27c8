// Loading four SIMD lanes, shared by the four-lane HMACs (hmac.ts for SHA-1, sha256x4.ts for
// SHA-256): gathering one state word of four lanes, and the inner block of an HOTP counter.

import { X4_MSG_PTR } from "./layout";

/** Word `word` of four lanes' states, one state per lane at m0..m3, as a v128 at `dst`. */
// @ts-ignore: decorator
@inline export function gather(dst: usize, m0: usize, m1: usize, m2: usize, m3: usize, word: usize): void {
  const o = word << 2;
  let v = i32x4.splat(load<u32>(m0 + o));
  v = i32x4.replace_lane(v, 1, load<u32>(m1 + o));
  v = i32x4.replace_lane(v, 2, load<u32>(m2 + o));
  v = i32x4.replace_lane(v, 3, load<u32>(m3 + o));
  v128.store(dst + (word << 4), v);
}

/**
 * Writes to X4_MSG_PTR the inner HMAC block of four lanes' u64 counters (lane l's at
 * counters + 8l): counter (big-endian words) | 0x80 | zeros | bit length 576. The same for
 * SHA-1 and SHA-256 (64-byte blocks, 64-bit length field).
 */
// @ts-ignore: decorator
@inline export function counterBlock4(counters: usize): void {
  const zero = i32x4.splat(0);
  let hi = i32x4.splat(load<u32>(counters, 4));
  hi = i32x4.replace_lane(hi, 1, load<u32>(counters, 12));
  hi = i32x4.replace_lane(hi, 2, load<u32>(counters, 20));
  hi = i32x4.replace_lane(hi, 3, load<u32>(counters, 28));
  let lo = i32x4.splat(load<u32>(counters, 0));
  lo = i32x4.replace_lane(lo, 1, load<u32>(counters, 8));
  lo = i32x4.replace_lane(lo, 2, load<u32>(counters, 16));
  lo = i32x4.replace_lane(lo, 3, load<u32>(counters, 24));
  v128.store(X4_MSG_PTR, hi, 0);
  v128.store(X4_MSG_PTR, lo, 16);
  v128.store(X4_MSG_PTR, i32x4.splat(0x80000000), 32);
  for (let j: usize = 3; j < 15; j++) v128.store(X4_MSG_PTR + (j << 4), zero);
  v128.store(X4_MSG_PTR, i32x4.splat(576), 240);
}
