// The batch kernels: one call per batch, items laid out struct-of-arrays (see layout.ts).
//
// verifyBatch tries candidates in the order T, T-1, T+1, T-2, T+2, ... and stops at the first
// match: real traffic is mostly valid codes at delta 0, and which step matched is reported to
// the caller anyway, so it is not a secret. The comparison of a candidate with the code is
// constant-time. Nothing here traps on data: a bad item gets RESULT_MALFORMED.

import {
  MAX_ITEMS, MID_PTR, MID_STRIDE, COUNTER_PTR, CODE_PTR, PARAMS_PTR, RESULT_PTR,
  KEY_OFF_PTR, KEY_LEN_PTR, KEY_POOL_PTR, KEY_POOL_SIZE, MAX_KEY_BYTES, MAX_WINDOW,
  ALG_SHA1, PARAM_DIGITS_SHIFT, PARAM_PAST_SHIFT, PARAM_FUTURE_SHIFT, PARAM_ALG_SHIFT,
  PARAM_MID_READY, PARAM_KEY_BAD, RESULT_NO_MATCH, RESULT_MALFORMED, SCRATCH_PTR, SCRATCH_SIZE,
} from "./layout";
import { hmacSha1Midstates } from "./hmac";
import { hotpCode, pow10 } from "./hotp";

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
 * PARAM_KEY_BAD on the item instead. Returns the number of keys derived.
 */
export function deriveKeys(n: u32): u32 {
  const count = clampCount(n);
  let derived: u32 = 0;
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
    hmacSha1Midstates(KEY_POOL_PTR + off, len, MID_PTR + i * MID_STRIDE);
    derived++;
  }
  return derived;
}

/** Digits of a valid params word, or 0 when the params are out of range. */
function checkedDigits(params: u32): u32 {
  if (params & PARAM_KEY_BAD) return 0;
  const digits = (params >>> PARAM_DIGITS_SHIFT) & 0xff;
  const past = (params >>> PARAM_PAST_SHIFT) & 0xff;
  const future = (params >>> PARAM_FUTURE_SHIFT) & 0xff;
  const alg = (params >>> PARAM_ALG_SHIFT) & 0xf;
  if (digits < 6 || digits > 8 || past > MAX_WINDOW || future > MAX_WINDOW || alg != ALG_SHA1) return 0;
  return digits;
}

/**
 * Verifies items 0..n-1: for each, writes to RESULT the delta of the first candidate step
 * (in the order 0, -1, +1, -2, +2, ...) whose code equals CODE, or RESULT_NO_MATCH, or
 * RESULT_MALFORMED. Candidates outside 0..2^64-1 are skipped, never wrapped.
 * Returns the number of matches.
 */
export function verifyBatch(n: u32): u32 {
  const count = clampCount(n);
  let matches: u32 = 0;
  for (let i: usize = 0; i < count; i++) {
    const params = load<u32>(PARAMS_PTR + (i << 2));
    const rp = RESULT_PTR + (i << 2);
    const digits = checkedDigits(params);
    const code = load<u32>(CODE_PTR + (i << 2));
    if (digits == 0 || code >= pow10(digits)) {
      store<i32>(rp, RESULT_MALFORMED);
      continue;
    }
    const past = (params >>> PARAM_PAST_SHIFT) & 0xff;
    const future = (params >>> PARAM_FUTURE_SHIFT) & 0xff;
    const mid = MID_PTR + i * MID_STRIDE;
    const t = load<u64>(COUNTER_PTR + (i << 3));
    let result: i32 = RESULT_NO_MATCH;
    if (ctEq(hotpCode(mid, t, digits), code)) {
      result = 0;
    } else {
      const widest = past > future ? past : future;
      for (let k: u32 = 1; k <= widest; k++) {
        if (k <= past && t >= <u64>k && ctEq(hotpCode(mid, t - k, digits), code)) {
          result = -<i32>k;
          break;
        }
        if (k <= future && t <= <u64>-1 - <u64>k && ctEq(hotpCode(mid, t + k, digits), code)) {
          result = <i32>k;
          break;
        }
      }
    }
    if (result != RESULT_NO_MATCH) matches++;
    store<i32>(rp, result);
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
 * Zeroes every secret-bearing region used by items 0..n-1 (their midstates), the whole key
 * pool, codes and scratch. Called after each batch so that no secret outlives its batch here.
 */
export function wipe(n: u32): void {
  const count = clampCount(n);
  memory.fill(MID_PTR, 0, count * MID_STRIDE);
  memory.fill(CODE_PTR, 0, count << 2);
  memory.fill(KEY_POOL_PTR, 0, KEY_POOL_SIZE);
  memory.fill(SCRATCH_PTR, 0, SCRATCH_SIZE);
}
