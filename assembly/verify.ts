// The batch kernels: one call per batch, items laid out struct-of-arrays (see layout.ts).
//
// verifyBatch (SIMD, four lanes) and verifyBatchScalar (the reference) try candidates in the
// order T, T-1, T+1, T-2, T+2, ... and stop at the first match at or above the item's floor:
// real traffic is mostly valid codes at delta 0, and which step matched is reported to the
// caller anyway, so it is not a secret. A match below the floor (a used step) does not stop
// the search, so a used step never hides an unused one with the same code (R5). The comparison
// of a candidate with the code is constant-time. Nothing here traps on data: a bad item gets RESULT_MALFORMED.

import {
  MAX_ITEMS, MID_PTR, MID_STRIDE, COUNTER_PTR, CODE_PTR, PARAMS_PTR, RESULT_PTR,
  KEY_OFF_PTR, KEY_LEN_PTR, KEY_POOL_PTR, KEY_POOL_SIZE, MAX_KEY_BYTES, MAX_WINDOW,
  ALG_SHA1, PARAM_DIGITS_SHIFT, PARAM_PAST_SHIFT, PARAM_FUTURE_SHIFT, PARAM_ALG_SHIFT,
  PARAM_MID_READY, PARAM_KEY_BAD, PARAM_SKIP, RESULT_NO_MATCH, RESULT_MALFORMED, RESULT_REPLAYED,
  FLOOR_PTR, FLOOR_BIAS, SCRATCH_PTR, SCRATCH_SIZE,
  LANE_ITEM_PTR, LANE_CURSOR_PTR, LANE_DELTA_PTR, LANE_COUNTER_PTR, X4_DIGEST_PTR, X4_KEYS_PTR,
} from "./layout";
import { hmacSha1Midstates, hmacSha1Midstates4, hmacSha1Counter4 } from "./hmac";
import { hotpCode, pow10, truncate } from "./hotp";

// @ts-ignore: decorator
@inline function clampCount(n: u32): usize {
  return <usize>n > MAX_ITEMS ? MAX_ITEMS : <usize>n;
}

/** 1 when a == b, else 0, without a data-dependent branch. */
// @ts-ignore: decorator
@inline export function ctEq(a: u32, b: u32): u32 {
  const x = a ^ b;
  return ((x | (0 - x)) >>> 31) ^ 1;
}

/**
 * Computes the midstates of items 0..n-1 from their raw keys in the key pool, except items
 * flagged PARAM_MID_READY. A key slot outside the pool, or longer than MAX_KEY_BYTES, sets
 * PARAM_KEY_BAD on the item instead. Keys of at most one block go four at a time through the
 * SIMD path; longer keys (hashed first) and the last few take the scalar path.
 * Returns the number of keys derived.
 */
export function deriveKeys(n: u32): u32 {
  const count = clampCount(n);
  let derived: u32 = 0;
  let lanes: usize = 0;
  let m0: usize = 0, m1: usize = 0, m2: usize = 0;
  for (let i: usize = 0; i < count; i++) {
    const pp = PARAMS_PTR + (i << 2);
    const params = load<u32>(pp);
    if (params & PARAM_MID_READY) continue;
    const off = load<u32>(KEY_OFF_PTR + (i << 2));
    const len = load<u32>(KEY_LEN_PTR + (i << 2));
    if (len == 0 || <usize>len > MAX_KEY_BYTES || <usize>off > KEY_POOL_SIZE || <usize>len > KEY_POOL_SIZE - off) {
      store<u32>(pp, params | PARAM_KEY_BAD);
      continue;
    }
    const mid = MID_PTR + i * MID_STRIDE;
    derived++;
    if (len > 64) {
      hmacSha1Midstates(KEY_POOL_PTR + off, len, mid);
      continue;
    }
    // Queue the key in lane `lanes`; four queued keys go through the SIMD path together.
    memory.copy(X4_KEYS_PTR + (lanes << 6), KEY_POOL_PTR + off, len);
    if (lanes == 0) m0 = mid;
    else if (lanes == 1) m1 = mid;
    else if (lanes == 2) m2 = mid;
    else {
      hmacSha1Midstates4(m0, m1, m2, mid);
      lanes = 0;
      continue;
    }
    lanes++;
  }
  // Fewer than four left: the scalar path, from the queued key blocks.
  for (let l: usize = 0; l < lanes; l++) {
    const mid = l == 0 ? m0 : l == 1 ? m1 : m2;
    hmacSha1Midstates(X4_KEYS_PTR + (l << 6), 64, mid);
  }
  memory.fill(X4_KEYS_PTR, 0, 256);
  return derived;
}

