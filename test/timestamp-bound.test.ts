// A request's `timestamp` with an account (SECURITY.md R6): it may be at most
// policy.timestampSkewMs from the verifier's clock, and a used step is remembered long enough
// that no timestamp in that bound, on any machine of the fleet, reaches it again once its mark
// has expired. Without the bound, `{"timestamp": 0}` (or any old time) replayed a code whose
// mark had expired.

import diagnostics_channel from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { HotpVerifier, hotp, type HotpRequest, MemoryStore, type Store, totp, TotpVerifier, type VerifyResult } from '../src/index.js';
import { AUDIT_CHANNEL } from '../src/policy/audit.js';
import { KEY, KEY_B32 } from './helpers/fixtures.js';
import { inProcess, post } from './helpers/server.js';

const CLOSE: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const close of CLOSE.splice(0)) await close();
});

/** A verifier (one thread, inline) on `store` whose clock is `now`; closed after the test. */
async function verifier(opts: Parameters<typeof TotpVerifier.create>[0]): Promise<TotpVerifier> {
  const v = await TotpVerifier.create({ threads: 0, ...opts });
  CLOSE.push(() => v.close());
  return v;
}

const NOW = 1_800_000_000_000 + 12_345;
const codeAt = (ms: number, period = 30): string => totp.generate(KEY, { timestamp: ms, period });

describe('a stateful request\'s timestamp is bounded', () => {
  it('far from the verifier\'s clock: malformed, its code not evaluated, nothing counted or audited', async () => {
    const events: unknown[] = [];
    const listen = (e: unknown): void => { events.push(e); };
    diagnostics_channel.subscribe(AUDIT_CHANNEL, listen);
    try {
      const v = await verifier({ now: () => NOW, policy: { maxFailures: 1 } });
      // The right code at step 0 (a timestamp of 0), and a wrong one an hour ago.
      const results = await v.verifyBatch([
        { account: 'alice', secret: KEY, code: codeAt(0), timestamp: 0 },
        { account: 'alice', secret: KEY, code: '000000', timestamp: NOW - 3_600_000 },
        { account: 'alice', secret: KEY, code: codeAt(NOW + 3_600_000), timestamp: NOW + 3_600_000 },
      ]);
      expect(results).toEqual([{ status: 'malformed', reason: 'timestamp' }, { status: 'malformed', reason: 'timestamp' }, { status: 'malformed', reason: 'timestamp' }]);
      expect(events).toEqual([]);
      // Not counted as failures: with maxFailures 1, the account is not locked.
      expect(await v.verify({ account: 'alice', secret: KEY, code: codeAt(NOW), timestamp: NOW })).toMatchObject({ status: 'valid', delta: 0 });
    } finally {
      diagnostics_channel.unsubscribe(AUDIT_CHANNEL, listen);
    }
  });

  it('within timestampSkewMs either way it is evaluated; one ms beyond, malformed', async () => {
    const B = 60_000;
    const v = await verifier({ now: () => NOW, policy: { timestampSkewMs: B } });
    const at = (account: string, ms: number): { account: string; secret: Uint8Array; code: string; timestamp: number } =>
      ({ account, secret: KEY, code: codeAt(ms), timestamp: ms });
    const results = await v.verifyBatch([at('a', NOW - B), at('b', NOW + B), at('c', NOW - B - 1), at('d', NOW + B + 1)]);
    expect(results.map((r) => r.status)).toEqual(['valid', 'valid', 'malformed', 'malformed']);
    expect(results[2]).toEqual({ status: 'malformed', reason: 'timestamp' });
  });

  it('defaults to fleetSkewMs, and a request without a timestamp is at the verifier\'s clock', async () => {
    const v = await verifier({ now: () => NOW, policy: { fleetSkewMs: 120_000 } });
    expect((await v.verify({ account: 'a', secret: KEY, code: codeAt(NOW - 120_000), timestamp: NOW - 120_000 })).status).toBe('valid');
    expect(await v.verify({ account: 'b', secret: KEY, code: codeAt(NOW - 150_000), timestamp: NOW - 150_000 }))
      .toEqual({ status: 'malformed', reason: 'timestamp' });
    expect(await v.verify({ account: 'c', secret: KEY, code: codeAt(NOW) })).toMatchObject({ status: 'valid', delta: 0 });
  });

  it('without an account, or without a store, any timestamp is verified (the caller owns replay)', async () => {
    const stateful = await verifier({ now: () => NOW });
    const stateless = await verifier({ now: () => NOW, store: null });
    const old = { secret: KEY, code: codeAt(59_000), timestamp: 59_000 };
    expect((await stateful.verify(old)).status).toBe('valid');
    expect((await stateless.verify({ ...old, account: 'alice' })).status).toBe('valid');
  });

  it('a far time first seen on an item without an account still refuses the next item with one at that time', async () => {
    // prepare.ts keeps the last time's step and whether it is far: the batches' items mostly share one.
    const v = await verifier({ now: () => NOW });
    const old = NOW - 3_600_000;
    const results = await v.verifyBatch([
      { secret: KEY, code: codeAt(old), timestamp: old },
      { account: 'a', secret: KEY, code: codeAt(old), timestamp: old },
      { account: 'b', secret: KEY, code: codeAt(NOW), timestamp: NOW },
      { account: 'c', secret: KEY, code: codeAt(old), timestamp: old },
      { secret: KEY, code: codeAt(old), timestamp: old },
    ]);
    expect(results.map((r) => r.status === 'malformed' ? r.reason : r.status)).toEqual(['valid', 'timestamp', 'valid', 'timestamp', 'valid']);
  });

  it('HOTP: a stray timestamp plays no part (counters do not come from the time)', async () => {
    const v = await HotpVerifier.create({ threads: 0 });
    CLOSE.push(() => v.close());
    const req = { account: 'a', secret: KEY, code: hotp.generate(KEY, 0), timestamp: 0 } as HotpRequest;
    expect(await v.verify(req)).toMatchObject({ status: 'valid', step: 0 });
  });

  it('rejects a bad option', async () => {
    await expect(TotpVerifier.create({ policy: { timestampSkewMs: 999 } }))
      .rejects.toThrow(/"policy.timestampSkewMs" expected an integer 1000..86400000, got 999/);
    await expect(TotpVerifier.create({ now: 5 as unknown as () => number })).rejects.toThrow(/"now" expected a function/);
  });

  it('over HTTP, {"timestamp": 0} with an account is malformed', async () => {
    const { server } = await inProcess({});
    CLOSE.push(() => server.close());
    const r = await post(server.url, { account: 'alice', secret: KEY_B32, code: totp.generate(KEY_B32, { timestamp: 0 }), timestamp: 0 });
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ status: 'malformed', reason: 'timestamp' });
  });
});

