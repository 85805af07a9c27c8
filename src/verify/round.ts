// What the slices of one round of a batch share (with a store): the accounts seen so far, and
// the requests put off to the next round (TotpVerifier #round: an account is in at most one
// slice of a round). And the verifier's spare "seen" sets, kept from round to round.

import { StringSet } from '../strhash.js';
import type { VerifyRequest } from './types.js';

/**
 * With a store, what a round shares across its slices: the accounts seen so far (made at the
 * first request with an account) and the requests put off to the next round.
 */
export interface RoundState {
  seen: StringSet | undefined;
  /** Made at the first request put off. */
  later: Deferred[] | undefined;
  /** Requests in the round: the most accounts `seen` will hold. */
  readonly size: number;
}

/** A request put off to the next round (its account was already in this one), as read. */
export interface Deferred {
  readonly index: number;
  readonly request: VerifyRequest;
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