/** Digits of a valid params word, or 0 when the params are out of range. */
function checkedDigits(params: u32): u32 {
  if (params & (PARAM_KEY_BAD | PARAM_SKIP)) return 0;
  const digits = (params >>> PARAM_DIGITS_SHIFT) & 0xff;
  const past = (params >>> PARAM_PAST_SHIFT) & 0xff;
  const future = (params >>> PARAM_FUTURE_SHIFT) & 0xff;
  const alg = (params >>> PARAM_ALG_SHIFT) & 0xf;
  if (digits < 6 || digits > 8 || past > MAX_WINDOW || future > MAX_WINDOW || alg != ALG_SHA1) return 0;
  return digits;
}

/**
 * Digits of item i when it can be evaluated, with its result preset to RESULT_NO_MATCH;
 * otherwise writes RESULT_MALFORMED and returns 0.
 */
function startItem(i: usize): u32 {
  const digits = checkedDigits(load<u32>(PARAMS_PTR + (i << 2)));
  const rp = RESULT_PTR + (i << 2);
  if (digits == 0 || load<u32>(CODE_PTR + (i << 2)) >= pow10(digits)) {
    store<i32>(rp, RESULT_MALFORMED);
    return 0;
  }
  store<i32>(rp, RESULT_NO_MATCH);
  return digits;
}

/**
 * Records that item i's candidate at `delta` matched. Returns true when that decides the item
 * (the step is at or above the floor: RESULT is the delta); false when the step was used
 * already (RESULT becomes RESULT_REPLAYED unless a later candidate is accepted).
 */
// @ts-ignore: decorator
@inline function recordMatch(i: usize, delta: i32): bool {
  const rp = RESULT_PTR + (i << 2);
  if (<u32>(delta + <i32>FLOOR_BIAS) >= load<u32>(FLOOR_PTR + (i << 2))) {
    store<i32>(rp, delta);
    return true;
  }
  store<i32>(rp, RESULT_REPLAYED);
  return false;
}

/** No candidate left: the sentinel nextCandidate returns. */
const NO_CANDIDATE: i32 = 0x7fffffff;

/**
 * The next candidate delta of item i from the cursor at `cursorPtr` (advanced past it), in the
 * order 0, -1, +1, -2, +2, ...; deltas beyond the window or outside 0..2^64-1 are skipped.
 */
function nextCandidate(i: usize, cursorPtr: usize): i32 {
  const params = load<u32>(PARAMS_PTR + (i << 2));
  const past = (params >>> PARAM_PAST_SHIFT) & 0xff;
  const future = (params >>> PARAM_FUTURE_SHIFT) & 0xff;
  const last = (past > future ? past : future) << 1;
  const t = load<u64>(COUNTER_PTR + (i << 3));
  let j = load<u32>(cursorPtr);
  while (j <= last) {
    const k = (j + 1) >>> 1;
    const negative = (j & 1) != 0;
    j++;
    if (negative) {
      if (k <= past && t >= <u64>k) { store<u32>(cursorPtr, j); return -<i32>k; }
    } else if (k <= future && t <= <u64>-1 - <u64>k) {
      store<u32>(cursorPtr, j);
      return <i32>k;
    }
  }
  store<u32>(cursorPtr, j);
  return NO_CANDIDATE;
}

/**
 * Verifies items 0..n-1: for each, writes to RESULT the delta of the first candidate step
 * (in the order 0, -1, +1, -2, +2, ...) at or above the item's FLOOR whose code equals CODE;
 * or RESULT_REPLAYED (only steps below the floor matched), RESULT_NO_MATCH, or
 * RESULT_MALFORMED. Candidates outside 0..2^64-1 are skipped, never wrapped.
 *
 * Four lanes of SHA-1 run at once. Each lane holds one item and walks its candidates; a lane
 * whose item matched or ran out of candidates takes the next item, so lanes stay busy
 * whatever the mix of valid and invalid codes. Returns the number of matches.
 */
export function verifyBatch(n: u32): u32 {
  const count = clampCount(n);
  let next: usize = 0;
  let matches: u32 = 0;
  for (let l: usize = 0; l < 4; l++) store<i32>(LANE_ITEM_PTR + (l << 2), -1);
  while (true) {
    let active = 0;
    let firstActive: usize = 0;
    for (let l: usize = 0; l < 4; l++) {
      const itemPtr = LANE_ITEM_PTR + (l << 2);
      const cursorPtr = LANE_CURSOR_PTR + (l << 2);
      while (true) {
        let item = load<i32>(itemPtr);
        if (item < 0) {
          if (next >= count) break; // nothing left: the lane idles
          const i = next++;
          if (startItem(i) == 0) continue;
          item = <i32>i;
          store<i32>(itemPtr, item);
          store<u32>(cursorPtr, 0);
        }
        const delta = nextCandidate(<usize>item, cursorPtr);
        if (delta != NO_CANDIDATE) {
          const t = load<u64>(COUNTER_PTR + (<usize>item << 3));
          store<i32>(LANE_DELTA_PTR + (l << 2), delta);
          store<u64>(LANE_COUNTER_PTR + (l << 3), t + <u64>(<i64>delta));
          if (active == 0) firstActive = l;
          active++;
          break;
        }
        // Out of candidates: RESULT keeps NO_MATCH or REPLAYED from startItem / recordMatch.
        store<i32>(itemPtr, -1);
      }
    }
    if (active == 0) break;
    // Idle lanes hash a copy of an active lane's input; their output is ignored.
    const fallback = load<i32>(LANE_ITEM_PTR + (firstActive << 2));
    const m0 = lanePrepare(0, fallback, firstActive);
    const m1 = lanePrepare(1, fallback, firstActive);
    const m2 = lanePrepare(2, fallback, firstActive);
    const m3 = lanePrepare(3, fallback, firstActive);
    hmacSha1Counter4(m0, m1, m2, m3, LANE_COUNTER_PTR);
    for (let l: usize = 0; l < 4; l++) {
      const itemPtr = LANE_ITEM_PTR + (l << 2);
      const item = load<i32>(itemPtr);
      if (item < 0) continue;
      const i = <usize>item;
      const digits = (load<u32>(PARAMS_PTR + (i << 2)) >>> PARAM_DIGITS_SHIFT) & 0xff;
      const candidate = truncate(X4_DIGEST_PTR + (l << 2), 16) % pow10(digits);
      if (ctEq(candidate, load<u32>(CODE_PTR + (i << 2))) && recordMatch(i, load<i32>(LANE_DELTA_PTR + (l << 2)))) {
        store<i32>(itemPtr, -1);
        matches++;
      }
    }
  }
  return matches;
}

