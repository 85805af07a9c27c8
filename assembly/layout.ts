// The batch ABI: where every region of linear memory lives, and what each slot means.
//
// The TypeScript side never hard-codes an offset: it reads the exported globals below and
// refuses to run if LAYOUT_VERSION is not the one it was written for. Change the layout,
// bump the version.
//
//   offset (bytes)                                 region         per item (struct-of-arrays)
//   ┌────────────────────────────────────────────┐
//   │ 0 .. REGION_BASE                           │ static data    (AssemblyScript's own; tiny)
//   ├────────────────────────────────────────────┤
//   │ MID_PTR                                    │ midstates      one slot of the call's mid stride per item (see
//   │                                            │                setMidStride): HMAC inner state, then outer
//   │                                            │                state: SHA-1 5 + 5 u32 (40 bytes), SHA-256
//   │                                            │                8 + 8 u32 (64), SHA-512 8 + 8 u64 (128)
//   │ COUNTER_PTR                                │ counter        u64: HOTP counter / TOTP step T
//   │ CODE_PTR                                   │ code           u32: the code the user typed, as a number
//   │ PARAMS_PTR                                 │ params         u32: see PARAM_* below
//   │ RESULT_PTR                                 │ result         i32: matched delta, or RESULT_* sentinel
//   │ FLOOR_PTR                                  │ floor          u32: lowest delta that may be accepted, + FLOOR_BIAS
//   │ KEY_OFF_PTR                                │ key offset     u32: byte offset of the raw key in KEY_POOL
//   │ KEY_LEN_PTR                                │ key length     u32: its length in bytes
//   │ KEY_POOL_PTR                               │ key pool       raw secret bytes, KEY_POOL_SIZE in all
//   │ SCRATCH_PTR                                │ scratch        message schedule and block buffers
//   └────────────────────────────────────────────┘ LAYOUT_END (the module's fixed memory is at least this)
//
// params word (u32):
//   bits  0..7   digits (6, 7 or 8)
//   bits  8..15  window past   (steps before T, 0..MAX_WINDOW)
//   bits 16..23  window future (steps after T, 0..MAX_WINDOW)
//   bits 24..27  algorithm: ALG_SHA1, ALG_SHA256 or ALG_SHA512
//   bit  29      PARAM_SKIP: the host has decided this item (a locked account): it is not evaluated
//   bit  30      PARAM_MID_READY: the midstates are already in MID (from a key cache); skip derivation
//   bit  31      PARAM_KEY_BAD: set by deriveKeys when the key slot is out of bounds; the item is malformed
//
// floor word (u32): replay protection's view of the window. A candidate at delta d may be accepted
// only when d + FLOOR_BIAS >= floor; below that its step was used already. 0 (what a zeroed
// buffer holds) accepts every delta; the host writes (high-water mark - T + 1) + FLOOR_BIAS,
// clamped to 0..2 * FLOOR_BIAS.
//
// result word (i32): the matched delta (candidate step minus T, in -past..+future) of the first
// candidate at or above the floor, in the order 0, -1, +1, -2, +2, ...; or RESULT_REPLAYED when
// only candidates below the floor matched (a used step never hides an unused one: RFC 6238 §5.2,
// SECURITY.md R5); or RESULT_NO_MATCH / RESULT_MALFORMED. generateBatch writes the code itself
// (0..10^digits - 1).

/** Bumped whenever anything in this file changes meaning. */
export const LAYOUT_VERSION: u32 = 4;

/** Items per kernel call. A multiple of 4 so that SIMD lanes never straddle the end. */
export const MAX_ITEMS: usize = 8192;
/**
 * The largest midstate slot per item: SHA-512's inner and outer states (2 x 64 bytes); the
 * MID region holds MAX_ITEMS of them. A call may use a narrower slot (setMidStride: 40 for
 * SHA-1 only, 64 up to SHA-256), so that SHA-1 batches, the common case, carry and copy
 * 40 bytes per item, not 128. An item whose hash needs more than the call's slot is malformed.
 */
export const MID_STRIDE: usize = 128;
/** Midstate bytes each hash uses. */
export const MID_BYTES_SHA1: usize = 40;
export const MID_BYTES_SHA256: usize = 64;
export const MID_BYTES_SHA512: usize = 128;
/** Longest raw secret accepted, in bytes. Longer than a hash block is hashed first (RFC 2104). */
export const MAX_KEY_BYTES: usize = 256;
/** Bytes of raw secrets one call can carry. */
export const KEY_POOL_SIZE: usize = 512 * 1024;
/** Largest window on either side of T. */
export const MAX_WINDOW: u32 = 10;

export const ALG_SHA1: u32 = 0;
export const ALG_SHA256: u32 = 1;
export const ALG_SHA512: u32 = 2;

export const PARAM_DIGITS_SHIFT: u32 = 0;
export const PARAM_PAST_SHIFT: u32 = 8;
export const PARAM_FUTURE_SHIFT: u32 = 16;
export const PARAM_ALG_SHIFT: u32 = 24;
export const PARAM_SKIP: u32 = 1 << 29;
export const PARAM_MID_READY: u32 = 1 << 30;
export const PARAM_KEY_BAD: u32 = 1 << 31;

