// One account's attempt outside a batch: HOTP resynchronisation and backup codes. The same
// store calls as a verification (begin: refuse a locked account, reserve an attempt, read the
// mark; finish: commit, count or release), one account at a time, with the same failure limit
// and the same audit events (with their `method`).

import {
  answersOp, type AttemptLimits, type Store, BEGIN_GO, BEGIN_LOCKED, DONE_LOCKED, OP_RELEASE,
} from '../store/types.js';
import type { VerifyResult } from '../verifier.js';
import { type AuditEvent, audit } from './audit.js';

export const STORE_ERROR: Readonly<VerifyResult> = Object.freeze({ status: 'error', reason: 'store' });

/** The account and how it is proving itself, for audit events. */
export interface Subject {
  readonly store: Store;
  readonly limits: AttemptLimits;
  readonly verifier: string;
  readonly account: string;
  readonly method: NonNullable<AuditEvent['method']>;
}

/**
 * begin for one account: its last accepted step (-1 when none), or the answer when it may not
 * go on (`locked` without evaluating anything, or `error` when the store cannot answer).
 */
export async function beginOne(s: Subject): Promise<number | Readonly<VerifyResult>> {
  let state: number;
  let value: number;
  try {
    const b = await s.store.begin([s.account], s.limits);
    state = b.state[0]!;
    value = state === BEGIN_LOCKED ? b.retryAfterMs[0]! : b.lastStep[0]!;
  } catch {
    state = -1;
    value = 0;
  }
  if (state === BEGIN_GO) return value;
  if (state === BEGIN_LOCKED) {
    audit(s.verifier, { type: 'locked', account: s.account, retryAfterMs: value, method: s.method });
    return Object.freeze({ status: 'locked', retryAfterMs: value });
  }
  audit(s.verifier, { type: 'error', account: s.account, reason: 'store', method: s.method });
  return STORE_ERROR;
}

/** finish for one account: the store's DONE_* answer, or undefined when it could not answer. */
export async function finishOne(s: Subject, op: number, step = 0): Promise<number | undefined> {
  try {
    const done = await s.store.finish([s.account], {
      op: Uint8Array.of(op), step: Float64Array.of(step), drift: Float64Array.of(Number.NaN),
    }, s.limits);
    // DONE_ERROR, or no answer finish gives for this op (a custom store's bug): not known done.
    const answer = (done as Uint8Array | null | undefined)?.[0];
    return answersOp(op, answer) ? answer : undefined;
  } catch {
    return undefined;
  }
}

/** Gives a reservation back after a store failure (best effort), and answers `error`. */
export async function abandon(s: Subject): Promise<Readonly<VerifyResult>> {
  await finishOne(s, OP_RELEASE);
  audit(s.verifier, { type: 'error', account: s.account, reason: 'store', method: s.method });
  return STORE_ERROR;
}

/**
 * Answers `error` after a finish that did not answer as it should: the store may have done it
 * (a Redis call that timed out after Redis ran it), so nothing is given back. A release then
 * could free another attempt's reservation instead, one guess more than the limit (R7); a
 * reservation still held lapses after reservationMs, as a batch's does.
 */
export function lost(s: Subject): Readonly<VerifyResult> {
  audit(s.verifier, { type: 'error', account: s.account, reason: 'store', method: s.method });
  return STORE_ERROR;
}

/** Answers a counted failure (`invalid`; its audit event says whether it locked the account). */
export function failed(s: Subject, done: number): Readonly<VerifyResult> {
  audit(s.verifier, { type: 'invalid', account: s.account, lockedNow: done === DONE_LOCKED, method: s.method });
  return INVALID;
}

const INVALID: Readonly<VerifyResult> = Object.freeze({ status: 'invalid' });