// The replay that the bound closes, at its edges. A code is accepted on machine A at its
// clock c with the furthest timestamp allowed (c + B) and the furthest step (+future): the
// highest step a verification at c can mark. Later an attacker sends the same code to
// machine B, whose clock is behind A's by up to fleetSkewMs (S), with the timestamp that puts
// the code back in the window if the bound allows it (else the nearest one allowed). Whatever the
// time, the answer is never 'valid': while the mark lives it is 'replayed'; after it has
// expired, the code is out of every window a timestamp within the bound can reach.
describe('a used code is never accepted again by an in-bound timestamp', () => {
  const cases = [
    { name: 'defaults (window ±1, 30 s, S 5 min, B = S)', period: 30, past: 1, future: 1, S: 300_000, B: 300_000 },
    { name: 'S 0, B 1 s, window 2/0', period: 30, past: 2, future: 0, S: 0, B: 1000 },
    { name: '60 s steps, window 1/3, S 10 s, B 45 s', period: 60, past: 1, future: 3, S: 10_000, B: 45_000 },
  ];
  it.each(cases)('$name', async ({ period, past, future, S, B }) => {
    const P = period * 1000;
    let real = 0;
    const store = new MemoryStore({ now: () => real });
    CLOSE.push(() => store.close());
    const policy = { fleetSkewMs: S, timestampSkewMs: B, maxFailures: 100 };
    const window = { past, future };
    const a = await verifier({ store, period, window, policy, now: () => real });
    const b = await verifier({ store, period, window, policy, now: () => real - S });
    // The mark's life (policy/options.ts), and a sweep of attack times past it.
    const life = (past + future + 2) * P + S + 2 * B;
    let account = 0;
    let expiredTries = 0;
    const seen = new Map<string, number>();
    for (const offset of [0, 1, P / 2, P - 1]) {
      const c = NOW - (NOW % P) + offset;
      for (let t1 = c; t1 <= c + life + 2 * P; t1 += P / 4) {
        for (const lowest of [false, true]) {
          const name = `acct-${++account}`;
          real = c;
          const ts = c + B;
          const code = codeAt(ts + future * P, period);
          const first = await a.verify({ account: name, secret: KEY, code, timestamp: ts });
          expect(first).toMatchObject({ status: 'valid', delta: future });
          real = t1;
          const clockB = real - S;
          const want = lowest ? clockB - B : Math.min(clockB + B, Math.max(clockB - B, ts));
          const again: VerifyResult = await b.verify({ account: name, secret: KEY, code, timestamp: want });
          expect(again.status, `attack at c + ${t1 - c} ms, timestamp ${want - c} ms after c`).not.toBe('valid');
          seen.set(again.status, (seen.get(again.status) ?? 0) + 1);
          if (t1 - c > life) expiredTries++;
        }
      }
    }
    // Both protections were exercised: the mark (early attacks reach the code: 'replayed') and
    // the bound (after the mark has expired, no window reaches it: 'invalid').
    expect(seen.get('replayed')).toBeGreaterThan(0);
    expect(expiredTries).toBeGreaterThan(0);
    expect(seen.get('invalid')).toBeGreaterThan(0);
  });
});

