// The batch kernels: one call per batch, items laid out struct-of-arrays (see layout.ts).
//
// verifyBatch (SIMD, four lanes) and verifyBatchScalar (the reference) try candidates in the
// order T, T-1, T+1, T-2, T+2, ... and stop at the first match at or above the item's floor:
// real traffic is mostly valid codes at delta 0, and which step matched is reported to the
// caller anyway, so it is not a secret. A match below the floor (a used step) does not stop
// the search, so a used step never hides an unused one with the same code (R5). The comparison
// of a candidate with the code is constant-time. Nothing here traps on data: a bad item gets RESULT_MALFORMED.
//
// Each item names its hash in its params word, so one call can mix them. SHA-1 and SHA-256
// items go through four-lane SIMD paths (one pass each); SHA-512 items are evaluated on the
// scalar path when the SHA-1 pass starts them. Keys other than SHA-1's are derived scalar.

import {
  MAX_ITEMS, MID_PTR, MID_STRIDE, MID_BYTES_SHA1, MID_BYTES_SHA256, MID_BYTES_SHA512, COUNTER_PTR, CODE_PTR, PARAMS_PTR, RESULT_PTR,
  KEY_OFF_PTR, KEY_LEN_PTR, KEY_POOL_PTR, KEY_POOL_SIZE, MAX_KEY_BYTES, MAX_WINDOW,
  ALG_SHA1, ALG_SHA256, ALG_SHA512, PARAM_DIGITS_SHIFT, PARAM_PAST_SHIFT, PARAM_FUTURE_SHIFT, PARAM_ALG_SHIFT,
  PARAM_MID_READY, PARAM_KEY_BAD, PARAM_SKIP, RESULT_NO_MATCH, RESULT_MALFORMED, RESULT_REPLAYED,
  FLOOR_PTR, FLOOR_BIAS, SCRATCH_PTR, SCRATCH_SIZE,
  SCALAR_CURSOR_PTR, X8_DIGEST_PTR, LANE_COUNTER_PTR, X4_DIGEST_PTR, X4_KEYS_PTR,
} from "./layout";
import { hmacSha1Midstates, hmacSha1Midstates4, hmacSha1Counter4, hmacSha1Counter4Shared, counterScheduleKW } from "./hmac";
import { hmacSha256Midstates, hmacSha512Midstates } from "./hmac2";
import { hotpCodeAlg, pow10, truncate, truncate256 } from "./hotp";
import { hmacSha256Counter4 } from "./sha256x4";

/**
 * Bytes of midstate per item in this instance's MID region, for every kernel until changed:
 * 40, 64 or MID_STRIDE (128). The one piece of state the core keeps between calls; the host
 * sets it with each chunk it loads.
 */
let midStride: usize = MID_STRIDE;

/**
 * Sets the midstate slot per item (bytes: 40, 64 or 128) for the following calls. Returns the
 * stride in force, or 0 (and leaves it unchanged) for any other value.
 */
export function setMidStride(bytes: u32): u32 {
  if (bytes == <u32>MID_BYTES_SHA1 || bytes == <u32>MID_BYTES_SHA256 || bytes == <u32>MID_BYTES_SHA512) {
    midStride = <usize>bytes;
    return bytes;
  }
  return 0;
}

/** Midstate bytes the hash `alg` needs (an unknown one: more than any slot). */
// @ts-ignore: decorator
@inline function midBytes(alg: u32): usize {
  return alg == ALG_SHA1 ? MID_BYTES_SHA1 : alg == ALG_SHA256 ? MID_BYTES_SHA256 : alg == ALG_SHA512 ? MID_BYTES_SHA512 : MID_STRIDE + 1;
}

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
 * PARAM_KEY_BAD on the item instead. SHA-1 keys of at most one block go four at a time
 * through the SIMD path; longer keys (hashed first), the last few, and SHA-256/512 keys take
 * the scalar path. An item with an unknown algorithm is left for startItem to refuse.
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
    const alg = (params >>> PARAM_ALG_SHIFT) & 0xf;
    // A hash whose midstates do not fit the call's slot would write into the next item's.
    if (midBytes(alg) > midStride) {
      store<u32>(pp, params | PARAM_KEY_BAD);
      continue;
    }
    const mid = MID_PTR + i * midStride;
    if (alg == ALG_SHA256) {
      hmacSha256Midstates(KEY_POOL_PTR + off, len, mid);
      derived++;
      continue;
    }
    if (alg == ALG_SHA512) {
      hmacSha512Midstates(KEY_POOL_PTR + off, len, mid);
      derived++;
      continue;
    }
    if (alg != ALG_SHA1) continue;
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
  if (digits < 6 || digits > 8 || past > MAX_WINDOW || future > MAX_WINDOW || midBytes(alg) > midStride) return 0;
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
 * Four lanes of SHA-1 run at once, in phases: phase 0 hashes every item's delta 0, four items
 * at a time; phase 1 the delta -1 of every item still undecided; phase 2 its +1; and so on.
 * Each item still meets its candidates in order, so the results are the scalar path's; lanes
 * stay full whatever the mix of valid and invalid codes, and the per-candidate bookkeeping is
 * a scan of the items, not a per-lane state machine. Returns the number of matches.
 */