/** Midstate pointer of lane l for this round; an idle lane borrows the first active lane's input. */
// @ts-ignore: decorator
@inline function lanePrepare(l: usize, fallback: i32, firstActive: usize): usize {
  let item = load<i32>(LANE_ITEM_PTR + (l << 2));
  if (item < 0) {
    item = fallback;
    store<u64>(LANE_COUNTER_PTR + (l << 3), load<u64>(LANE_COUNTER_PTR + (firstActive << 3)));
  }
  return MID_PTR + <usize>item * MID_STRIDE;
}

/**
 * The scalar reference for verifyBatch: same contract, one candidate at a time. Kept for
 * tests (the SIMD path is checked against it) and as the plainest statement of the algorithm.
 */
export function verifyBatchScalar(n: u32): u32 {
  const count = clampCount(n);
  let matches: u32 = 0;
  for (let i: usize = 0; i < count; i++) {
    const digits = startItem(i);
    if (digits == 0) continue;
    const code = load<u32>(CODE_PTR + (i << 2));
    const mid = MID_PTR + i * MID_STRIDE;
    const cursor = LANE_CURSOR_PTR;
    store<u32>(cursor, 0);
    while (true) {
      const delta = nextCandidate(i, cursor);
      if (delta == NO_CANDIDATE) break;
      const t = load<u64>(COUNTER_PTR + (i << 3)) + <u64>(<i64>delta);
      if (ctEq(hotpCode(mid, t, digits), code) && recordMatch(i, delta)) {
        matches++;
        break;
      }
    }
  }
  return matches;
}

/**
 * Writes to RESULT the code (a number below 10^digits) of items 0..n-1 at their COUNTER,
 * or RESULT_MALFORMED. The window and CODE are ignored.
 */
export function generateBatch(n: u32): void {
  const count = clampCount(n);
  for (let i: usize = 0; i < count; i++) {
    const params = load<u32>(PARAMS_PTR + (i << 2));
    const digits = checkedDigits(params);
    const rp = RESULT_PTR + (i << 2);
    if (digits == 0) {
      store<i32>(rp, RESULT_MALFORMED);
      continue;
    }
    const t = load<u64>(COUNTER_PTR + (i << 3));
    store<i32>(rp, <i32>hotpCode(MID_PTR + i * MID_STRIDE, t, digits));
  }
}

/**
 * Zeroes every secret-bearing region used by items 0..n-1: their midstates, codes, results and key
 * bytes (up to the furthest key slot they name), and the scratch area. Called after each
 * batch so that no secret outlives its batch here.
 */
export function wipe(n: u32): void {
  const count = clampCount(n);
  let keyEnd: usize = 0;
  for (let i: usize = 0; i < count; i++) {
    const end = <usize>load<u32>(KEY_OFF_PTR + (i << 2)) + <usize>load<u32>(KEY_LEN_PTR + (i << 2));
    if (end > keyEnd) keyEnd = end;
  }
  memory.fill(MID_PTR, 0, count * MID_STRIDE);
  memory.fill(CODE_PTR, 0, count << 2);
  memory.fill(RESULT_PTR, 0, count << 2); // generateBatch leaves codes here
  memory.fill(FLOOR_PTR, 0, count << 2);
  memory.fill(KEY_POOL_PTR, 0, keyEnd < KEY_POOL_SIZE ? keyEnd : KEY_POOL_SIZE);
  memory.fill(KEY_OFF_PTR, 0, count << 2);
  memory.fill(KEY_LEN_PTR, 0, count << 2);
  memory.fill(SCRATCH_PTR, 0, SCRATCH_SIZE);
}
