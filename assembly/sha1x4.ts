// SHA-1 compression over four independent blocks at once, one per 32-bit lane of a v128
// (multi-buffer SIMD). Same arithmetic as sha1.ts, which stays as the scalar reference.

import { X4_MSG_PTR } from "./layout";

// @ts-ignore: decorator
@inline function rotl4(x: v128, n: i32): v128 {
  return v128.or(i32x4.shl(x, n), i32x4.shr_u(x, 32 - n));
}

/** Message word t of the ring at X4_MSG_PTR (16 x v128), expanding it in place for t >= 16. */
// @ts-ignore: decorator
@inline function word(t: usize): v128 {
  const p = X4_MSG_PTR + ((t & 15) << 4);
  if (t < 16) return v128.load(p);
  const x = v128.xor(
    v128.xor(v128.load(X4_MSG_PTR + (((t - 3) & 15) << 4)), v128.load(X4_MSG_PTR + (((t - 8) & 15) << 4))),
    v128.xor(v128.load(X4_MSG_PTR + (((t - 14) & 15) << 4)), v128.load(p)),
  );
  const w = rotl4(x, 1);
  v128.store(p, w);
  return w;
}

/**
 * Four SHA-1 compressions: `out` = compress(`state`, message ring at X4_MSG_PTR).
 * `state` and `out` hold 5 x v128 (word j of lane l at +16j+4l); they may be the same.
 * The message ring (16 x v128, big-endian words as numbers) is consumed.
 */
export function sha1x4Compress(state: usize, out: usize): void {
  let a = v128.load(state, 0);
  let b = v128.load(state, 16);
  let c = v128.load(state, 32);
  let d = v128.load(state, 48);
  let e = v128.load(state, 64);
  const k0 = i32x4.splat(0x5a827999);
  const k1 = i32x4.splat(0x6ed9eba1);
  const k2 = i32x4.splat(0x8f1bbcdc);
  const k3 = i32x4.splat(0xca62c1d6);
  for (let t: usize = 0; t < 20; t++) {
    // Ch(b, c, d) = (b & c) | (~b & d): where b is set take c, else d.
    const f = v128.bitselect(c, d, b);
    const tmp = i32x4.add(i32x4.add(rotl4(a, 5), f), i32x4.add(i32x4.add(e, k0), word(t)));
    e = d; d = c; c = rotl4(b, 30); b = a; a = tmp;
  }
  for (let t: usize = 20; t < 40; t++) {
    const f = v128.xor(v128.xor(b, c), d);
    const tmp = i32x4.add(i32x4.add(rotl4(a, 5), f), i32x4.add(i32x4.add(e, k1), word(t)));
    e = d; d = c; c = rotl4(b, 30); b = a; a = tmp;
  }
  for (let t: usize = 40; t < 60; t++) {
    // Maj(b, c, d): where b and c agree take b, else d.
    const f = v128.bitselect(d, b, v128.xor(b, c));
    const tmp = i32x4.add(i32x4.add(rotl4(a, 5), f), i32x4.add(i32x4.add(e, k2), word(t)));
    e = d; d = c; c = rotl4(b, 30); b = a; a = tmp;
  }
  for (let t: usize = 60; t < 80; t++) {
    const f = v128.xor(v128.xor(b, c), d);
    const tmp = i32x4.add(i32x4.add(rotl4(a, 5), f), i32x4.add(i32x4.add(e, k3), word(t)));
    e = d; d = c; c = rotl4(b, 30); b = a; a = tmp;
  }
  v128.store(out, i32x4.add(v128.load(state, 0), a), 0);
  v128.store(out, i32x4.add(v128.load(state, 16), b), 16);
  v128.store(out, i32x4.add(v128.load(state, 32), c), 32);
  v128.store(out, i32x4.add(v128.load(state, 48), d), 48);
  v128.store(out, i32x4.add(v128.load(state, 64), e), 64);
}
