// SHA-1 (FIPS 180-4) for the HMAC core: one compression at a time over words, plus a
// whole-message digest used only to shorten keys longer than a block (RFC 2104).
//
// Words are handled as numbers (already big-endian decoded), so HMAC can build its fixed
// message blocks without byte shuffling. State lives in memory only between calls; inside a
// compression everything is in locals.

import { W_PTR, BLOCK_PTR, MSG_PTR } from "./layout";

export const SHA1_IV0: u32 = 0x67452301;
export const SHA1_IV1: u32 = 0xefcdab89;
export const SHA1_IV2: u32 = 0x98badcfe;
export const SHA1_IV3: u32 = 0x10325476;
export const SHA1_IV4: u32 = 0xc3d2e1f0;

/** Writes the SHA-1 initial state (5 words) at `state`. */
export function sha1Init(state: usize): void {
  store<u32>(state, SHA1_IV0, 0);
  store<u32>(state, SHA1_IV1, 4);
  store<u32>(state, SHA1_IV2, 8);
  store<u32>(state, SHA1_IV3, 12);
  store<u32>(state, SHA1_IV4, 16);
}

/**
 * One SHA-1 compression: `out` = compress(`state`, `block`).
 * `state` and `out` are 5 words (they may be the same address); `block` is 16 words.
 */
export function sha1Compress(state: usize, block: usize, out: usize): void {
  const w = W_PTR;
  for (let t: usize = 0; t < 16; t++) {
    store<u32>(w + (t << 2), load<u32>(block + (t << 2)));
  }
  for (let t: usize = 16; t < 80; t++) {
    const x = load<u32>(w + ((t - 3) << 2)) ^ load<u32>(w + ((t - 8) << 2)) ^
              load<u32>(w + ((t - 14) << 2)) ^ load<u32>(w + ((t - 16) << 2));
    store<u32>(w + (t << 2), rotl<u32>(x, 1));
  }
  let a = load<u32>(state, 0);
  let b = load<u32>(state, 4);
  let c = load<u32>(state, 8);
  let d = load<u32>(state, 12);
  let e = load<u32>(state, 16);
  for (let t: usize = 0; t < 20; t++) {
    const tmp = rotl<u32>(a, 5) + ((b & c) | (~b & d)) + e + 0x5a827999 + load<u32>(w + (t << 2));
    e = d; d = c; c = rotl<u32>(b, 30); b = a; a = tmp;
  }
  for (let t: usize = 20; t < 40; t++) {
    const tmp = rotl<u32>(a, 5) + (b ^ c ^ d) + e + 0x6ed9eba1 + load<u32>(w + (t << 2));
    e = d; d = c; c = rotl<u32>(b, 30); b = a; a = tmp;
  }
  for (let t: usize = 40; t < 60; t++) {
    const tmp = rotl<u32>(a, 5) + ((b & c) | (b & d) | (c & d)) + e + 0x8f1bbcdc + load<u32>(w + (t << 2));
    e = d; d = c; c = rotl<u32>(b, 30); b = a; a = tmp;
  }
  for (let t: usize = 60; t < 80; t++) {
    const tmp = rotl<u32>(a, 5) + (b ^ c ^ d) + e + 0xca62c1d6 + load<u32>(w + (t << 2));
    e = d; d = c; c = rotl<u32>(b, 30); b = a; a = tmp;
  }
  store<u32>(out, load<u32>(state, 0) + a, 0);
  store<u32>(out, load<u32>(state, 4) + b, 4);
  store<u32>(out, load<u32>(state, 8) + c, 8);
  store<u32>(out, load<u32>(state, 12) + d, 12);
  store<u32>(out, load<u32>(state, 16) + e, 16);
}

/** Loads 64 bytes at `src` as 16 big-endian words into `dst`. */
export function loadBlockBE(src: usize, dst: usize): void {
  for (let i: usize = 0; i < 64; i += 4) {
    store<u32>(dst + i, bswap<u32>(load<u32>(src + i)));
  }
}

/**
 * SHA-1 of `len` bytes at `msg`, written as 5 words (numbers) to `out`.
 * Used only for keys longer than a block, so it favours clarity over speed.
 */
export function sha1Digest(msg: usize, len: u32, out: usize): void {
  sha1Init(out);
  digest64(msg, len, out, sha1Compress);
}

/**
 * The whole-message loop of a hash with 64-byte blocks and a 64-bit big-endian bit length
 * (SHA-1, SHA-256): `len` bytes at `msg` into the state at `out` (already initialised), one
 * `compress` per block; the scratch blocks are wiped after.
 */
export function digest64(msg: usize, len: u32, out: usize, compress: (state: usize, block: usize, out: usize) => void): void {
  let pos: u32 = 0;
  while (len - pos >= 64) {
    loadBlockBE(msg + pos, MSG_PTR);
    compress(out, MSG_PTR, out);
    pos += 64;
  }
  // Final block(s): the remaining bytes, 0x80, zeros, the bit length as a 64-bit big-endian.
  const rest = len - pos;
  memory.fill(BLOCK_PTR, 0, 64);
  memory.copy(BLOCK_PTR, msg + pos, rest);
  store<u8>(BLOCK_PTR + rest, 0x80);
  if (rest >= 56) {
    loadBlockBE(BLOCK_PTR, MSG_PTR);
    compress(out, MSG_PTR, out);
    memory.fill(BLOCK_PTR, 0, 64);
  }
  store<u64>(BLOCK_PTR + 56, bswap<u64>(<u64>len << 3));
  loadBlockBE(BLOCK_PTR, MSG_PTR);
  compress(out, MSG_PTR, out);
  memory.fill(BLOCK_PTR, 0, 64);
  memory.fill(MSG_PTR, 0, 64);
}
