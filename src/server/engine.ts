// The verification engine behind the server: the verifier and the store it keeps state in
// (MemoryStore for one process, RedisStore for a fleet). Health: the engine self-test (one
// RFC 6238 vector through the core) and the store's health script.

import { TotpFleetError } from '../errors.js';
import type { ClockHealth } from '../policy/clock.js';
import type { PolicyOptions } from '../policy/options.js';
import { MemoryStore } from '../store/memory.js';
import { RedisStore } from '../store/redis.js';
import type { Store } from '../store/types.js';
import { generate } from '../totp.js';
import { TotpVerifier, type VerifierOptions } from '../verifier.js';

export type { ClockHealth };

export interface Engine {
  readonly verifier: TotpVerifier;
  /** For the start-up line: "in-memory store", "Redis at host:port" (never a password). */
  readonly storeName: string;
  /** Resolves when the store runs a script; rejects (ERR_STORE_UNAVAILABLE) when it cannot. */
  storeHealth(): Promise<void>;
  /** The fleet clock-health summary. */
  clock(): ClockHealth | undefined;
  /** Closes the verifier (answers what is in flight, stops the pool), then the store. */
  close(): Promise<void>;
}

export interface EngineOptions {
  redisUrl: string | undefined;
  /** Key prefix in Redis; default 'totp-fleet:'. */
  redisPrefix: string | undefined;
  /** Credentials the in-memory store keeps at most (MemoryStore's default when undefined). */
  maxCredentials: number | undefined;
  /** The in-memory store's memory made and written at start (MemoryStoreOptions.preTouch). */
  preTouch?: boolean | undefined;
  verifier: VerifierOptions;
  policy: PolicyOptions | undefined;
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

/** Where a Redis URL points, without user name or password. */
export function redisWhere(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol.replace(/:$/, '')}://${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return 'an unparseable URL';
  }
}

export async function createEngine(opts: EngineOptions): Promise<Engine> {
  const store: Store = opts.redisUrl === undefined
    ? new MemoryStore({
      ...(opts.maxCredentials === undefined ? {} : { maxCredentials: opts.maxCredentials }),
      ...(opts.preTouch === undefined ? {} : { preTouch: opts.preTouch }),
    })
    : new RedisStore({ url: opts.redisUrl, ...(opts.redisPrefix === undefined ? {} : { prefix: opts.redisPrefix }) });
  let verifier: TotpVerifier;
  try {
    verifier = await TotpVerifier.create({ ...opts.verifier, store, ...(opts.policy === undefined ? {} : { policy: opts.policy }) });
  } catch (error) {
    await store.close();
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    verifier,
    storeName: opts.redisUrl === undefined ? 'in-memory store' : `Redis at ${redisWhere(opts.redisUrl)}`,
    storeHealth: () => store.health(),
    clock: () => verifier.clockHealth(),
    close: () => closing ??= (async () => {
      try {
        await verifier.close();
      } finally {
        await store.close();
      }
    })(),
  };
}
