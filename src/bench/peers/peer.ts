// What a peer is to the benches: something that verifies code i against secret i of the shared
// fixtures, at the fixtures' fixed time, with a window of ±1 step, one item after another on
// this thread. Peers are kept apart from our own code (STYLE.md item 10).

import type { Fixtures } from '../fixtures.js';

export interface Peer {
  readonly name: string;
  /** The version measured, for the printed header and the JSON. */
  readonly version: string;
  /** Verifies codes[i] for secret i, for every i; returns how many were valid. */
  verifyAll(codes: readonly string[]): number;
}

/** Builds a peer over the fixtures; rejects with PeerMissingError when its package is not installed. */
export type PeerFactory = (fx: Fixtures) => Promise<Peer>;

/** A peer's package is not installed (the peers are dev dependencies of totp-fleet). */
export class PeerMissingError extends Error {
  readonly peer: string;

  constructor(peer: string, options?: { cause?: unknown }) {
    super(`${peer} is not installed (it is a dev dependency: npm install --include=dev); not measured`, options);
    this.name = 'PeerMissingError';
    this.peer = peer;
  }
}

/**
 * Imports a peer's package, turning "not installed" into PeerMissingError and letting any
 * other failure (a broken package) through as it is.
 */
export async function importPeer<T>(name: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') throw new PeerMissingError(name, { cause: error });
    throw error;
  }
}

/** A timed call's own check: the count must be what the fixtures say. */
export function expectCount(name: string, got: number, want: number): void {
  if (got !== want) throw new Error(`${name}: ${got} valid, expected ${want}`);
}
