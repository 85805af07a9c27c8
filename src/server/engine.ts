// The verification engine behind the server: the verifier and the store it keeps state in.
// Health: the engine self-test (one RFC 6238 vector through the core) and a store probe.
//
// STORE-PENDING: the policy layer (issue 5: MemoryStore / RedisStore, replay and lockout) is
// not on main yet. Until it lands, the engine is the stateless TotpVerifier, `redisUrl` is
// refused, and the store probe always succeeds. After the merge: the verifier is created with
// the store, `storeHealth` runs the store's health script, `clock` reads clockHealth().

import { TotpFleetError } from '../errors.js';
import { generate } from '../totp.js';
import { TotpVerifier, type VerifierOptions } from '../verifier.js';

export interface ClockHealth {
  status: 'ok' | 'insufficient-data' | 'server-ahead' | 'server-behind';
  offsetSeconds: number;
  stderrSeconds: number;
  samples: number;
  message: string;
}

export interface Engine {
  readonly verifier: TotpVerifier;
  /** Human description for the start-up line ("in-memory store", "Redis at host:port"). */
  readonly storeName: string;
  /** Resolves when the store answers a script; rejects (ERR_STORE_UNAVAILABLE) when it does not. */
  storeHealth(): Promise<void>;
  /** The fleet clock-health summary, or undefined where the verifier keeps none. */
  clock(): ClockHealth | undefined;
  close(): Promise<void>;
}

// RFC 6238 Appendix B, SHA1, t = 59 s: the self-test computes it with the same core the
// verifier runs on this thread.
const SELF_TEST_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const SELF_TEST_CODE = '94287082';

/** Throws when the core computes a wrong code (a broken build or a corrupted instance). */
export function engineSelfTest(): void {
  const code = generate(SELF_TEST_SECRET, { timestamp: 59_000, digits: 8 });
  if (code !== SELF_TEST_CODE) throw new TotpFleetError('ERR_CORE_FAILED', 'the core failed its self-test');
}

export async function createEngine(opts: { redisUrl: string | undefined; verifier: VerifierOptions }): Promise<Engine> {
  if (opts.redisUrl !== undefined) {
    throw new RangeError('"redisUrl": the Redis store is not available in this build yet');
  }
  const verifier = await TotpVerifier.create(opts.verifier);
  return {
    verifier,
    storeName: 'no store (stateless verifier)',
    storeHealth: async () => {},
    clock: () => undefined,
    close: () => verifier.close(),
  };
}