/** No candidate in the window matched. */
export const RESULT_NO_MATCH: i32 = 0x40000000;
/** The item could not be evaluated (bad digits, window, code range or key slot), or was skipped. */
export const RESULT_MALFORMED: i32 = 0x40000001;
/** The code matched only steps below the floor: steps already used. */
export const RESULT_REPLAYED: i32 = 0x40000002;
/** Added to a delta before it is compared with the floor word, so that 0 means "no floor". */
export const FLOOR_BIAS: u32 = MAX_WINDOW + 1;

/** Everything below this is AssemblyScript's static data; checked by `layoutOk()`. */
export const REGION_BASE: usize = 64 * 1024;

export const MID_PTR: usize = REGION_BASE;
export const COUNTER_PTR: usize = MID_PTR + MAX_ITEMS * MID_STRIDE;
export const CODE_PTR: usize = COUNTER_PTR + MAX_ITEMS * 8;
export const PARAMS_PTR: usize = CODE_PTR + MAX_ITEMS * 4;
export const RESULT_PTR: usize = PARAMS_PTR + MAX_ITEMS * 4;
export const FLOOR_PTR: usize = RESULT_PTR + MAX_ITEMS * 4;
export const KEY_OFF_PTR: usize = FLOOR_PTR + MAX_ITEMS * 4;
export const KEY_LEN_PTR: usize = KEY_OFF_PTR + MAX_ITEMS * 4;
export const KEY_POOL_PTR: usize = KEY_LEN_PTR + MAX_ITEMS * 4;
export const SCRATCH_PTR: usize = KEY_POOL_PTR + KEY_POOL_SIZE;
export const SCRATCH_SIZE: usize = 4096;
export const LAYOUT_END: usize = SCRATCH_PTR + SCRATCH_SIZE;

// Scratch sub-regions (internal to the core; not part of the ABI the host sees).
/** 80-word SHA-1 message schedule. */
// @ts-ignore: decorator
@inline export const W_PTR: usize = SCRATCH_PTR;
/** 64-byte block buffer (key padding, digests as bytes). */
// @ts-ignore: decorator
@inline export const BLOCK_PTR: usize = SCRATCH_PTR + 320;
/** 16-word message block for compressions. */
// @ts-ignore: decorator
@inline export const MSG_PTR: usize = SCRATCH_PTR + 384;
/** 5-word state buffer. */
// @ts-ignore: decorator
@inline export const STATE_PTR: usize = SCRATCH_PTR + 448;
/** 5-word digest buffer. */
// @ts-ignore: decorator
@inline export const DIGEST_PTR: usize = SCRATCH_PTR + 480;
/** SIMD: 5 x v128 state, 16 x v128 message ring, 5 x v128 digest (4 lanes each). */
// @ts-ignore: decorator
@inline export const X4_STATE_PTR: usize = SCRATCH_PTR + 512;
// @ts-ignore: decorator
@inline export const X4_MSG_PTR: usize = SCRATCH_PTR + 592;
// @ts-ignore: decorator
@inline export const X4_DIGEST_PTR: usize = SCRATCH_PTR + 848;
/** SIMD lane scheduler: this round's counter (u64) per lane. */
// @ts-ignore: decorator
@inline export const LANE_COUNTER_PTR: usize = SCRATCH_PTR + 976;
/** SIMD key derivation: four zero-padded 64-byte key blocks, one per lane. */
// @ts-ignore: decorator
@inline export const X4_KEYS_PTR: usize = SCRATCH_PTR + 1024;

/** SHA-512: 80-u64 message schedule. */
// @ts-ignore: decorator
@inline export const W64_PTR: usize = SCRATCH_PTR + 1280;
/** SHA-512: 128-byte block buffer (key padding, message tail). */
// @ts-ignore: decorator
@inline export const BLOCK128_PTR: usize = SCRATCH_PTR + 1920;
/** SHA-512: 16-u64 message block for compressions. */
// @ts-ignore: decorator
@inline export const MSG64_PTR: usize = SCRATCH_PTR + 2048;
/** SHA-256/512: digest as big-endian u32 words (up to 16), for truncation. */
// @ts-ignore: decorator
@inline export const DIGEST2_PTR: usize = SCRATCH_PTR + 2176;
/** SHA-256/512: hashed long key / inner digest (up to 8 u64). */
// @ts-ignore: decorator
@inline export const TMP64_PTR: usize = SCRATCH_PTR + 2240;
/** The scalar path's candidate cursor (u32), apart from the SIMD lanes' own. */
// @ts-ignore: decorator
@inline export const SCALAR_CURSOR_PTR: usize = SCRATCH_PTR + 2304;
/** SIMD SHA-256: 8 x v128 state and 8 x v128 digest (word j of lane l at +16j+4l). */
// @ts-ignore: decorator
@inline export const X8_STATE_PTR: usize = SCRATCH_PTR + 2320;
// @ts-ignore: decorator
@inline export const X8_DIGEST_PTR: usize = SCRATCH_PTR + 2448;
/** SIMD SHA-1: K + W of the inner block of one counter for all 80 rounds (80 x v128, splatted). */
// @ts-ignore: decorator
@inline export const SHARED_KW_PTR: usize = SCRATCH_PTR + 2576;

/** True when static data fits below REGION_BASE and memory reaches LAYOUT_END. */
export function layoutOk(): bool {
  return __heap_base <= REGION_BASE && (<usize>memory.size() << 16) >= LAYOUT_END;
}
