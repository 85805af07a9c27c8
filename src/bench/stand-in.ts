// An engine for the server's benchmarks that answers every item at once with one shared frozen
// `valid` result (as the verifier shares one among the matches of a step): with it, what a
// request costs is the server layer's own (token check, body parsing, validation, the route,
// metrics, serialisation, fastify and node's HTTP). Used by bench/server-ceiling.ts in process
// and by bench/server-layer.ts in each build's child server.

import type { Engine } from '../server/engine.js';

/** A stand-in engine whose results are `valid` at `step`. */
export function standInEngine(step: number): Engine {
  const answer = Object.freeze({ status: 'valid' as const, delta: 0, step });
  const stats = () => ({
    keyCache: { size: 0, capacity: 0, hits: 0, misses: 0, evictions: 0 }, keyHandles: 0,
    pool: { threads: 0, inFlight: 0, chunksInline: 0, chunksPooled: 0, chunksRetried: 0, chunksFailed: 0, workerFailures: 0 },
    batcher: { queued: 0, running: 0, batches: 0 },
    policy: { valid: 0, invalid: 0, replayed: 0, locked: 0, storeErrors: 0, lockouts: 0 },
  });
  const verifier = { stats, verify: async () => answer, verifyBatch: async (requests: readonly unknown[]) => requests.map(() => answer) };
  return { verifier: verifier as unknown as Engine['verifier'], storeName: 'stand-in', storeHealth: async () => {}, clock: () => undefined, close: async () => {} };
}
