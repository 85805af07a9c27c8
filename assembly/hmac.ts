// HMAC-SHA1 (RFC 2104) split at the midstates: the key's inner and outer padded blocks are
// compressed once per secret, and every message after that costs two compressions, not four.

import { BLOCK_PTR, MSG_PTR, DIGEST_PTR } from "./layout";
import { sha1Init, sha1Compress, sha1Digest, loadBlockBE } from "./sha1";

const IPAD: u8 = 0x36;
const OPAD: u8 = 0x5c;

/**
 * Derives the HMAC-SHA1 midstates of the `len`-byte key at `key` into `mid`:
 * words 0..4 the inner state (after the key ^ ipad block), words 5..9 the outer state.
 */
export function hmacSha1Midstates(key: usize, len: u32, mid: usize): void {
  // K0: the key, or its digest when longer than a block, zero-padded to 64 bytes.
  memory.fill(BLOCK_PTR, 0, 64);
  if (len > 64) {
    sha1Digest(key, len, DIGEST_PTR);
    for (let i: usize = 0; i < 20; i += 4) {
      store<u32>(BLOCK_PTR + i, bswap<u32>(load<u32>(DIGEST_PTR + i)));
    }
    memory.fill(DIGEST_PTR, 0, 20);
  } else {
    memory.copy(BLOCK_PTR, key, len);
  }
  padBlock(IPAD);
  sha1Init(mid);
  sha1Compress(mid, MSG_PTR, mid);
  padBlock(IPAD ^ OPAD); // K0 ^ ipad ^ ipad ^ opad = K0 ^ opad
  sha1Init(mid + 20);
  sha1Compress(mid + 20, MSG_PTR, mid + 20);
  // Leave no key material in scratch.
  memory.fill(BLOCK_PTR, 0, 64);
  memory.fill(MSG_PTR, 0, 64);
}

/** XORs the 64-byte block buffer with `pad` and loads it as words into the message buffer. */
function padBlock(pad: u8): void {
  for (let i: usize = 0; i < 64; i++) {
    store<u8>(BLOCK_PTR + i, load<u8>(BLOCK_PTR + i) ^ pad);
  }
  loadBlockBE(BLOCK_PTR, MSG_PTR);
}

/**
 * HMAC-SHA1 of an 8-byte message (the HOTP counter) from midstates, digest (5 words) to `out`.
 * Both padded blocks are fixed apart from their first words, so they are built in place.
 */
export function hmacSha1Counter(mid: usize, counter: u64, out: usize): void {
  const m = MSG_PTR;
  // Inner block: counter (8 bytes) | 0x80 | zeros | bit length of ipad block + 8 bytes = 576.
  store<u32>(m, <u32>(counter >>> 32), 0);
  store<u32>(m, <u32>counter, 4);
  store<u32>(m, 0x80000000, 8);
  for (let i: usize = 12; i < 60; i += 4) store<u32>(m + i, 0);
  store<u32>(m, 576, 60);
  sha1Compress(mid, m, out);
  // Outer block: inner digest (20 bytes) | 0x80 | zeros | bit length 64 + 20 bytes = 672.
  for (let i: usize = 0; i < 20; i += 4) store<u32>(m + i, load<u32>(out + i));
  store<u32>(m, 0x80000000, 20);
  for (let i: usize = 24; i < 60; i += 4) store<u32>(m + i, 0);
  store<u32>(m, 672, 60);
  sha1Compress(mid + 20, m, out);
}
