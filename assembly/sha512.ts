// SHA-512 (FIPS 180-4) for the HMAC core, in scalar i64: one compression at a time over
// 64-bit words (already big-endian decoded), plus a whole-message digest used only to shorten
// keys longer than its 128-byte block (RFC 2104). State is 8 u64 in memory between calls and
// in locals inside a compression.

import { W64_PTR, BLOCK128_PTR, MSG64_PTR } from "./layout";

/** The 80 round constants (FIPS 180-4 §4.2.3), in static data. */
const K: usize = memory.data<u64>([
  0x428a2f98d728ae22, 0x7137449123ef65cd, 0xb5c0fbcfec4d3b2f, 0xe9b5dba58189dbbc, 0x3956c25bf348b538,
  0x59f111f1b605d019, 0x923f82a4af194f9b, 0xab1c5ed5da6d8118, 0xd807aa98a3030242, 0x12835b0145706fbe,
  0x243185be4ee4b28c, 0x550c7dc3d5ffb4e2, 0x72be5d74f27b896f, 0x80deb1fe3b1696b1, 0x9bdc06a725c71235,
  0xc19bf174cf692694, 0xe49b69c19ef14ad2, 0xefbe4786384f25e3, 0x0fc19dc68b8cd5b5, 0x240ca1cc77ac9c65,
  0x2de92c6f592b0275, 0x4a7484aa6ea6e483, 0x5cb0a9dcbd41fbd4, 0x76f988da831153b5, 0x983e5152ee66dfab,
  0xa831c66d2db43210, 0xb00327c898fb213f, 0xbf597fc7beef0ee4, 0xc6e00bf33da88fc2, 0xd5a79147930aa725,
  0x06ca6351e003826f, 0x142929670a0e6e70, 0x27b70a8546d22ffc, 0x2e1b21385c26c926, 0x4d2c6dfc5ac42aed,
  0x53380d139d95b3df, 0x650a73548baf63de, 0x766a0abb3c77b2a8, 0x81c2c92e47edaee6, 0x92722c851482353b,
  0xa2bfe8a14cf10364, 0xa81a664bbc423001, 0xc24b8b70d0f89791, 0xc76c51a30654be30, 0xd192e819d6ef5218,
  0xd69906245565a910, 0xf40e35855771202a, 0x106aa07032bbd1b8, 0x19a4c116b8d2d0c8, 0x1e376c085141ab53,
  0x2748774cdf8eeb99, 0x34b0bcb5e19b48a8, 0x391c0cb3c5c95a63, 0x4ed8aa4ae3418acb, 0x5b9cca4f7763e373,
  0x682e6ff3d6b2b8a3, 0x748f82ee5defb2fc, 0x78a5636f43172f60, 0x84c87814a1f0ab72, 0x8cc702081a6439ec,
  0x90befffa23631e28, 0xa4506cebde82bde9, 0xbef9a3f7b2c67915, 0xc67178f2e372532b, 0xca273eceea26619c,
  0xd186b8c721c0c207, 0xeada7dd6cde0eb1e, 0xf57d4f7fee6ed178, 0x06f067aa72176fba, 0x0a637dc5a2c898a6,
  0x113f9804bef90dae, 0x1b710b35131c471b, 0x28db77f523047d84, 0x32caab7b40c72493, 0x3c9ebe0a15c9bebc,
  0x431d67c49c100d4c, 0x4cc5d4becb3e42b6, 0x597f299cfc657e2a, 0x5fcb6fab3ad6faec, 0x6c44198c4a475817,
]);

/** Writes the SHA-512 initial state (8 u64) at `state`. */
export function sha512Init(state: usize): void {
  store<u64>(state, 0x6a09e667f3bcc908, 0);
  store<u64>(state, 0xbb67ae8584caa73b, 8);
  store<u64>(state, 0x3c6ef372fe94f82b, 16);
  store<u64>(state, 0xa54ff53a5f1d36f1, 24);
  store<u64>(state, 0x510e527fade682d1, 32);
  store<u64>(state, 0x9b05688c2b3e6c1f, 40);
  store<u64>(state, 0x1f83d9abfb41bd6b, 48);
  store<u64>(state, 0x5be0cd19137e2179, 56);
}

