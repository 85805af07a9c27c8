// HMAC-SHA256 and HMAC-SHA512 (RFC 2104) split at the midstates, like hmac.ts for SHA-1: the
// key's inner and outer padded blocks are compressed once per secret, and every HOTP counter
// after that costs two compressions. Scalar; SHA-512 in i64.
//
// Digests are written as big-endian u32 words (SHA-512's u64 split high word first), the form
// hotp.ts truncates.

import { BLOCK_PTR, MSG_PTR, BLOCK128_PTR, MSG64_PTR, TMP64_PTR } from "./layout";
import { sha256Init, sha256Compress, sha256Digest } from "./sha256";
import { sha512Init, sha512Compress, sha512Digest, loadBlock64BE } from "./sha512";
import { counterBlock, digestBlock } from "./lanes";
import { padBlock } from "./hmac";

/**
 * HMAC-SHA256 midstates of the `len`-byte key at `key` into `mid`: words 0..7 the inner
 * state, words 8..15 the outer state. A key longer than the 64-byte block is hashed first.
 */
export function hmacSha256Midstates(key: usize, len: u32, mid: usize): void {
  memory.fill(BLOCK_PTR, 0, 64);
  if (len > 64) {
    sha256Digest(key, len, TMP64_PTR);
    for (let i: usize = 0; i < 32; i += 4) store<u32>(BLOCK_PTR + i, bswap<u32>(load<u32>(TMP64_PTR + i)));
    memory.fill(TMP64_PTR, 0, 32);
  } else {
    memory.copy(BLOCK_PTR, key, len);
  }
  padBlock(0x36);
  sha256Init(mid);
  sha256Compress(mid, MSG_PTR, mid);
  padBlock(0x36 ^ 0x5c); // K0 ^ ipad ^ ipad ^ opad = K0 ^ opad
  sha256Init(mid + 32);
  sha256Compress(mid + 32, MSG_PTR, mid + 32);
  memory.fill(BLOCK_PTR, 0, 64);
  memory.fill(MSG_PTR, 0, 64);
}

/** HMAC-SHA256 of the 8-byte counter from midstates; the digest (8 words) to `out`. */
export function hmacSha256Counter(mid: usize, counter: u64, out: usize): void {
  const m = MSG_PTR;
  counterBlock(m, counter); // counter | 0x80 | zeros | 576
  sha256Compress(mid, m, out);
  digestBlock(m, out, 32); // inner digest (32 bytes) | 0x80 | zeros | 768
  sha256Compress(mid + 32, m, out);
  memory.fill(m, 0, 64);
}

/**
 * HMAC-SHA512 midstates of the `len`-byte key at `key` into `mid`: u64 0..7 the inner state,
 * u64 8..15 the outer state. A key longer than the 128-byte block is hashed first.
 */
export function hmacSha512Midstates(key: usize, len: u32, mid: usize): void {
  memory.fill(BLOCK128_PTR, 0, 128);
  if (len > 128) {
    sha512Digest(key, len, TMP64_PTR);
    for (let i: usize = 0; i < 64; i += 8) store<u64>(BLOCK128_PTR + i, bswap<u64>(load<u64>(TMP64_PTR + i)));
    memory.fill(TMP64_PTR, 0, 64);
  } else {
    memory.copy(BLOCK128_PTR, key, len);
  }
  pad128(0x36);
  sha512Init(mid);
  sha512Compress(mid, MSG64_PTR, mid);
  pad128(0x36 ^ 0x5c);
  sha512Init(mid + 64);
  sha512Compress(mid + 64, MSG64_PTR, mid + 64);
  memory.fill(BLOCK128_PTR, 0, 128);
  memory.fill(MSG64_PTR, 0, 128);
}

/** XORs the 128-byte block buffer with `pad` and loads it as big-endian u64 into MSG64_PTR. */
function pad128(pad: u8): void {
  for (let i: usize = 0; i < 128; i++) store<u8>(BLOCK128_PTR + i, load<u8>(BLOCK128_PTR + i) ^ pad);
  loadBlock64BE(BLOCK128_PTR, MSG64_PTR);
}

/** HMAC-SHA512 of the 8-byte counter from midstates; the digest as 16 big-endian u32 words to `out`. */
export function hmacSha512Counter(mid: usize, counter: u64, out: usize): void {
  const m = MSG64_PTR;
  const inner = TMP64_PTR;
  // Inner block: counter | 0x80 | zeros | 128-bit length of key block + 8 bytes = 1088.
  store<u64>(m, counter, 0);
  store<u64>(m, 0x8000000000000000, 8);
  for (let i: usize = 16; i < 120; i += 8) store<u64>(m + i, 0);
  store<u64>(m, 1088, 120);
  sha512Compress(mid, m, inner);
  // Outer block: inner digest (64 bytes) | 0x80 | zeros | length 128 + 64 bytes = 1536.
  for (let i: usize = 0; i < 64; i += 8) store<u64>(m + i, load<u64>(inner + i));
  store<u64>(m, 0x8000000000000000, 64);
  for (let i: usize = 72; i < 120; i += 8) store<u64>(m + i, 0);
  store<u64>(m, 1536, 120);
  sha512Compress(mid + 64, m, inner);
  for (let j: usize = 0; j < 8; j++) {
    const x = load<u64>(inner + (j << 3));
    store<u32>(out + (j << 3), <u32>(x >>> 32));
    store<u32>(out + (j << 3) + 4, <u32>x);
  }
  memory.fill(m, 0, 128);
  memory.fill(inner, 0, 64);
}
