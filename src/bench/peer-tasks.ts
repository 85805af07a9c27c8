// A peer's two tasks over the shared fixtures: valid codes and invalid codes, measured
// separately. Every timed call checks its count (every valid code accepted, every invalid one
// refused), so no figure of a wrong peer is ever recorded. A peer that is not installed is recorded as such in the report and
// yields no tasks: the run goes on without it.

import { fixtures } from './fixtures.js';
import type { TaskSpec } from './measure.js';
import { createNodeCryptoPeer } from './peers/node-crypto.js';
import { createOtpauthPeer } from './peers/otpauth.js';
import { createOtplibPeer } from './peers/otplib.js';
import { expectCount, type PeerFactory, PeerMissingError } from './peers/peer.js';
import { createSpeakeasyPeer } from './peers/speakeasy.js';
import type { Report } from './report.js';

export interface PeerEntry {
  readonly key: string;
  readonly name: string;
  readonly factory: PeerFactory;
}

/** Every peer, by key: the node:crypto baseline first (it is always there). */
export const PEERS: readonly PeerEntry[] = [
  { key: 'node-crypto', name: 'node:crypto', factory: createNodeCryptoPeer },
  { key: 'otplib', name: 'otplib', factory: createOtplibPeer },
  { key: 'otpauth', name: 'otpauth', factory: createOtpauthPeer },
  { key: 'speakeasy', name: 'speakeasy', factory: createSpeakeasyPeer },
];

/**
 * Tasks `${scenario}/${key}/valid` and `.../invalid` for `measureGroup`, or null (noted in the
 * report) when the peer's package is not installed.
 */
export async function peerTasks(
  report: Report, scenario: string, key: string, peers: readonly PeerEntry[] = PEERS,
): Promise<[TaskSpec, TaskSpec] | null> {
  const entry = peers.find((p) => p.key === key);
  if (entry === undefined) throw new RangeError(`unknown peer "${key}"`);
  const fx = fixtures();
  let peer;
  try {
    peer = await entry.factory(fx);
  } catch (error) {
    if (!(error instanceof PeerMissingError)) throw error;
    report.peer({ name: entry.name, version: null, status: 'not installed' });
    report.note(scenario, error.message);
    return null;
  }
  report.peer({ name: peer.name, version: peer.version, status: 'measured' });
  const task = (kind: 'valid' | 'invalid'): TaskSpec => {
    const codes = kind === 'valid' ? fx.valid : fx.invalid;
    const want = kind === 'valid' ? fx.count : 0;
    return {
      id: `${scenario}/${key}/${kind}`,
      scenario,
      label: `${peer.name} ${peer.version}, ${kind}`,
      items: fx.count,
      async: false,
      reference: true,
      // The baseline is in every round; the slower library peers may sit out some.
      sparse: key !== 'node-crypto',
      params: { kind, peer: key },
      // No warm-up call: one of otplib's costs half a second (several on a loaded machine),
      // and a call of 10,000 items warms the JIT within its first few hundred. Every call,
      // the first included, checks the count, so a wrong peer stops the run before any of its
      // figures is recorded.
      budget: { warmupTime: 0, warmupIterations: 0 },
      fn: () => expectCount(peer.name, peer.verifyAll(codes), want),
    };
  };
  return [task('valid'), task('invalid')];
}
