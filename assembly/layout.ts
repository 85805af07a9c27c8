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
//   │ MID_PTR                                    │ midstates      MID_STRIDE bytes: inner state (5 u32), then
//   │                                            │                outer state (5 u32) of HMAC-SHA1
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
//   bits 24..27  algorithm (ALG_SHA1 only, for now)
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
export const LAYOUT_VERSION: u32 = 3;

/** Items per kernel call. A multiple of 4 so that SIMD lanes never straddle the end. */
export const MAX_ITEMS: usize = 8192;
/**
 * Bytes of midstate per item: SHA-1's inner and outer states. Kept tight because midstates
 * travel with every batch (from the key cache, to workers); wider hashes will need a wider
 * stride and a new LAYOUT_VERSION.
 */
export const MID_STRIDE: usize = 40;
/** Longest raw secret accepted, in bytes. Longer than a hash block is hashed first (RFC 2104). */
export const MAX_KEY_BYTES: usize = 256;
/** Bytes of raw secrets one call can carry. */
export const KEY_POOL_SIZE: usize = 512 * 1024;
/** Largest window on either side of T. */
export const MAX_WINDOW: u32 = 10;

export const ALG_SHA1: u32 = 0;

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
/** SIMD lane scheduler: per lane, the item (i32, -1 idle) and its candidate cursor (u32). */
// @ts-ignore: decorator
@inline export const LANE_ITEM_PTR: usize = SCRATCH_PTR + 928;
// @ts-ignore: decorator
@inline export const LANE_CURSOR_PTR: usize = SCRATCH_PTR + 944;
/** SIMD lane scheduler: per lane, this round's delta (i32) and counter (u64). */
// @ts-ignore: decorator
@inline export const LANE_DELTA_PTR: usize = SCRATCH_PTR + 960;
// @ts-ignore: decorator
@inline export const LANE_COUNTER_PTR: usize = SCRATCH_PTR + 976;
/** SIMD key derivation: four zero-padded 64-byte key blocks, one per lane. */
// @ts-ignore: decorator
@inline export const X4_KEYS_PTR: usize = SCRATCH_PTR + 1024;

/** True when static data fits below REGION_BASE and memory reaches LAYOUT_END. */
export function layoutOk(): bool {
  return __heap_base <= REGION_BASE && (<usize>memory.size() << 16) >= LAYOUT_END;
}
