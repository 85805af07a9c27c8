// Suite: what replay protection and failure limits cost. The same 10,000 requests (key
// handles, window ±1, one thread, an account each) through three verifiers: no store
// (`store: null`), a MemoryStore, and a RedisStore on the local Redis (127.0.0.1:6379, or
// TOTP_FLEET_BENCH_REDIS). Every call uses 10,000 accounts never seen before, so each valid code
// is committed (not replayed) and each invalid one is a first failure (not a lockout): every
// call does the full begin → evaluate → finish. Building the requests (account names) is
// inside the timed call for all three, alike.
//
// Issue 5 targets: MemoryStore ≥ 50 % of the no-policy throughput; RedisStore ≥ 100k verifies/s.
// Without a reachable Redis the RedisStore figures are skipped, with a note.

import { MemoryStore, RedisStore, type Store, TotpVerifier, type VerifyRequest } from '../../index.js';
import type { Kind } from '../facade.js';
import { fixtures } from '../fixtures.js';
import type { TaskSpec } from '../measure.js';
import { deleteKeys, REDIS_URL } from '../redis.js';
import type { Suite, SuiteContext } from '../suite.js';

const ID = 'policy';

async function redisStore(prefix: string): Promise<RedisStore | undefined> {
  const store = new RedisStore({ url: REDIS_URL, prefix, commandTimeoutMs: 10_000, accountsPerCall: 1000 });
  try {
    await store.health();
    return store;
  } catch {
    await store.close();
    return undefined;
  }
}

async function run(ctx: SuiteContext): Promise<void> {
  const { report } = ctx;
  const fx = fixtures();
  const prefix = `totp-fleet-bench:${process.pid}:`;
  const memory = new MemoryStore({ maxCredentials: 50_000_000 });
  const redis = await redisStore(prefix);
  if (redis === undefined) report.note(ID, `RedisStore skipped: no Redis answers at ${REDIS_URL}`);
  const stores: [string, Store | null][] = [['no policy', null], ['MemoryStore', memory]];
  if (redis !== undefined) stores.push(['RedisStore (local)', redis]);
  const verifiers: TotpVerifier[] = [];
  let generation = 0;
  try {
    for (const [k, kind] of (ctx.profile.kinds as Kind[]).entries()) {
      const codes = kind === 'valid' ? fx.valid : fx.invalid;
      const want = kind === 'valid' ? 'valid' : 'invalid';
      const tasks: TaskSpec[] = [];
      for (const [name, store] of stores) {
        const verifier = await TotpVerifier.create({ threads: 0, window: 1, store });
        verifiers.push(verifier);
        const handles = verifier.importKeys(fx.secrets);
        const call = async (): Promise<void> => {
          const g = ++generation;
          const reqs: VerifyRequest[] = new Array(fx.count);
          for (let i = 0; i < fx.count; i++) {
            reqs[i] = { account: `${g}:${i}`, secret: handles[i]!, code: codes[i]!, timestamp: fx.timestamp };
          }
          const results = await verifier.verifyBatch(reqs);
          for (let i = 0; i < results.length; i++) {
            if (results[i]!.status !== want) throw new Error(`${ID}: ${name} answered ${results[i]!.status} for a ${kind} code`);
          }
        };
        await call(); // checked once before timing
        tasks.push({
          id: `${ID}/${name.split(' ')[0]!.toLowerCase()}/${kind}`, scenario: ID, items: fx.count, async: true,
          label: `verifyBatch(10k), ${name}, fresh accounts, window ±1, threads 0, ${kind}`,
          params: { kind, threads: 0, batch: fx.count }, fn: call,
        });
      }
      const [none, mem, red] = await ctx.measure(tasks, { groupsLeft: ctx.profile.kinds.length - k });
      report.ratio(ID, `MemoryStore ÷ no policy, ${kind}`, mem!, none!, 0.5, 'fraction');
      if (red !== undefined) {
        report.ratio(ID, `RedisStore ÷ no policy, ${kind}`, red, none!, undefined, 'fraction');
        report.rate(ID, `RedisStore (local) verifies/s, ${kind}`, red, 100_000);
      }
    }
  } finally {
    await Promise.all(verifiers.map((v) => v.close()));
    await memory.close();
    if (redis !== undefined) {
      await redis.close();
      await deleteKeys(prefix);
    }
  }
}

export const suite: Suite = { id: ID, title: 'policy overhead: no store vs MemoryStore vs RedisStore (local)', run };
