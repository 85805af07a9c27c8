// What the slices of one round of a batch share (with a store): the accounts seen so far, and
// the requests put off to later rounds (TotpVerifier #rounds: an account is in at most one
// slice of a round); how the put-off requests make the later rounds (laterRounds); and the
// verifier's spare "seen" sets, kept from batch to batch.

import { StringSet } from '../strhash.js';
import type { VerifyRequest } from './types.js';

/**
 * With a store, what a round shares across its slices: the accounts seen so far (made at the
 * first request with an account) and the requests put off to later rounds. A later round's
 * accounts are distinct already (one occurrence of each): it has neither.
 */
export interface RoundState {
  seen: StringSet | undefined;
  /** Made at the first request put off. */
  later: Deferred[] | undefined;
  /** Requests in the round: the most accounts `seen` will hold. */
  readonly size: number;
  /** A later round: no account repeats in it, so none is looked up or put off. */
  readonly distinct: boolean;
}

/** A request put off to a later round (its account was already in the first), as read. */
export interface Deferred {
  readonly index: number;
  readonly request: VerifyRequest;
}

/**
 * The later rounds of a batch, from the requests its first round put off (in request order):
 * an account's k-th repeat goes to the k-th later round, so each later round names an account
 * at most once and keeps request order, and the rounds act as the requests made one after the
 * other. One pass, however often an account repeats (rounds that each re-scanned every request
 * left took time quadratic in an account's repeats: 678 ms for 1,000 of one account).
 */
export function laterRounds(later: readonly Deferred[]): Deferred[][] {
  const repeats = new Map<string, number>();
  const rounds: Deferred[][] = [];
  for (let i = 0; i < later.length; i++) {
    const d = later[i]!;
    // Our own object, holding the account as read (a string: isAccount passed).
    const account = d.request.account as string;
    const k = repeats.get(account) ?? 0;
    repeats.set(account, k + 1);
    // k is at most the number of rounds so far: the array stays dense.
    (rounds[k] ??= []).push(d);
  }
  return rounds;
}

/** Rounds of fewer requests reuse the verifier's small spare "seen" set, larger ones its large spare. */
const SPARE_SEEN_MIN = 1024;

/** The "seen in this round" sets of finished rounds, one small and one large, kept for the next ones. */
export class SeenSets {
  #spare: StringSet | undefined;
  /** The same for rounds of fewer than SPARE_SEEN_MIN requests. */
  #spareSmall: StringSet | undefined;

  /**
   * An empty set for a round of `size` requests: the spare one when it fits (large enough, and
   * not so large that emptying it costs more than a new one), else a new one.
   */
  take(size: number): StringSet {
    if (size < SPARE_SEEN_MIN) {
      // Small rounds (single items, small batches) take the small spare when its size fits.
      const small = this.#spareSmall;
      if (small === undefined || small.limit < size || small.limit > 4 * size) return new StringSet(size);
      this.#spareSmall = undefined;
      small.clear();
      return small;
    }
    const spare = this.#spare;
    if (spare === undefined || spare.limit < size || spare.limit > 4 * size) return new StringSet(size);
    this.#spare = undefined;
    spare.clear();
    return spare;
  }

  /** Keeps a finished round's set (no slice of it reads the set any more) for the next round of its kind. */
  keep(seen: StringSet): void {
    if (seen.limit >= SPARE_SEEN_MIN) this.#spare = seen;
    else this.#spareSmall = seen;
  }
}
