// A peer's two tasks over the shared fixtures: valid codes and invalid codes, measured
// separately. The peer is checked (every valid code accepted, every invalid one refused)
// before it is ever timed.

import { assertPeer, expectCount, type PeerFactory } from '../peers/peer.js';
import { fixtures } from './fixtures.js';
import type { TaskSpec } from './measure.js';

/** Tasks `${scenario}/${key}/valid` and `.../invalid`, for `measureGroup`. */
export function peerTasks(scenario: string, key: string, factory: PeerFactory): [TaskSpec, TaskSpec] {
  const fx = fixtures();
  const peer = factory(fx);
  assertPeer(peer, fx);
  const task = (kind: 'valid' | 'invalid'): TaskSpec => {
    const codes = kind === 'valid' ? fx.valid : fx.invalid;
    const want = kind === 'valid' ? fx.count : 0;
    return {
      id: `${scenario}/${key}/${kind}`,
      scenario,
      label: `${peer.name} ${peer.version}, ${kind}`,
      items: fx.count,
      async: false,
      fn: () => expectCount(peer.name, peer.verifyAll(codes), want),
    };
  };
  return [task('valid'), task('invalid')];
}
