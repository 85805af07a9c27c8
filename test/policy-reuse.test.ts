// What the policy path keeps from call to call, and that it carries nothing over: the verifier's
// spare "seen" set (StringSet.clear), PolicyRunner's spare StatefulItems, and MemoryStore's
// sweep (it frees expired credentials as new ones need them) and reused scratch.

import { describe, expect, it } from 'vitest';
import { MemoryStore, TotpVerifier, totp } from '../src/index.js';
import { PolicyRunner } from '../src/policy/runner.js';
import { resolvePolicy } from '../src/policy/options.js';
import { StringSet, stringHash } from '../src/strhash.js';
import {
  type AttemptLimits, BEGIN_GO, BEGIN_LOCKED, DONE_COMMITTED, DONE_FAILED, DONE_REPLAYED, OP_FAILURE, OP_SUCCESS,
} from '../src/store/types.js';
import { KEY } from './helpers/fixtures.js';

const LIMITS: AttemptLimits = {
  maxFailures: 3, lockoutMs: 60_000, failureMemoryMs: 60_000, reservationMs: 60_000, replayMs: 120_000,
  driftMemoryMs: 3_600_000,
};

describe('StringSet', () => {
  it('after clear, holds nothing of before: the same strings are new again, and duplicates are still found', () => {
    const set = new StringSet(3);
    const words = ['alice', 'bob', 'carol'];
    for (const w of words) expect(set.add(w, stringHash(w))).toBe(true);
    expect(set.add('bob', stringHash('bob'))).toBe(false);
    expect(() => set.add('dave', stringHash('dave'))).toThrow(RangeError);
    set.clear();
    expect(set.limit).toBe(3);
    for (const w of words) expect(set.add(w, stringHash(w))).toBe(true);
    expect(set.add('carol', stringHash('carol'))).toBe(false);
  });

  it('tells strings with the same hash apart, before and after clear', () => {
    const set = new StringSet(8);
    for (let round = 0; round < 2; round++) {
      expect(set.add('x', 7)).toBe(true);
      expect(set.add('y', 7)).toBe(true); // same hash, another string
      expect(set.add('x', 7)).toBe(false);
      expect(set.add('y', 7)).toBe(false);
      set.clear();
    }
  });
});

describe('PolicyRunner spare items', () => {
  const runner = (): PolicyRunner => new PolicyRunner(
    new MemoryStore(), resolvePolicy(undefined, 30, 1, 1), { past: 1, future: 1 }, 'test', () => {}, Date.now,
  );

  it('gives back released items empty, with a new accounts array, only when large enough', async () => {
    const r = runner();
    const a = r.items(100, 0);
    a.add('acct', stringHash('acct'), 0, 0, 5, 1000);
    const frozen = Object.freeze(a.accounts);
    r.release(a);
    expect(r.items(1000, 0)).not.toBe(a); // too small for 1,000
    const b = r.items(50, 0);
    expect(b).toBe(a);
    expect(b.size).toBe(0);
    expect(b.accounts).not.toBe(frozen);
    expect(Object.isFrozen(b.accounts)).toBe(false);
    expect(r.items(50, 0)).not.toBe(a); // taken: not handed out twice
  });

  it('seals the accounts as they were added: trimmed to size, frozen, no more adds', () => {
    const r = runner();
    const a = r.items(100, 0);
    a.add('one', stringHash('one'), 0, 0, 5, 1000);
    a.add('two', stringHash('two'), 1, 1, 5, 1000);
    const sealed = a.seal();
    expect(sealed).toEqual(['one', 'two']);
    expect(Object.isFrozen(sealed)).toBe(true);
    expect(a.seal()).toBe(sealed);
    expect(() => a.add('three', stringHash('three'), 2, 2, 5, 1000)).toThrow(TypeError);
    expect(a.size).toBe(2);
    expect(a.accounts).toEqual(['one', 'two']);
  });
});

