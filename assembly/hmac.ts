// HMAC-SHA1 (RFC 2104) split at the midstates: the key's inner and outer padded blocks are
// compressed once per secret, and every message after that costs two compressions, not four.

import { BLOCK_PTR, MSG_PTR, DIGEST_PTR, W_PTR, X4_STATE_PTR, X4_MSG_PTR, X4_DIGEST_PTR, X4_KEYS_PTR, SHARED_KW_PTR } from "./layout";
import { sha1Init, sha1Compress, sha1Digest, loadBlockBE, SHA1_IV0, SHA1_IV1, SHA1_IV2, SHA1_IV3, SHA1_IV4 } from "./sha1";
import { sha1x4Compress, sha1x4CounterBlock, sha1x4CounterBlockShared, sha1x4DigestBlock } from "./sha1x4";
import { counterBlock, counterWords4, digestBlock, laneWords } from "./lanes";

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

/**
 * XORs the 64-byte block buffer with `pad` and loads it as big-endian words into the message
 * buffer (MSG_PTR): an HMAC key block of SHA-1 or SHA-256.
 */
export function padBlock(pad: u8): void {
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
  counterBlock(m, counter); // counter | 0x80 | zeros | 576
  sha1Compress(mid, m, out);
  digestBlock(m, out, 20); // inner digest (20 bytes) | 0x80 | zeros | 672
  sha1Compress(mid + 20, m, out);
}

/**
 * hmacSha1Counter for four lanes at once: lane l uses the midstates at ml and the u64 counter
 * at counters + 8l. The digests land at X4_DIGEST_PTR (word j of lane l at +16j+4l). The two
 * compressions are specialised for their fixed-shape blocks (see tools/gen-sha1x4.mjs).
 */
export function hmacSha1Counter4(m0: usize, m1: usize, m2: usize, m3: usize, counters: usize): void {
  // Inner: state from the inner midstates, block = counter | 0x80 | zeros | 576.
  sha1x4CounterBlock(
    laneWords(m0, m1, m2, m3, 0), laneWords(m0, m1, m2, m3, 4), laneWords(m0, m1, m2, m3, 8),
    laneWords(m0, m1, m2, m3, 12), laneWords(m0, m1, m2, m3, 16),
    counterWords4(counters, true), counterWords4(counters, false), X4_DIGEST_PTR,
  );
  outer4(m0, m1, m2, m3);
}

/** The outer compression of four lanes: state from the outer midstates, block = inner digest at X4_DIGEST_PTR | 0x80 | zeros | 672. */
// @ts-ignore: decorator
@inline function outer4(m0: usize, m1: usize, m2: usize, m3: usize): void {
  sha1x4DigestBlock(
    laneWords(m0, m1, m2, m3, 20), laneWords(m0, m1, m2, m3, 24), laneWords(m0, m1, m2, m3, 28),
    laneWords(m0, m1, m2, m3, 32), laneWords(m0, m1, m2, m3, 36),
    v128.load(X4_DIGEST_PTR, 0), v128.load(X4_DIGEST_PTR, 16), v128.load(X4_DIGEST_PTR, 32),
    v128.load(X4_DIGEST_PTR, 48), v128.load(X4_DIGEST_PTR, 64), X4_DIGEST_PTR,
  );
}

/**
 * Writes to SHARED_KW_PTR, for all 80 rounds of SHA-1 over the inner HMAC block of `counter`,
 * K + W splatted to four lanes: what sha1x4CounterBlockShared adds in each round.
 */
export function counterScheduleKW(counter: u64): void {
  counterBlock(MSG_PTR, counter);
  for (let t: usize = 0; t < 16; t++) store<u32>(W_PTR + (t << 2), load<u32>(MSG_PTR + (t << 2)));
  for (let t: usize = 16; t < 80; t++) {
    const x = load<u32>(W_PTR + ((t - 3) << 2)) ^ load<u32>(W_PTR + ((t - 8) << 2)) ^
      load<u32>(W_PTR + ((t - 14) << 2)) ^ load<u32>(W_PTR + ((t - 16) << 2));
    store<u32>(W_PTR + (t << 2), rotl<u32>(x, 1));
  }
  for (let t: usize = 0; t < 80; t++) {
    const k: u32 = t < 20 ? 0x5a827999 : t < 40 ? 0x6ed9eba1 : t < 60 ? 0x8f1bbcdc : 0xca62c1d6;
    v128.store(SHARED_KW_PTR + (t << 4), i32x4.splat(load<u32>(W_PTR + (t << 2)) + k));
  }
}