export function verifyBatch(n: u32): u32 {
  const count = clampCount(n);
  // Two passes over the items: SHA-1 lanes (SHA-512 and malformed items answered on the way),
  // then SHA-256 lanes. Every item is answered by exactly one of them.
  return lanePass(count, ALG_SHA1) + lanePass(count, ALG_SHA256);
}

/** Index (0, 1, 2, ...) of the last candidate an item with these params may have. */
// @ts-ignore: decorator
@inline function lastCandidate(params: u32): u32 {
  const past = (params >>> PARAM_PAST_SHIFT) & 0xff;
  const future = (params >>> PARAM_FUTURE_SHIFT) & 0xff;
  return (past > future ? past : future) << 1;
}

/**
 * The four-lane scheduler for one hash (`pass`: ALG_SHA1 or ALG_SHA256). The SHA-1 pass takes
 * every item that is not SHA-256, evaluating SHA-512 items on the scalar path when it starts
 * them; the SHA-256 pass takes only SHA-256 items. Returns the number of matches.
 */
function lanePass(count: usize, pass: u32): u32 {
  let matches: u32 = 0;
  let phases: u32 = 0;
  kwValid = false; // scratch may have been wiped since the last call
  // Start every item of this pass: malformed ones are answered, SHA-512 ones verified on the
  // scalar path; the rest wait with RESULT_NO_MATCH for the phases.
  for (let i: usize = 0; i < count; i++) {
    const params = load<u32>(PARAMS_PTR + (i << 2));
    const alg = (params >>> PARAM_ALG_SHIFT) & 0xf;
    if ((alg == ALG_SHA256) != (pass == ALG_SHA256)) continue; // the other pass's item
    const digits = startItem(i);
    if (digits == 0) continue;
    if (alg != pass) {
      if (verifyItem(i, digits)) matches++;
      continue;
    }
    const last = lastCandidate(params) + 1;
    if (last > phases) phases = last;
  }
  for (let j: u32 = 0; j < phases; j++) {
    const k = (j + 1) >>> 1;
    const negative = (j & 1) != 0;
    const delta = negative ? -<i32>k : <i32>k;
    let lanes: u32 = 0;
    let i0: usize = 0, i1: usize = 0, i2: usize = 0;
    for (let i: usize = 0; i < count; i++) {
      // Undecided (no match yet, or only used steps) items of this pass with a candidate here.
      const r = load<i32>(RESULT_PTR + (i << 2));
      if (r != RESULT_NO_MATCH && r != RESULT_REPLAYED) continue;
      const params = load<u32>(PARAMS_PTR + (i << 2));
      const alg = (params >>> PARAM_ALG_SHIFT) & 0xf;
      if (alg != pass) continue;
      const t = load<u64>(COUNTER_PTR + (i << 3));
      if (negative) {
        if (k > ((params >>> PARAM_PAST_SHIFT) & 0xff) || t < <u64>k) continue;
      } else if (k > ((params >>> PARAM_FUTURE_SHIFT) & 0xff) || t > <u64>-1 - <u64>k) continue;
      store<u64>(LANE_COUNTER_PTR + (<usize>lanes << 3), t + <u64>(<i64>delta));
      if (lanes == 0) i0 = i;
      else if (lanes == 1) i1 = i;
      else if (lanes == 2) i2 = i;
      else {
        matches += laneRound(pass, delta, 4, i0, i1, i2, i);
        lanes = 0;
        continue;
      }
      lanes++;
    }
    if (lanes > 0) {
      // Idle lanes hash a copy of lane 0's input; their output is ignored.
      for (let l: usize = lanes; l < 4; l++) store<u64>(LANE_COUNTER_PTR + (l << 3), load<u64>(LANE_COUNTER_PTR));
      matches += laneRound(pass, delta, lanes, i0, lanes > 1 ? i1 : i0, lanes > 2 ? i2 : i0, i0);
    }
  }
  return matches;
}

/** The counter whose K + W are at SHARED_KW_PTR, when kwValid; lanePass clears kwValid. */
let kwCounter: u64 = 0;
let kwValid = false;

/**
 * True when the four lanes at LANE_COUNTER_PTR share one counter (a batch received at one
 * moment mostly has one current step, and the phases keep lanes at one delta), after making
 * SHARED_KW_PTR hold its schedule.
 */
function sharedCounter(): bool {
  const c = load<u64>(LANE_COUNTER_PTR);
  if (load<u64>(LANE_COUNTER_PTR, 8) != c || load<u64>(LANE_COUNTER_PTR, 16) != c || load<u64>(LANE_COUNTER_PTR, 24) != c) return false;
  if (!kwValid || kwCounter != c) {
    counterScheduleKW(c);
    kwCounter = c;
    kwValid = true;
  }
  return true;
}