describe('MemoryStore reuse', () => {
  it('sweeps expired credentials as new ones need them: steady arrivals keep it near the live count', async () => {
    // 100 new credentials per call, each kept 20 calls: 2,000 live. Records are freed as new
    // ones need them (at most 2 calls' worth ahead), not in bursts: at most live + 3 calls'.
    let now = 20_000_000;
    const store = new MemoryStore({ maxCredentials: 1_000_000, now: () => now });
    let most = 0;
    for (let b = 0; b < 400; b++) {
      const accounts = Array.from({ length: 100 }, (_, i) => `s${b}-${i}`);
      expect((await store.begin(accounts, LIMITS)).state.every((s) => s === BEGIN_GO)).toBe(true);
      const done = await store.finish(accounts, {
        op: new Uint8Array(100).fill(OP_SUCCESS), step: new Float64Array(100).fill(1), drift: new Float64Array(100).fill(Number.NaN),
      }, LIMITS);
      expect(done.every((d) => d === DONE_COMMITTED)).toBe(true);
      now += LIMITS.replayMs / 20;
      if (b >= 40) most = Math.max(most, store.size);
    }
    expect(most).toBeGreaterThanOrEqual(2000);
    expect(most).toBeLessThanOrEqual(2000 + 3 * 100);
    await store.close();
  });

  it('answers each account right through begins and finishes of changing sizes (reused scratch)', async () => {
    let now = 50_000_000;
    const store = new MemoryStore({ now: () => now });
    const sizes = [300, 7, 1, 300, 1200, 40];
    const marks = new Map<string, number>(); // what the store should answer
    for (const [c, size] of sizes.entries()) {
      // Half the accounts are new; half were in the call before (their mark is c - 1).
      const accounts = Array.from({ length: size }, (_, i) => (i % 2 === 0 ? `n${c}-${i}` : `n${c - 1}-${i - 1}`));
      const b = await store.begin(accounts, LIMITS);
      expect(Array.from(b.lastStep)).toEqual(accounts.map((a) => marks.get(a) ?? -1));
      // Odd calls fail every account once; even calls commit step c.
      const op = c % 2 === 0 ? OP_SUCCESS : OP_FAILURE;
      const done = await store.finish(accounts, {
        op: new Uint8Array(size).fill(op), step: new Float64Array(size).fill(c), drift: new Float64Array(size).fill(Number.NaN),
      }, LIMITS);
      expect(Array.from(done)).toEqual(accounts.map(() => (op === OP_SUCCESS ? DONE_COMMITTED : DONE_FAILED)));
      if (op === OP_SUCCESS) for (const a of accounts) marks.set(a, c);
      now += 1000;
    }
    // A replay of the last commit (call 4) is refused; a locked account stays locked.
    expect(marks.get('n4-0')).toBe(4);
    expect((await store.begin(['n4-0'], LIMITS)).state[0]).toBe(BEGIN_GO);
    expect(Array.from(await store.finish(['n4-0'], {
      op: Uint8Array.of(OP_SUCCESS), step: Float64Array.of(4), drift: Float64Array.of(Number.NaN),
    }, LIMITS))).toEqual([DONE_REPLAYED]);
    for (let k = 0; k < LIMITS.maxFailures; k++) {
      await store.begin(['locked'], LIMITS);
      await store.finish(['locked'], { op: Uint8Array.of(OP_FAILURE), step: Float64Array.of(0), drift: Float64Array.of(Number.NaN) }, LIMITS);
    }
    expect((await store.begin(['locked'], LIMITS)).state[0]).toBe(BEGIN_LOCKED);
    await store.close();
  });
});

describe('verifier: batches one after another with a MemoryStore', () => {
  it('carry nothing over between batches of changing sizes, duplicates included', async () => {
    const now = Date.now();
    const code = totp.generate(KEY, { timestamp: now });
    const wrong = String((Number(code) + 500_000) % 1_000_000).padStart(6, '0');
    const store = new MemoryStore();
    const v = await TotpVerifier.create({ threads: 0, store });
    const req = (account: string, c = code) => ({ account, secret: KEY, code: c, timestamp: now });
    try {
      // 1: 2,000 new accounts, all valid.
      const first = Array.from({ length: 2000 }, (_, i) => req(`a${i}`));
      expect((await v.verifyBatch(first)).every((r) => r.status === 'valid')).toBe(true);
      // 2: the first 1,000 again (replayed) and 500 new accounts twice each (valid, then replayed).
      const second = [...first.slice(0, 1000), ...Array.from({ length: 1000 }, (_, i) => req(`b${i >> 1}`))];
      const answers = await v.verifyBatch(second);
      expect(answers.slice(0, 1000).every((r) => r.status === 'replayed')).toBe(true);
      expect(answers.slice(1000).map((r) => r.status)).toEqual(Array.from({ length: 1000 }, (_, i) => (i % 2 === 0 ? 'valid' : 'replayed')));
      // 3: 1,500 new accounts with a wrong code: invalid, none seen before in the round.
      const third = Array.from({ length: 1500 }, (_, i) => req(`c${i}`, wrong));
      expect((await v.verifyBatch(third)).every((r) => r.status === 'invalid')).toBe(true);
      // 4: a small batch: c0 twice with the right code (valid, then replayed), a1999 (replayed).
      expect((await v.verifyBatch([req('c0'), req('c0'), req('a1999')])).map((r) => r.status)).toEqual(['valid', 'replayed', 'replayed']);
      // 5: large again: b0..b499 replayed, 1,000 new valid.
      const fifth = [...Array.from({ length: 500 }, (_, i) => req(`b${i}`)), ...Array.from({ length: 1000 }, (_, i) => req(`d${i}`))];
      const last = await v.verifyBatch(fifth);
      expect(last.slice(0, 500).every((r) => r.status === 'replayed')).toBe(true);
      expect(last.slice(500).every((r) => r.status === 'valid')).toBe(true);
    } finally {
      await v.close();
      await store.close();
    }
  });
});