// A batch's requests of one account run in rounds, one after the other (verifier.ts #round),
// each waiting for the store. The mark's margin (one period, policy/options.ts) covers the time
// between reading the clock and the store's check within a round, not a batch that runs rounds
// for longer than that: each round is checked against the clock when it runs.
describe('a request put off to a later round is checked against the clock when that round runs', () => {
  it('a code whose mark expires while earlier rounds run is not accepted again', async () => {
    const P = 30_000;
    const B = 1000;
    // One clock for the verifier and the store; each time the verifier reads it, it moves on by
    // `tick` (the time a round takes: long, here, to pass the mark's margin).
    let clock = 0;
    let tick = 0;
    const store = new MemoryStore({ now: () => clock });
    CLOSE.push(() => store.close());
    const v = await verifier({ store, window: 1, policy: { fleetSkewMs: 0, timestampSkewMs: B, maxFailures: 100 }, now: () => {
      const t = clock;
      clock += tick;
      return t;
    } });
    // Accepted at c (a step's start) with the furthest timestamp and step: c + B, step + 1.
    const c = NOW - (NOW % P);
    clock = c;
    const code = codeAt(c + B + P);
    expect(await v.verify({ account: 'alice', secret: KEY, code, timestamp: c + B })).toMatchObject({ status: 'valid', delta: 1 });
    // The mark lives 4 P + 2 B (122 s). A batch at c + 90 s: a wrong code, then the used one at
    // the lowest timestamp allowed (its window still reaches the used step). The second runs in a
    // round of its own, 40 s later by the store's clock: after the mark has expired.
    clock = c + 90_000;
    tick = 40_000;
    const results = await v.verifyBatch([
      { account: 'alice', secret: KEY, code: code === '000000' ? '111111' : '000000', timestamp: c + 90_000 },
      { account: 'alice', secret: KEY, code, timestamp: c + 90_000 - B },
    ]);
    expect(results[0]).toEqual({ status: 'invalid' });
    expect(results[1]).toEqual({ status: 'malformed', reason: 'timestamp' });
  });
});

// Within a round, the time from the timestamps' check to the store's commit is the mark's margin
// too: a slice slower than one period (a long wait for a worker, or for the store) commits
// nothing, since a mark it needed may have expired meanwhile.
describe('a slice slower than one period from its check to its commit commits nothing', () => {
  /** A store (no synchronous answers: the verifier awaits it) whose begin takes `delay` ms of the shared clock. */
  function slowStore(inner: MemoryStore, clock: { t: number; delay: number }): Store {
    return {
      begin: async (accounts, limits) => {
        clock.t += clock.delay;
        return inner.begin(accounts, limits);
      },
      finish: (accounts, ops, limits) => inner.finish(accounts, ops, limits),
      health: () => inner.health(),
      close: async () => {},
      namespace: (name) => inner.namespace(name),
      forget: (account) => inner.forget(account),
      putBackupCodes: (a, set, keepMs) => inner.putBackupCodes(a, set, keepMs),
      backupCodeInfo: (a) => inner.backupCodeInfo(a),
      consumeBackupCode: (a, hash) => inner.consumeBackupCode(a, hash),
      deleteBackupCodes: (a) => inner.deleteBackupCodes(a),
    };
  }

  it('a replay whose begin outlasts the mark is an error, not valid; one period exactly still commits', async () => {
    const P = 30_000;
    const B = 1000;
    const clock = { t: 0, delay: 0 };
    const inner = new MemoryStore({ now: () => clock.t });
    CLOSE.push(() => inner.close());
    const policy = { fleetSkewMs: 0, timestampSkewMs: B, maxFailures: 100 };
    const v = await verifier({ store: slowStore(inner, clock), window: 1, policy, now: () => clock.t });
    const c = NOW - (NOW % P);
    clock.t = c;
    const code = codeAt(c + B + P);
    expect(await v.verify({ account: 'alice', secret: KEY, code, timestamp: c + B })).toMatchObject({ status: 'valid', delta: 1 });
    // At c + 2B the same timestamp is still within the bound, and its window reaches the used
    // step; the mark (4 P + 2 B) expires while this attempt's begin takes 4 P.
    clock.t = c + 2 * B;
    clock.delay = 4 * P;
    expect(await v.verify({ account: 'alice', secret: KEY, code, timestamp: c + B })).toEqual({ status: 'error', reason: 'internal' });
    // Nothing was committed by it: the account's next code, in time, is valid.
    clock.delay = P;
    const next = codeAt(clock.t);
    expect(await v.verify({ account: 'alice', secret: KEY, code: next, timestamp: clock.t })).toMatchObject({ status: 'valid' });
  });
});