/**
 * hmacSha1Counter4 for four lanes that share one counter, whose K + W are at SHARED_KW_PTR
 * (counterScheduleKW): the inner compression reads its schedule instead of computing it.
 */
export function hmacSha1Counter4Shared(m0: usize, m1: usize, m2: usize, m3: usize): void {
  sha1x4CounterBlockShared(
    laneWords(m0, m1, m2, m3, 0), laneWords(m0, m1, m2, m3, 4), laneWords(m0, m1, m2, m3, 8),
    laneWords(m0, m1, m2, m3, 12), laneWords(m0, m1, m2, m3, 16), SHARED_KW_PTR, X4_DIGEST_PTR,
  );
  outer4(m0, m1, m2, m3);
}

/** One padded key block per lane, XORed with `pad`, as the SIMD message ring. */
function keyRing4(pad: u32): void {
  const p = i32x4.splat(pad);
  for (let j: usize = 0; j < 16; j++) {
    const o = j << 2;
    let v = i32x4.splat(bswap<u32>(load<u32>(X4_KEYS_PTR + o)));
    v = i32x4.replace_lane(v, 1, bswap<u32>(load<u32>(X4_KEYS_PTR + 64 + o)));
    v = i32x4.replace_lane(v, 2, bswap<u32>(load<u32>(X4_KEYS_PTR + 128 + o)));
    v = i32x4.replace_lane(v, 3, bswap<u32>(load<u32>(X4_KEYS_PTR + 192 + o)));
    v128.store(X4_MSG_PTR + (j << 4), v128.xor(v, p));
  }
}

/** The SHA-1 IV in all four lanes, at X4_STATE_PTR. */
function ivState4(): void {
  v128.store(X4_STATE_PTR, i32x4.splat(SHA1_IV0), 0);
  v128.store(X4_STATE_PTR, i32x4.splat(SHA1_IV1), 16);
  v128.store(X4_STATE_PTR, i32x4.splat(SHA1_IV2), 32);
  v128.store(X4_STATE_PTR, i32x4.splat(SHA1_IV3), 48);
  v128.store(X4_STATE_PTR, i32x4.splat(SHA1_IV4), 64);
}

/** Writes lane l of the SIMD digest (5 words) to `dst`. */
// @ts-ignore: decorator
@inline function scatterLane(dst: usize, l: usize): void {
  for (let j: usize = 0; j < 5; j++) store<u32>(dst + (j << 2), load<u32>(X4_DIGEST_PTR + (j << 4) + (l << 2)));
}

/**
 * hmacSha1Midstates for four keys of at most 64 bytes at once. The keys must already be
 * copied, zero-padded, into the four 64-byte blocks at X4_KEYS_PTR; midstates go to m0..m3.
 * The key blocks are zeroed afterwards.
 */
export function hmacSha1Midstates4(m0: usize, m1: usize, m2: usize, m3: usize): void {
  keyRing4(0x36363636);
  ivState4();
  sha1x4Compress(X4_STATE_PTR, X4_DIGEST_PTR);
  scatterLane(m0, 0); scatterLane(m1, 1); scatterLane(m2, 2); scatterLane(m3, 3);
  keyRing4(0x5c5c5c5c);
  ivState4();
  sha1x4Compress(X4_STATE_PTR, X4_DIGEST_PTR);
  scatterLane(m0 + 20, 0); scatterLane(m1 + 20, 1); scatterLane(m2 + 20, 2); scatterLane(m3 + 20, 3);
  memory.fill(X4_KEYS_PTR, 0, 256);
  memory.fill(X4_MSG_PTR, 0, 256);
}
