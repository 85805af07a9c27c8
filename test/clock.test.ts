// Fleet clock health. Phones drift N(0, 5 s); the server's clock is off by a skew. Targets
// (issue: policy and state): a ±30 s skew is reported within 500 successful verifications, and
// 1,000,000 verifications at zero skew raise no alarm.
//
// The million runs on ClockMonitor itself, fed what the verifier would feed it: for a request
// at server time t from a phone at t + offset, the step the phone shows, accepted only within
// the window (±1), as (midpoint of that step − t). The 500 run end to end, through the verifier,
// with real codes.

import diagnostics_channel from 'node:diagnostics_channel';
import { describe, expect, it } from 'vitest';
import { CLOCK_CHANNEL, type ClockHealth, TotpVerifier, totp } from '../src/index.js';
import { ClockMonitor } from '../src/policy/clock.js';
import { KEY } from './helpers/fixtures.js';
import { Prng, testSeed } from './helpers/prng.js';

const PERIOD = 30;
const seed = testSeed();

/** Standard normal deviates (Box–Muller) from the seeded PRNG. */
function normal(rng: Prng): number {
  const u = (rng.u32() + 1) / 2 ** 32;
  const v = rng.u32() / 2 ** 32;
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/**
 * Feeds `count` verifications to a monitor: server skew `skew` s (positive: server ahead),
 * phones N(0, 5 s). Returns the verification at which the status first became `want`, or -1.
 */
function simulate(monitor: ClockMonitor, rng: Prng, skew: number, count: number, watch: () => string, want: string): number {
  for (let k = 1; k <= count; k++) {
    const t = 1_700_000_000 + rng.u32() / 16; // server time, s: anywhere within steps
    const phone = t - skew + 5 * normal(rng);
    const step = Math.floor(t / PERIOD);
    const phoneStep = Math.floor(phone / PERIOD);
    if (Math.abs(phoneStep - step) > 1) continue; // outside the window: invalid, never a sample
    monitor.add((phoneStep + 0.5) * PERIOD - t);
    if (watch() === want) return k;
  }
  return -1;
}

describe(`ClockMonitor (seed ${seed})`, () => {
  it('1,000,000 verifications at zero skew: no alarm, ever', () => {
    const rng = new Prng(seed);
    let alarms = 0;
    const monitor = new ClockMonitor(undefined, PERIOD, (h) => { if (h.status !== 'ok') alarms++; });
    const first = simulate(monitor, rng, 0, 1_000_000, () => monitor.summary().status, 'server-ahead');
    expect(first).toBe(-1);
    expect(alarms).toBe(0);
    const h = monitor.summary();
    expect(h.status).toBe('ok');
    expect(Math.abs(h.offsetSeconds)).toBeLessThan(3);
  });

  it.each([30, -30])('a %i s server skew is reported within 500 successful verifications', (skew) => {
    const rng = new Prng(seed + skew);
    let status = 'insufficient-data';
    const monitor = new ClockMonitor(undefined, PERIOD, (h) => { status = h.status; });
    // Healthy first, long enough to fill the window with good samples; then the clock jumps.
    expect(simulate(monitor, rng, 0, 2000, () => status, 'server-ahead')).toBe(-1);
    expect(status).toBe('ok');
    const want = skew > 0 ? 'server-ahead' : 'server-behind';
    const at = simulate(monitor, rng, skew, 500, () => status, want);
    expect(at).toBeGreaterThan(0);
    expect(at).toBeLessThanOrEqual(500);
    const h = monitor.summary();
    expect(h.message).toContain(skew > 0 ? 'ahead' : 'behind');
    expect(Math.abs(h.offsetSeconds)).toBeGreaterThan(10);
  });

  /** Two small monitors, one fed by add and one by addRepeated, publishing into one list. */
  const twoMonitors = (): { events: [string, string][]; single: ClockMonitor; repeated: ClockMonitor } => {
    const events: [string, string][] = [];
    const single = new ClockMonitor({ samples: 16, minSamples: 4 }, PERIOD, (h) => events.push(['single', JSON.stringify(h)]));
    const repeated = new ClockMonitor({ samples: 16, minSamples: 4 }, PERIOD, (h) => events.push(['repeated', JSON.stringify(h)]));
    return { events, single, repeated };
  };

  it('addRepeated(x, k) gives the same summaries and events as k add(x), across alarms and the ring wrapping', () => {
    const rng = new Prng(seed ^ 0x5eed);
    const { events, single, repeated } = twoMonitors();
    let changes = 0;
    for (let run = 0; run < 400; run++) {
      // Runs of one offset, long and short, that swing the mean across ±threshold and back.
      const offset = (rng.u32() % 81) - 40 + (rng.u32() % 4) / 4;
      const times = rng.u32() % 3 === 0 ? rng.u32() % 40 : rng.u32() % 4;
      const before = events.length;
      for (let t = 0; t < times; t++) single.add(offset);
      const mid = events.length;
      repeated.addRepeated(offset, times);
      const fromSingle = events.slice(before, mid).map(([, h]) => h);
      const fromRepeated = events.slice(mid).map(([, h]) => h);
      expect(fromRepeated).toEqual(fromSingle);
      expect(repeated.summary()).toEqual(single.summary());
      changes += fromSingle.length;
    }
    expect(changes).toBeGreaterThan(20); // the runs did move the verdict back and forth
  });

  it('long runs of one offset (skipped once the ring holds only it) match as many add(x), across the 1M recompute', () => {
    const rng = new Prng(seed ^ 0x10c);
    const { events, single, repeated } = twoMonitors();
    let total = 0;
    for (let run = 0; run < 120; run++) {
      // Offsets as the verifier makes them (not exact in binary), some runs far longer than the ring.
      const offset = (rng.u32() % 61) - 30 + rng.u32() / 2 ** 32 / 3;
      const times = run === 60 ? 1_000_050 : rng.u32() % 2 === 0 ? 16 + (rng.u32() % 2000) : rng.u32() % 20;
      const before = events.length;
      for (let t = 0; t < times; t++) single.add(offset);
      const mid = events.length;
      // In pieces: a run split across calls skips as well.
      let left = times;
      while (left > 0) {
        const k = Math.min(left, 1 + (rng.u32() % 700));
        repeated.addRepeated(offset, k);
        left -= k;
      }
      expect(events.slice(mid).map(([, h]) => h)).toEqual(events.slice(before, mid).map(([, h]) => h));
      expect(repeated.summary()).toEqual(single.summary());
      total += times;
    }
    // One more add of a new offset lands in the same slot of both rings: same sums after it.
    single.add(1.1);
    repeated.add(1.1);
    expect(repeated.summary()).toEqual(single.summary());
    expect(total).toBeGreaterThan(1_000_000);
  });

  it('refuses bad options', () => {
    expect(() => new ClockMonitor({ samples: 8 }, PERIOD, () => {})).toThrow(/"clock.samples" expected an integer 16..100000, got 8/);
    expect(() => new ClockMonitor({ thresholdSeconds: '10' }, PERIOD, () => {})).toThrow(TypeError);
  });
});

describe('clock health through the verifier', () => {
  it('a server 30 s ahead of N(0, 5 s) phones is reported, as an event and by clockHealth()', async () => {
    const rng = new Prng(seed ^ 0x5eed);
    const v = await TotpVerifier.create({ threads: 0, store: null });
    const events: (ClockHealth & { verifier: string })[] = [];
    const listener = (e: unknown): void => { events.push(e as ClockHealth & { verifier: string }); };
    diagnostics_channel.subscribe(CLOCK_CHANNEL, listener);
    try {
      expect(v.clockHealth().status).toBe('insufficient-data');
      let valid = 0;
      let reportedAt = -1;
      while (valid < 500 && reportedAt < 0) {
        const phoneMs = 1_700_000_000_000 + rng.int(0, 1e9);
        const serverMs = phoneMs + 30_000 - Math.round(5000 * normal(rng));
        const r = await v.verify({ secret: KEY, code: totp.generate(KEY, { timestamp: phoneMs }), timestamp: serverMs });
        if (r.status !== 'valid') continue;
        valid++;
        if (v.clockHealth().status === 'server-ahead') reportedAt = valid;
      }
      expect(reportedAt).toBeGreaterThan(0);
      expect(reportedAt).toBeLessThanOrEqual(500);
      const h = v.clockHealth();
      expect(h.message).toMatch(/this server's clock looks about \d+ s ahead of its users' phones/);
      expect(h.offsetSeconds).toBeLessThan(-15);
      expect(events.map((e) => e.status)).toEqual(['server-ahead']);
      expect(events[0]!.verifier).toBe('totp-fleet');
    } finally {
      diagnostics_channel.unsubscribe(CLOCK_CHANNEL, listener);
      await v.close();
    }
  });

  // The verifier gives the clock its matches in runs (one addRepeated call per run of one
  // offset): stateless ones as it answers them, stateful ones after the store's finish.
  it('one batch gives the clock one sample per valid result, of its offset, stateless and stateful alike', async () => {
    const base = 1_700_000_010_000; // 10 s into a step
    for (const accounts of ['none', 'all', 'every other'] as const) {
      const v = await TotpVerifier.create({ threads: 0, store: accounts === 'none' ? null : undefined, clock: { samples: 1000 }, now: () => base });
      try {
        const requests: { secret: typeof KEY; code: string; timestamp: number; account?: string }[] = [];
        for (let k = 0; k < 60; k++) {
          // Runs of five requests at one time; the phone one step behind in every third run, and
          // every seventh code from outside the window (invalid: no sample).
          const timestamp = base + 1000 * Math.floor(k / 5);
          const behind = Math.floor(k / 5) % 3 === 2 ? 30_000 : 0;
          const code = totp.generate(KEY, { timestamp: k % 7 === 6 ? timestamp + 300_000 : timestamp - behind });
          const account = accounts === 'all' || (accounts === 'every other' && k % 2 === 0) ? `acct-${k}` : undefined;
          requests.push({ secret: KEY, code, timestamp, ...(account === undefined ? {} : { account }) });
        }
        const results = await v.verifyBatch(requests);
        const offsets = results.flatMap((r, k) =>
          r.status === 'valid' ? [(r.step! + 0.5) * PERIOD - requests[k]!.timestamp / 1000] : []);
        expect(offsets.length).toBeGreaterThan(40);
        const h = v.clockHealth();
        expect(h.samples).toBe(offsets.length);
        expect(h.offsetSeconds).toBeCloseTo(offsets.reduce((a, b) => a + b, 0) / offsets.length, 9);
      } finally {
        await v.close();
      }
    }
  });
});
