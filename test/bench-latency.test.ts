// The latency suite (single verify() calls at offered rates, what `--plan` plans from): what it
// measures and what it leaves out. offerLoad is wrapped to see every load the suite offers.

import { describe, expect, it, vi } from 'vitest';
import type { LoadOptions } from '../src/bench/load.js';
import { PROFILES } from '../src/bench/profiles.js';
import { createProgress } from '../src/bench/progress.js';
import { runSuites } from '../src/bench/run.js';

const offered: LoadOptions[] = [];
vi.mock('../src/bench/load.js', async (importOriginal) => {
  const mod = await importOriginal<typeof import('../src/bench/load.js')>();
  return {
    ...mod,
    offerLoad: (opts: LoadOptions, call: (i: number) => Promise<unknown>) => {
      offered.push(opts);
      return mod.offerLoad(opts, call);
    },
  };
});

describe('latency suite', () => {
  it('does not record the first open-loop load a configuration gets (the generator and the call path tier up under it)', async () => {
    // Measured on the 2-core VM (2026-11-24, quiet): right after the suite's warm-up, the first
    // 0.5 s at 1,000/s had max 2.1-5.2 ms in 6 runs of 6; the same load offered again right after
    // it 0.3-1.6 ms; with 0.2 s of untimed load first, the first level's max was 0.4-0.6 ms in 6 of 6.
    const profile = {
      ...PROFILES.quick!, name: 'test', seconds: { latency: 2 }, loadSeconds: 0.2, loadLevels: [1_000, 2_000],
    };
    offered.length = 0;
    const report = await runSuites({ profile, only: ['latency'], maxThreads: 1, progress: createProgress(process.stderr, true) });
    const configs = new Set(report.loads.map((l) => l.config));
    expect(configs.size).toBe(2);
    // One untimed load per configuration before its first level, at that level's rate.
    expect(offered).toHaveLength(report.loads.length + configs.size);
    for (const config of configs) {
      const levels = report.loads.filter((l) => l.config === config);
      expect(levels.map((l) => l.offered)).toEqual([1_000, 2_000]);
    }
    expect(offered.map((o) => o.rate)).toEqual([1_000, 1_000, 2_000, 1_000, 1_000, 2_000]);
  }, 30_000);

  it('records a rate far beyond the verifier as saturated, not as a crash on its ERR_OVERLOADED', async () => {
    // `--plan --rate 100M` offers 25 M/s first: the backlog the suite allowed (rate / 2) passed
    // the verifier's maxQueue (1,000,000), its rejection failed the load, and the run ended
    // "totp-fleet: overloaded: 999424 items in flight" (exit status 1, no plan).
    const profile = {
      ...PROFILES.quick!, name: 'test', seconds: { latency: 2 }, loadSeconds: 0.2, loadLevels: [25_000_000],
    };
    const report = await runSuites({ profile, only: ['latency'], maxThreads: 1, progress: createProgress(process.stderr, true) });
    expect(report.loads).toHaveLength(2);
    for (const l of report.loads) expect(l).toMatchObject({ offered: 25_000_000, saturated: true });
  }, 30_000);
});
