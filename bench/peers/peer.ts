// What a peer is to the benches: something that verifies code i against secret i of the shared
// fixtures, at the fixtures' fixed time, with a window of ±1 step, one item after another on
// this thread. Peers are kept apart from our own code (STYLE.md item 10).

import type { Fixtures } from '../lib/fixtures.js';

export interface Peer {
  readonly name: string;
  /** The version measured, for the printed header and the JSON. */
  readonly version: string;
  /** Verifies codes[i] for secret i, for every i; returns how many were valid. */
  verifyAll(codes: readonly string[]): number;
}

export type PeerFactory = (fx: Fixtures) => Peer;

/**
 * Refuses to time a peer that answers wrongly: every valid code must pass and every invalid
 * one must fail. Called before any timing.
 */
export function assertPeer(peer: Peer, fx: Fixtures): void {
  const valid = peer.verifyAll(fx.valid);
  const invalid = peer.verifyAll(fx.invalid);
  if (valid !== fx.count || invalid !== 0) {
    throw new Error(`${peer.name}: accepted ${valid}/${fx.count} valid and ${invalid}/${fx.count} invalid codes; not timing a wrong verifier`);
  }
}

/** A timed call's own check: the count must be what the fixtures say. */
export function expectCount(name: string, got: number, want: number): void {
  if (got !== want) throw new Error(`${name}: ${got} valid, expected ${want}`);
}