/**
 * One four-lane HMAC of items i0..i3 at the counters in LANE_COUNTER_PTR (candidate `delta`),
 * and the comparison of the first `lanes` of them with their codes. Returns the matches.
 */
function laneRound(pass: u32, delta: i32, lanes: u32, i0: usize, i1: usize, i2: usize, i3: usize): u32 {
  const stride = midStride;
  if (pass == ALG_SHA256) hmacSha256Counter4(MID_PTR + i0 * stride, MID_PTR + i1 * stride, MID_PTR + i2 * stride, MID_PTR + i3 * stride, LANE_COUNTER_PTR);
  else if (sharedCounter()) hmacSha1Counter4Shared(MID_PTR + i0 * stride, MID_PTR + i1 * stride, MID_PTR + i2 * stride, MID_PTR + i3 * stride);
  else hmacSha1Counter4(MID_PTR + i0 * stride, MID_PTR + i1 * stride, MID_PTR + i2 * stride, MID_PTR + i3 * stride, LANE_COUNTER_PTR);
  let matches: u32 = 0;
  for (let l: u32 = 0; l < lanes; l++) {
    const i = l == 0 ? i0 : l == 1 ? i1 : l == 2 ? i2 : i3;
    const digits = (load<u32>(PARAMS_PTR + (i << 2)) >>> PARAM_DIGITS_SHIFT) & 0xff;
    const lane = <usize>l << 2;
    const value = pass == ALG_SHA256 ? truncate256(X8_DIGEST_PTR + lane, 16) : truncate(X4_DIGEST_PTR + lane, 16);
    if (ctEq(value % pow10(digits), load<u32>(CODE_PTR + (i << 2))) && recordMatch(i, delta)) matches++;
  }
  return matches;
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
    if (digits != 0 && verifyItem(i, digits)) matches++;
  }
  return matches;
}

/**
 * Walks item i's candidates one at a time with its own hash (startItem has checked it and
 * preset RESULT); true when a candidate at or above the floor matched.
 */
function verifyItem(i: usize, digits: u32): bool {
  const code = load<u32>(CODE_PTR + (i << 2));
  const alg = (load<u32>(PARAMS_PTR + (i << 2)) >>> PARAM_ALG_SHIFT) & 0xf;
  const mid = MID_PTR + i * midStride;
  // A cursor slot of its own in scratch (the SIMD scheduler keeps its state in locals).
  const cursor = SCALAR_CURSOR_PTR;
  store<u32>(cursor, 0);
  while (true) {
    const delta = nextCandidate(i, cursor);
    if (delta == NO_CANDIDATE) return false;
    const t = load<u64>(COUNTER_PTR + (i << 3)) + <u64>(<i64>delta);
    if (ctEq(hotpCodeAlg(mid, t, digits, alg), code) && recordMatch(i, delta)) return true;
  }
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
    const alg = (params >>> PARAM_ALG_SHIFT) & 0xf;
    store<i32>(rp, <i32>hotpCodeAlg(MID_PTR + i * midStride, t, digits, alg));
  }
}

/**
 * Zeroes every secret-bearing region used by items 0..n-1: their midstates, codes, results and key
 * bytes (up to the furthest key slot they name), and the scratch area. Called after each
 * batch so that no secret outlives its batch here.
 */
export function wipe(n: u32): void {
  const count = clampCount(n);
  // The furthest key byte any item names: keyOff + keyLen (u32, wrapping as before), four
  // items at a time, then the rest one by one.
  let ends = i32x4.splat(0);
  let i: usize = 0;
  for (; i + 4 <= count; i += 4) {
    const end = i32x4.add(v128.load(KEY_OFF_PTR + (i << 2)), v128.load(KEY_LEN_PTR + (i << 2)));
    ends = i32x4.max_u(ends, end);
  }
  let keyEnd: usize = <usize>max(
    max(<u32>i32x4.extract_lane(ends, 0), <u32>i32x4.extract_lane(ends, 1)),
    max(<u32>i32x4.extract_lane(ends, 2), <u32>i32x4.extract_lane(ends, 3)),
  );
  for (; i < count; i++) {
    const end = <usize>load<u32>(KEY_OFF_PTR + (i << 2)) + <usize>load<u32>(KEY_LEN_PTR + (i << 2));
    if (end > keyEnd) keyEnd = end;
  }
  memory.fill(MID_PTR, 0, count * midStride);
  memory.fill(CODE_PTR, 0, count << 2);
  memory.fill(RESULT_PTR, 0, count << 2); // generateBatch leaves codes here
  memory.fill(FLOOR_PTR, 0, count << 2);
  memory.fill(KEY_POOL_PTR, 0, keyEnd < KEY_POOL_SIZE ? keyEnd : KEY_POOL_SIZE);
  memory.fill(KEY_OFF_PTR, 0, count << 2);
  memory.fill(KEY_LEN_PTR, 0, count << 2);
  memory.fill(SCRATCH_PTR, 0, SCRATCH_SIZE);
}