/**
 * One SHA-512 compression: `out` = compress(`state`, `block`).
 * `state` and `out` are 8 u64 (they may be the same address); `block` is 16 u64.
 */
export function sha512Compress(state: usize, block: usize, out: usize): void {
  const w = W64_PTR;
  for (let t: usize = 0; t < 16; t++) store<u64>(w + (t << 3), load<u64>(block + (t << 3)));
  for (let t: usize = 16; t < 80; t++) {
    const x = load<u64>(w + ((t - 15) << 3));
    const y = load<u64>(w + ((t - 2) << 3));
    const s0 = rotr<u64>(x, 1) ^ rotr<u64>(x, 8) ^ (x >>> 7);
    const s1 = rotr<u64>(y, 19) ^ rotr<u64>(y, 61) ^ (y >>> 6);
    store<u64>(w + (t << 3), load<u64>(w + ((t - 16) << 3)) + s0 + load<u64>(w + ((t - 7) << 3)) + s1);
  }
  let a = load<u64>(state, 0);
  let b = load<u64>(state, 8);
  let c = load<u64>(state, 16);
  let d = load<u64>(state, 24);
  let e = load<u64>(state, 32);
  let f = load<u64>(state, 40);
  let g = load<u64>(state, 48);
  let h = load<u64>(state, 56);
  for (let t: usize = 0; t < 80; t++) {
    const S1 = rotr<u64>(e, 14) ^ rotr<u64>(e, 18) ^ rotr<u64>(e, 41);
    const ch = (e & f) ^ (~e & g);
    const t1 = h + S1 + ch + load<u64>(K + (t << 3)) + load<u64>(w + (t << 3));
    const S0 = rotr<u64>(a, 28) ^ rotr<u64>(a, 34) ^ rotr<u64>(a, 39);
    const maj = (a & b) ^ (a & c) ^ (b & c);
    const t2 = S0 + maj;
    h = g; g = f; f = e; e = d + t1; d = c; c = b; b = a; a = t1 + t2;
  }
  store<u64>(out, load<u64>(state, 0) + a, 0);
  store<u64>(out, load<u64>(state, 8) + b, 8);
  store<u64>(out, load<u64>(state, 16) + c, 16);
  store<u64>(out, load<u64>(state, 24) + d, 24);
  store<u64>(out, load<u64>(state, 32) + e, 32);
  store<u64>(out, load<u64>(state, 40) + f, 40);
  store<u64>(out, load<u64>(state, 48) + g, 48);
  store<u64>(out, load<u64>(state, 56) + h, 56);
}

/** Loads 128 bytes at `src` as 16 big-endian u64 into `dst`. */
export function loadBlock64BE(src: usize, dst: usize): void {
  for (let i: usize = 0; i < 128; i += 8) store<u64>(dst + i, bswap<u64>(load<u64>(src + i)));
}

/**
 * SHA-512 of `len` bytes at `msg`, written as 8 u64 (numbers) to `out`.
 * Used only for keys longer than a block, so it favours clarity over speed.
 */
export function sha512Digest(msg: usize, len: u32, out: usize): void {
  sha512Init(out);
  let pos: u32 = 0;
  while (len - pos >= 128) {
    loadBlock64BE(msg + pos, MSG64_PTR);
    sha512Compress(out, MSG64_PTR, out);
    pos += 128;
  }
  // Final block(s): the remaining bytes, 0x80, zeros, the bit length as a 128-bit big-endian
  // (its high 64 bits are zero: keys are at most MAX_KEY_BYTES).
  const rest = len - pos;
  memory.fill(BLOCK128_PTR, 0, 128);
  memory.copy(BLOCK128_PTR, msg + pos, rest);
  store<u8>(BLOCK128_PTR + rest, 0x80);
  if (rest >= 112) {
    loadBlock64BE(BLOCK128_PTR, MSG64_PTR);
    sha512Compress(out, MSG64_PTR, out);
    memory.fill(BLOCK128_PTR, 0, 128);
  }
  store<u64>(BLOCK128_PTR + 120, bswap<u64>(<u64>len << 3));
  loadBlock64BE(BLOCK128_PTR, MSG64_PTR);
  sha512Compress(out, MSG64_PTR, out);
  memory.fill(BLOCK128_PTR, 0, 128);
  memory.fill(MSG64_PTR, 0, 128);
}
