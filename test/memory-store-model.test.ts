// MemoryStore against a plain model of the store's rules (a Map, no table, no sweep, no
// generations): random interleavings of begin / beginNow and finish / finishNow pairs (several
// open at once, finished with begin's array or another), forget (with pairs open, too), and time passing, on small
// tables that fill, sweep, reuse records and shift entries back.

import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../src/store/memory.js';
import { stringHash } from '../src/strhash.js';
import { type AttemptLimits, beginResult } from '../src/store/types.js';
import { Prng } from './helpers/prng.js';

const L: AttemptLimits = {
  maxFailures: 3, lockoutMs: 1500, failureMemoryMs: 2000, reservationMs: 1000, replayMs: 3000, driftMemoryMs: 5000,
};

/** A credential forgotten while attempts were in flight (store/memory.ts VOID). */
const VOID = -2;

interface Rec { h: number; f: number; fu: number; l: number; p: number; pu: number; d: number; x: number }

class Model {
  m = new Map<string, Rec>();
  constructor(public now: () => number) {}
  live(a: string): Rec | undefined {
    const r = this.m.get(a);
    if (r !== undefined && r.x <= this.now()) {
      this.m.delete(a);
      return undefined;
    }
    return r;
  }
  begin(a: string): [number, number, number, number] {
    const now = this.now();
    const r = this.live(a);
    if (r === undefined) {
      const pu = now + L.reservationMs;
      this.m.set(a, { h: -1, f: 0, fu: 0, l: 0, p: 1, pu, d: 0, x: pu });
      return [0, -1, 0, 0];
    }
    if (r.l > now) return [1, -1, 0, r.l - now];
    const f = r.fu > now ? r.f : 0;
    const p = r.pu > now ? r.p : 0;
    if (f + p >= L.maxFailures || (r.h === VOID && p > 0)) return [1, -1, 0, p > 0 ? r.pu - now : L.lockoutMs];
    if (r.h === VOID) r.h = -1;
    r.p = p + 1;
    r.pu = now + L.reservationMs;
    r.x = Math.max(r.x, r.pu);
    return [0, r.h, r.d, 0];
  }
  finish(a: string, op: number, step: number, drift: number): number {
    const now = this.now();
    let r = this.live(a);
    const p = r !== undefined && r.pu > now ? Math.max(0, r.p - 1) : 0;
    const make = (): Rec => {
      const n = { h: -1, f: 0, fu: 0, l: 0, p: 0, pu: 0, d: 0, x: 0 };
      this.m.set(a, n);
      return n;
    };
    if (r !== undefined && r.h === VOID) {
      r.p = p; // begun before a forget: its reservation back, nothing else
      return 5;
    }
    if (op === 0) {
      if (r !== undefined && r.h >= step) {
        r.p = p;
        return 1;
      }
      r ??= make();
      Object.assign(r, { h: step, f: 0, fu: 0, l: 0, p });
      r.x = Math.max(r.x, now + L.replayMs);
      if (!Number.isNaN(drift)) {
        r.d = drift;
        r.x = Math.max(r.x, now + L.driftMemoryMs);
      }
      return 0;
    }
    if (op === 1) {
      r ??= make();
      const f = (r.fu > now ? r.f : 0) + 1;
      r.p = p;
      if (f >= L.maxFailures) {
        Object.assign(r, { l: now + L.lockoutMs, f: 0, fu: 0 });
        r.x = Math.max(r.x, r.l);
        return 3;
      }
      r.f = f;
      r.fu = now + L.failureMemoryMs;
      r.x = Math.max(r.x, r.fu);
      return 2;
    }
    if (op === 3) {
      if (r !== undefined) Object.assign(r, { f: 0, fu: 0, l: 0, p });
      return 0;
    }
    if (r !== undefined) r.p = p;
    return 4;
  }
  forget(a: string): void {
    const r = this.live(a);
    if (r === undefined) return;
    // With attempts in flight it is left VOID until their reservation ends; otherwise dropped.
    if (r.p > 0 && r.pu > this.now()) Object.assign(r, { h: VOID, f: 0, fu: 0, l: 0, d: 0, x: r.pu });
    else this.m.delete(a);
  }
}

