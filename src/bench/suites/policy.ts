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
// filled that way before timing. The failure memory is set to the mark's lifetime (17 minutes;
// default 24 hours) so that the invalid runs reach the same steady state. The verifiers' clock is
// the fixtures' time, so that the requests' timestamp is the current one (policy.timestampSkewMs). The report notes the
// store's size. Beside it, for capacity planning and not counted against the target, a second
// MemoryStore in the same steady state with 20,000 live credentials (one server's accounts, say):
// what a new account costs depends on how much of the store the CPU's caches hold. The local
// Redis is not pre-filled: its lookups are O(1) dict probes, and the Lua work per credential,
// not the key count, is what limits it.

import { Redis } from 'ioredis';
import { MemoryStore, RedisStore, type Store, TotpVerifier, type VerifyRequest } from '../../index.js';
import type { Kind } from '../facade.js';
import { fixtures, PERIOD, WINDOW } from '../fixtures.js';
import { resolvePolicy } from '../../policy/options.js';
import type { TaskSpec } from '../measure.js';
import { deleteKeys, REDIS_URL } from '../redis.js';
import type { Suite, SuiteContext } from '../suite.js';

const ID = 'policy';
/** Live credentials in the MemoryStore's steady state (calls of 10,000 fresh accounts). */
const LIVE = 1_000_000;
/** Live credentials of the second, smaller MemoryStore (info, not the target). */
const SMALL_LIVE = 20_000;
/** Mark and failure memory, ms: the default mark for window ±1 without drift (17 minutes). */
const STATE_MS = resolvePolicy(undefined, PERIOD, WINDOW, WINDOW).limits.replayMs;

/**
 * A MemoryStore for `live` credentials in the steady state: its clock is real time plus what the
 * calls through it have aged it (`age`: 1/live of a mark's life per account), so that the
 * accounts of the last live/10,000 calls are live and older ones expire and are swept.
 */
function agedStore(live: number): { live: number; store: MemoryStore; age: (accounts: number) => void } {
  let aged = 0;
  const store = new MemoryStore({ maxCredentials: 2 * live, now: () => Date.now() + aged });
  return { live, store, age: (accounts) => { aged += (STATE_MS * accounts) / live; } };
}

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
  const memories = [agedStore(LIVE), agedStore(SMALL_LIVE)];
  const [memory, small] = memories.map((m) => m.store) as [MemoryStore, MemoryStore];
  const redis = await redisStore(prefix);
  if (redis === undefined) report.note(ID, `RedisStore skipped: no Redis answers at ${REDIS_URL}`);
  const smallName = `MemoryStore, ${SMALL_LIVE.toLocaleString('en-US')} live`;
  const stores: [id: string, name: string, store: Store | null][] = [
    ['no', 'no policy', null], ['memorystore', 'MemoryStore', memory], ['memorystore-small', smallName, small],
  ];
  if (redis !== undefined) stores.push(['redisstore', 'RedisStore (local)', redis]);
  const verifiers: TotpVerifier[] = [];
  let generation = 0;
  /** Verifications through the RedisStore while its CPU was being read. */
  let redisItems = 0;
  try {
    for (const [k, kind] of (ctx.profile.kinds as Kind[]).entries()) {
      const codes = kind === 'valid' ? fx.valid : fx.invalid;
      const want = kind === 'valid' ? 'valid' : 'invalid';
      const tasks: TaskSpec[] = [];
      for (const [id, name, store] of stores) {
        const mem = memories.find((m) => m.store === store);
        const verifier = await TotpVerifier.create({
          threads: 0, window: 1, store, policy: { failureMemoryMs: STATE_MS }, now: () => fx.timestamp,
        });
        verifiers.push(verifier);
        const handles = verifier.importKeys(fx.secrets);
        const call = async (): Promise<void> => {
          const g = ++generation;
          mem?.age(fx.count);
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
        for (let c = 0; mem !== undefined && c < mem.live / fx.count; c++) await call(); // to the steady state
        tasks.push({
          id: `${ID}/${id}/${kind}`, scenario: ID, items: fx.count, async: true,
          label: `verifyBatch(10k), ${name}, fresh accounts, window ±1, threads 0, ${kind}`,
          params: { kind, threads: 0, batch: fx.count }, fn: call,
        });
      }
      const cpuBefore = redis === undefined ? undefined : await redisCpuSeconds();
      redisItems = 0;
      const [none, mem, memSmall, red] = await ctx.measure(tasks, { groupsLeft: ctx.profile.kinds.length - k });
      if (cpuBefore !== undefined && redisItems > 0) {
        // What limits the RedisStore: Redis's own CPU per verification (its begin and finish).
        const perItem = ((await redisCpuSeconds()) - cpuBefore) * 1e6 / redisItems;
        report.note(ID, `Redis server CPU (used_cpu_user + used_cpu_sys) per ${kind} verification: ${perItem.toFixed(1)} µs` +
          ` over ${redisItems.toLocaleString('en-US')} (one core: at most ${Math.round(1e6 / perItem).toLocaleString('en-US')}/s)`);
      }
      report.note(ID, `MemoryStore held ${memory.size.toLocaleString('en-US')} credentials after the ${kind} calls` +
        ` (the ${SMALL_LIVE.toLocaleString('en-US')}-live one ${small.size.toLocaleString('en-US')})`);
      report.ratio(ID, `MemoryStore ÷ no policy, ${kind}`, mem!, none!, 0.5, 'fraction');
      report.ratio(ID, `${smallName} ÷ no policy, ${kind}`, memSmall!, none!, undefined, 'fraction');
      if (red !== undefined) {
        report.ratio(ID, `RedisStore ÷ no policy, ${kind}`, red, none!, undefined, 'fraction');
        report.rate(ID, `RedisStore (local) verifies/s, ${kind}`, red, 100_000);
      }
    }
  } finally {
    await Promise.all(verifiers.map((v) => v.close()));
    await Promise.all(memories.map((m) => m.store.close()));
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
