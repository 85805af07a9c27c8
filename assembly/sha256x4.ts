// SHA-256 compression over four independent blocks at once, one per 32-bit lane of a v128
// (multi-buffer SIMD), and HMAC-SHA256 of an HOTP counter for four lanes from their midstates.
// Same arithmetic as sha256.ts / hmac2.ts, which stay as the scalar reference.

import { X4_MSG_PTR, X8_STATE_PTR, X8_DIGEST_PTR } from "./layout";
import { K256 } from "./sha256";
import { counterBlock4, gather } from "./lanes";

// @ts-ignore: decorator
@inline function rotr4(x: v128, n: i32): v128 {
  return v128.or(i32x4.shr_u(x, n), i32x4.shl(x, 32 - n));
}

/** Message word t of the ring at X4_MSG_PTR (16 x v128), expanding it in place for t >= 16. */
// @ts-ignore: decorator
@inline function word(t: usize): v128 {
  const p = X4_MSG_PTR + ((t & 15) << 4);
  if (t < 16) return v128.load(p);
  const x = v128.load(X4_MSG_PTR + (((t - 15) & 15) << 4));
  const y = v128.load(X4_MSG_PTR + (((t - 2) & 15) << 4));
  const s0 = v128.xor(v128.xor(rotr4(x, 7), rotr4(x, 18)), i32x4.shr_u(x, 3));
  const s1 = v128.xor(v128.xor(rotr4(y, 17), rotr4(y, 19)), i32x4.shr_u(y, 10));
  const w = i32x4.add(i32x4.add(v128.load(p), s0), i32x4.add(v128.load(X4_MSG_PTR + (((t - 7) & 15) << 4)), s1));
  v128.store(p, w);
  return w;
}

/**
 * Four SHA-256 compressions: `out` = compress(`state`, message ring at X4_MSG_PTR).
 * `state` and `out` hold 8 x v128 (word j of lane l at +16j+4l); they may be the same.
 * The message ring (16 x v128, big-endian words as numbers) is consumed.
 */
export function sha256x4Compress(state: usize, out: usize): void {
  let a = v128.load(state, 0);
  let b = v128.load(state, 16);
  let c = v128.load(state, 32);
  let d = v128.load(state, 48);
  let e = v128.load(state, 64);
  let f = v128.load(state, 80);
  let g = v128.load(state, 96);
  let h = v128.load(state, 112);
  for (let t: usize = 0; t < 64; t++) {
    const S1 = v128.xor(v128.xor(rotr4(e, 6), rotr4(e, 11)), rotr4(e, 25));
    const ch = v128.bitselect(f, g, e); // where e is set take f, else g
    const t1 = i32x4.add(i32x4.add(i32x4.add(h, S1), i32x4.add(ch, i32x4.splat(load<u32>(K256 + (t << 2))))), word(t));
    const S0 = v128.xor(v128.xor(rotr4(a, 2), rotr4(a, 13)), rotr4(a, 22));
    const maj = v128.bitselect(c, a, v128.xor(a, b)); // where a and b differ take c, else a
    const t2 = i32x4.add(S0, maj);
    h = g; g = f; f = e; e = i32x4.add(d, t1); d = c; c = b; b = a; a = i32x4.add(t1, t2);
  }
  v128.store(out, i32x4.add(v128.load(state, 0), a), 0);
  v128.store(out, i32x4.add(v128.load(state, 16), b), 16);
  v128.store(out, i32x4.add(v128.load(state, 32), c), 32);
  v128.store(out, i32x4.add(v128.load(state, 48), d), 48);
  v128.store(out, i32x4.add(v128.load(state, 64), e), 64);
  v128.store(out, i32x4.add(v128.load(state, 80), f), 80);
  v128.store(out, i32x4.add(v128.load(state, 96), g), 96);
  v128.store(out, i32x4.add(v128.load(state, 112), h), 112);
}

/**
 * HMAC-SHA256 of four lanes' u64 counters (at counters + 8l) from their midstates at m0..m3
 * (inner state at +0, outer at +32). The digests land at X8_DIGEST_PTR (word j of lane l at
 * +16j+4l).
 */
export function hmacSha256Counter4(m0: usize, m1: usize, m2: usize, m3: usize, counters: usize): void {
  const zero = i32x4.splat(0);
  // Inner: counter | 0x80 | zeros | bit length 576.
  for (let j: usize = 0; j < 8; j++) gather(X8_STATE_PTR, m0, m1, m2, m3, j);
  counterBlock4(counters);
  sha256x4Compress(X8_STATE_PTR, X8_DIGEST_PTR);
  // Outer: inner digest (8 words) | 0x80 | zeros | bit length 768.
  for (let j: usize = 0; j < 8; j++) {
    v128.store(X4_MSG_PTR + (j << 4), v128.load(X8_DIGEST_PTR + (j << 4)));
    gather(X8_STATE_PTR, m0 + 32, m1 + 32, m2 + 32, m3 + 32, j);
  }
  v128.store(X4_MSG_PTR, i32x4.splat(0x80000000), 128);
  for (let j: usize = 9; j < 15; j++) v128.store(X4_MSG_PTR + (j << 4), zero);
  v128.store(X4_MSG_PTR, i32x4.splat(768), 240);
  sha256x4Compress(X8_STATE_PTR, X8_DIGEST_PTR);
}