describe('MemoryStore against a model of its rules', () => {
  it.each([
    { seed: 1, max: 1000, names: 40 }, { seed: 2, max: 64, names: 30 }, { seed: 3, max: 1000, names: 300 },
    { seed: 4, max: 2000, names: 900 }, { seed: 5, max: 100, names: 45 },
  ])('seed $seed, maxCredentials $max, $names names', async ({ seed, max, names }) => {
    let now = 1_000_000;
    const clock = (): number => now;
    const store = new MemoryStore({ maxCredentials: max, now: clock });
    const model = new Model(clock);
    const rng = new Prng(seed);
    const pick = (k: number): number => rng.int(0, k - 1);
    const name = (i: number): string => (i % 7 === 0 ? `long-${'x'.repeat(40)}-${i}` : `n${i}`);
    const open: { accounts: string[]; now: boolean }[] = [];
    const busy = new Set<string>();
    for (let step = 0; step < 20_000; step++) {
      const what = pick(100);
      if (what < 35) {
        // begin 1..6 accounts not in an open pair (the verifier's one-pair-per-account-at-a-time
        // holds per round, not across concurrent batches; the model does not care either way).
        const accounts: string[] = [];
        const k = 1 + pick(6);
        for (let t = 0; t < k; t++) {
          const a = name(pick(names));
          if (!accounts.includes(a)) accounts.push(a);
        }
        Object.freeze(accounts);
        const useNow = pick(2) === 0;
        const got = useNow
          ? store.beginNow(accounts, Int32Array.from(accounts, stringHash), L, beginResult(accounts.length))
          : await store.begin(accounts, L);
        for (let i = 0; i < accounts.length; i++) {
          const want = model.begin(accounts[i]!);
          const have = [got.state[i], got.state[i] === 0 ? got.lastStep[i] : -1, got.state[i] === 0 ? got.drift[i] : 0,
            got.state[i] === 1 ? got.retryAfterMs[i] : 0];
          if (JSON.stringify(have) !== JSON.stringify(want)) {
            throw new Error(`step ${step}: begin ${accounts[i]} at ${now}: store ${JSON.stringify(have)}, model ${JSON.stringify(want)}`);
          }
        }
        open.push({ accounts, now: useNow });
        for (const a of accounts) busy.add(a);
      } else if (what < 70 && open.length > 0) {
        const [pair] = open.splice(pick(open.length), 1);
        const same = pick(4) !== 0;
        const accounts = same ? pair!.accounts : [...pair!.accounts];
        const n = accounts.length;
        const ops = { op: new Uint8Array(n), step: new Float64Array(n), drift: new Float64Array(n) };
        for (let i = 0; i < n; i++) {
          ops.op[i] = pick(4);
          ops.step[i] = 1000 + Math.floor(now / 500) - 3 + pick(6);
          ops.drift[i] = pick(3) === 0 ? Number.NaN : pick(5) - 2;
        }
        const done = pair!.now && pick(2) === 0 ? store.finishNow(accounts, ops, L, new Uint8Array(n)) : await store.finish(accounts, ops, L);
        for (let i = 0; i < n; i++) {
          const want = model.finish(accounts[i]!, ops.op[i]!, ops.step[i]!, ops.drift[i]!);
          if (done[i] !== want) {
            throw new Error(`step ${step}: finish ${accounts[i]} op ${ops.op[i]} step ${ops.step[i]} at ${now}: store ${done[i]}, model ${want}`);
          }
        }
      } else if (what < 73) {
        const a = name(pick(names));
        await store.forget(a);
        model.forget(a);
      } else {
        now += pick(400);
      }
    }
    expect(store.size).toBeGreaterThan(0);
    await store.close();
  });
});
