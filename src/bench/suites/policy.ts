// Suite: what replay protection and failure limits cost. The same 10,000 requests (key
// handles, window ±1, one thread, an account each) through three verifiers: no store
// (`store: null`), a MemoryStore, and a RedisStore on the local Redis (127.0.0.1:6379, or
// TOTP_FLEET_BENCH_REDIS). Every call uses 10,000 accounts never seen before, so each valid code
// is committed (not replayed) and each invalid one is a first failure (not a lockout): every
// call does the full begin → evaluate → finish. Building the requests (account names) is
// inside the timed call for all three, alike.
//
// A fleet has millions of accounts, each logging in rarely: most logins find no live state (a
// mark lives minutes) in a store that holds many live credentials, whose expired records are
// reused. So the MemoryStore runs in that steady state: ~1,000,000 live credentials. Its clock
// (which decides only expiry; codes are checked at the requests' timestamp) moves on by 1/100
// of the mark's lifetime per call, so the credentials of the last 100 calls are live, and it is
// filled that way before timing. The failure memory is set to the mark's lifetime (7 minutes;
// default 24 hours) so that the invalid runs reach the same steady state. The report notes the
// store's size. The local Redis is not pre-filled: its lookups are O(1) dict probes, and the
// Lua work per credential, not the key count, is what limits it.

import { Redis } from 'ioredis';
import { MemoryStore, RedisStore, type Store, TotpVerifier, type VerifyRequest } from '../../index.js';
import type { Kind } from '../facade.js';
import { fixtures } from '../fixtures.js';
import type { TaskSpec } from '../measure.js';
import { deleteKeys, REDIS_URL } from '../redis.js';
import type { Suite, SuiteContext } from '../suite.js';

const ID = 'policy';
/** Live credentials in the MemoryStore's steady state (calls of 10,000 fresh accounts). */
const LIVE = 1_000_000;
/** Mark and failure memory, ms: the default mark for window ±1 without drift (options.ts). */
const STATE_MS = 420_000;

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
  // The MemoryStore's clock: real time plus what the calls have aged it.
  let aged = 0;
  const memory = new MemoryStore({ maxCredentials: 2 * LIVE, now: () => Date.now() + aged });
  const redis = await redisStore(prefix);
  if (redis === undefined) report.note(ID, `RedisStore skipped: no Redis answers at ${REDIS_URL}`);
  const stores: [string, Store | null][] = [['no policy', null], ['MemoryStore', memory]];
  if (redis !== undefined) stores.push(['RedisStore (local)', redis]);
  const verifiers: TotpVerifier[] = [];
  let generation = 0;
  /** Verifications through the RedisStore while its CPU was being read. */
  let redisItems = 0;
  try {
    for (const [k, kind] of (ctx.profile.kinds as Kind[]).entries()) {
      const codes = kind === 'valid' ? fx.valid : fx.invalid;
      const want = kind === 'valid' ? 'valid' : 'invalid';
      const tasks: TaskSpec[] = [];
      for (const [name, store] of stores) {
        const verifier = await TotpVerifier.create({ threads: 0, window: 1, store, policy: { failureMemoryMs: STATE_MS } });
        verifiers.push(verifier);
        const handles = verifier.importKeys(fx.secrets);
        const call = async (): Promise<void> => {
          const g = ++generation;
          if (store === memory) aged += (STATE_MS * fx.count) / LIVE;
          const reqs: VerifyRequest[] = new Array(fx.count);
          for (let i = 0; i < fx.count; i++) {
            reqs[i] = { account: `${g}:${i}`, secret: handles[i]!, code: codes[i]!, timestamp: fx.timestamp };
          }
          const results = await verifier.verifyBatch(reqs);
          if (store === redis) redisItems += fx.count;
          for (let i = 0; i < results.length; i++) {
            if (results[i]!.status !== want) throw new Error(`${ID}: ${name} answered ${results[i]!.status} for a ${kind} code`);
          }
        };
        await call(); // checked once before timing
        for (let c = 0; store === memory && c < LIVE / fx.count; c++) await call(); // to the steady state
        tasks.push({
          id: `${ID}/${name.split(' ')[0]!.toLowerCase()}/${kind}`, scenario: ID, items: fx.count, async: true,
          label: `verifyBatch(10k), ${name}, fresh accounts, window ±1, threads 0, ${kind}`,
          params: { kind, threads: 0, batch: fx.count }, fn: call,
        });
      }
      const cpuBefore = redis === undefined ? undefined : await redisCpuSeconds();
      redisItems = 0;
      const [none, mem, red] = await ctx.measure(tasks, { groupsLeft: ctx.profile.kinds.length - k });
      if (cpuBefore !== undefined && redisItems > 0) {
        // What limits the RedisStore: Redis's own CPU per verification (its begin and finish).
        const perItem = ((await redisCpuSeconds()) - cpuBefore) * 1e6 / redisItems;
        report.note(ID, `Redis server CPU (used_cpu_user + used_cpu_sys) per ${kind} verification: ${perItem.toFixed(1)} µs` +
          ` over ${redisItems.toLocaleString('en-US')} (one core: at most ${Math.round(1e6 / perItem).toLocaleString('en-US')}/s)`);
      }
      report.note(ID, `MemoryStore held ${memory.size.toLocaleString('en-US')} credentials after the ${kind} calls`);
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

/** The Redis server's CPU time so far (INFO cpu: user + sys), seconds. */
async function redisCpuSeconds(): Promise<number> {
  const client = new Redis(REDIS_URL);
  try {
    const info = await client.info('cpu');
    const field = (name: string): number => Number(new RegExp(`${name}:([0-9.]+)`).exec(info)?.[1] ?? Number.NaN);
    return field('used_cpu_user') + field('used_cpu_sys');
  } finally {
    client.disconnect();
  }
}

export const suite: Suite = { id: ID, title: 'policy overhead: no store vs MemoryStore vs RedisStore (local)', run };
