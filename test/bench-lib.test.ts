// The parts of the bench harness that decide what a report says: the suite registry, a peer
// that is not installed, the open-loop load generator, and the chart's data.

import { describe, expect, it } from 'vitest';
import { chartData } from '../src/bench/chart.js';
import { fixtures } from '../src/bench/fixtures.js';
import { startKernelGang } from '../src/bench/kernel-threads.js';
import { packChunk } from '../src/bench/kernel.js';
import { offerLoad } from '../src/bench/load.js';
import { machineInfo } from '../src/bench/machine.js';
import { peerTasks } from '../src/bench/peer-tasks.js';
import { importPeer, PeerMissingError } from '../src/bench/peers/peer.js';
import { planLevels } from '../src/bench/plan.js';
import { PROFILES } from '../src/bench/profiles.js';
import { parseReport } from '../src/bench/report-file.js';
import { Report } from '../src/bench/report.js';
import { createProgress } from '../src/bench/progress.js';
import { runSuites } from '../src/bench/run.js';
import { SuiteRegistry } from '../src/bench/suite.js';
import { coreModule, instantiateCore } from '../src/wasm.js';
import { builtinSuites } from '../src/bench/suites/index.js';
import { syntheticReport } from './helpers/bench-report.js';

const noop = { title: 't', run: async () => {} };

describe('suite registry', () => {
  it('holds every suite the profiles name, and refuses duplicates and bad ids', () => {
    const registry = builtinSuites();
    for (const p of Object.values(PROFILES)) for (const id of p.suites) expect(registry.get(id), id).toBeDefined();
    expect(() => registry.register({ id: 'threads', ...noop })).toThrow(RangeError);
    expect(() => new SuiteRegistry([{ id: 'Bad Id', ...noop }])).toThrow(/lower-case letters/);
    const mine = new SuiteRegistry([{ id: 'policy-memory', ...noop }]);
    expect(mine.ids()).toEqual(['policy-memory']);
  });

  it('the runner refuses a suite named twice before anything runs', async () => {
    let runs = 0;
    const registry = new SuiteRegistry([{ id: 'once', title: 't', run: async () => { runs++; } }]);
    await expect(runSuites({ profile: PROFILES.quick!, only: ['once', 'once'], registry, progress: createProgress(process.stderr, true) }))
      .rejects.toThrow(/"once" named more than once/);
    expect(runs).toBe(0);
  });
});

describe('peers', () => {
  it('a package that is not installed is PeerMissingError, noted in the report, and yields no tasks', async () => {
    const load = () => import('totp-fleet-no-such-peer' as string);
    await expect(importPeer('no-such-peer', load)).rejects.toBeInstanceOf(PeerMissingError);
    const report = new Report(machineInfo(), 'test', PROFILES.quick!.budget);
    const entry = { key: 'ghost', name: 'ghost', factory: () => importPeer('ghost', load) as never };
    expect(await peerTasks(report, 's', 'ghost', [entry])).toBeNull();
    expect(report.peers).toEqual([{ name: 'ghost', version: null, status: 'not installed' }]);
    expect(report.notes[0]!.text).toMatch(/ghost is not installed \(it is a dev dependency/);
    expect(report.summary()).toMatch(/Peers not installed, not measured: ghost/);
  });

  it('any other failure of a peer is not mistaken for "not installed"', async () => {
    await expect(importPeer('broken', () => Promise.reject(new SyntaxError('bad package')))).rejects.toBeInstanceOf(SyntaxError);
  });
});

describe('offerLoad (open loop)', () => {
  it('offers the rate asked for and measures from the scheduled arrival', async () => {
    let calls = 0;
    const r = await offerLoad({ rate: 2000, seconds: 0.2, maxOutstanding: 1000 }, async () => { calls++; });
    expect(calls).toBe(400);
    expect(r.requests).toBe(400);
    expect(r.saturated).toBe(false);
    expect(r.achieved).toBeGreaterThan(2000 * 0.9);
    expect(r.p50).toBeLessThanOrEqual(r.p99);
    expect(r.p99).toBeLessThanOrEqual(r.max);
  });

  it('reports saturation when each call costs more than the arrival interval', async () => {
    // 1 ms of work per call, offered every 0.1 ms: the backlog grows until the bound stops it.
    // Each call waits for a turn of the event loop, then works 1 ms: calls overlap as they
    // would on a verifier, and the backlog grows by nine per millisecond.
    const busy = async (): Promise<void> => {
      await new Promise((resolve) => setImmediate(resolve));
      const end = performance.now() + 1;
      while (performance.now() < end);
    };
    const r = await offerLoad({ rate: 10_000, seconds: 1, maxOutstanding: 200 }, busy);
    expect(r.saturated).toBe(true);
    expect(r.requests).toBeLessThan(10_000);
    expect(r.p99).toBeGreaterThan(10_000); // > 10 ms behind schedule
  });

  it('passes a failed call on instead of measuring it', async () => {
    await expect(offerLoad({ rate: 1000, seconds: 0.05, maxOutstanding: 100 }, async (i) => {
      if (i === 3) throw new Error('wrong answer');
    })).rejects.toThrow('wrong answer');
  });
});

describe('chart data', () => {
  it('draws exactly the figures and ratios of the report', () => {
    const data = syntheticReport([{ id: 'node/valid', median: 100, spread: 0.1, reference: true }]);
    const report = parseReport({
      ...data,
      figures: [
        { ...(data['figures'] as object[])[0], id: 'threads/pool2/100000/valid', scenario: 'threads', params: { threads: 2, batch: 100_000, kind: 'valid' } },
        { ...(data['figures'] as object[])[0], id: 'batch-sizes/10/invalid', scenario: 'batch-sizes', params: { batch: 10, kind: 'invalid' }, median: 5 },
      ],
      checks: [{ id: 'x', scenario: 'throughput-vs-peers', label: 'facade (cache warm) ÷ otplib, invalid', unit: 'ratio', measured: 70, low: 60, high: 80 }],
    }, 'synthetic');
    const d = chartData({ figures: [...report.figures], loads: [...report.loads], checks: [...report.checks] });
    const [t, b] = report.figures;
    expect(d.threads).toEqual([{ threads: 2, batch: 100_000, kind: 'valid', median: t!.median, p25: t!.p25, p75: t!.p75 }]);
    expect(d.batches).toEqual([{ batch: 10, kind: 'invalid', median: 5, p25: b!.p25, p75: b!.p75 }]);
    expect(d.ratios).toEqual([{ label: 'otplib', kind: 'invalid', ratio: 70, low: 60, high: 80 }]);
  });

  it('draws only the worker-thread figures against threads, not the raw kernel and its worker gangs measured beside them', () => {
    // The threads suite records, in its groups, the raw kernel on the calling thread and in 1..N
    // workers (ceilings, no `params`): they are not "verifyBatch at N worker threads".
    const data = syntheticReport([{ id: 'node/valid', median: 100, spread: 0.1, reference: true }]);
    const base = (data['figures'] as object[])[0];
    const fig = (id: string, extra: object): object => ({ ...base, id, scenario: 'threads', ...extra });
    const report = parseReport({
      ...data,
      figures: [
        fig('threads/inline/100000/invalid', { params: { threads: 0, batch: 100_000, kind: 'invalid' } }),
        fig('threads/pool1/100000/invalid', { params: { threads: 1, batch: 100_000, kind: 'invalid' } }),
        fig('threads/kernel/100000/invalid', { params: {}, items: 8192, median: 5e6 }),
        fig('threads/kernel-workers1/100000/invalid', { params: {}, items: 32_768, median: 5e6 }),
        fig('threads/kernel-workers2/100000/invalid', { params: {}, items: 65_536, median: 9e6 }),
      ],
    }, 'synthetic');
    const d = chartData({ figures: [...report.figures], loads: [], checks: [] });
    expect(d.threads.map((p) => [p.threads, p.batch, p.kind])).toEqual([[0, 100_000, 'invalid'], [1, 100_000, 'invalid']]);
  });

  it('draws facade ÷ peer ratios only, not facade ÷ raw kernel (a fraction of our own kernel, not a peer)', () => {
    const data = syntheticReport([{ id: 'node/valid', median: 100, spread: 0.1, reference: true }]);
    const base = (data['figures'] as object[])[0];
    const ID = 'throughput-vs-peers';
    const report = parseReport({
      ...data,
      figures: [
        { ...base, id: `${ID}/facade-base32/valid`, scenario: ID, reference: false },
        { ...base, id: `${ID}/kernel/valid`, scenario: ID, reference: false },
        { ...base, id: `${ID}/node-crypto/valid`, scenario: ID, reference: true },
      ],
      checks: [
        { id: 'a', scenario: ID, label: 'facade (cache warm) ÷ node:crypto, valid', unit: 'ratio', measured: 13, low: 12, high: 14,
          from: [`${ID}/facade-base32/valid`, `${ID}/node-crypto/valid`] },
        { id: 'b', scenario: ID, label: 'facade (cache warm) ÷ raw kernel, valid', unit: 'fraction', measured: 0.6, low: 0.55, high: 0.65,
          from: [`${ID}/facade-base32/valid`, `${ID}/kernel/valid`] },
      ],
    }, 'synthetic');
    const d = chartData({ figures: [...report.figures], loads: [], checks: [...report.checks] });
    expect(d.ratios).toEqual([{ label: 'node:crypto', kind: 'valid', ratio: 13, low: 12, high: 14 }]);
  });
});

describe('planLevels', () => {
  it('brackets the rate and the capacity the headroom asks for', () => {
    expect(planLevels({ rate: 50_000, p99: 5000, headroom: 0.3 })).toEqual([12_500, 25_000, 50_000, 71_500, 142_900, 285_800]);
    // A fleet's rate far beyond one process: the profile's lower levels come first, so that what
    // one process does is measured (levels around 10 M/s alone all saturate on one process).
    expect(planLevels({ rate: 10_000_000, p99: 5000, headroom: 0.3 }, [1_000, 10_000, 50_000, 200_000, 500_000, 2_000_000]))
      .toEqual([1_000, 10_000, 50_000, 200_000, 500_000, 2_500_000, 5_000_000, 10_000_000, 14_285_800, 28_571_500, 57_142_900]);
    expect(planLevels({ rate: 50_000, p99: 5000, headroom: 0.3 }, [1_000, 10_000, 50_000])).toEqual([1_000, 12_500, 25_000, 50_000, 71_500, 142_900, 285_800]);
  });
});

describe('kernel gang (the threads suite\'s machine ceiling)', () => {
  it('runs the raw kernel in every worker at once, and a wrong count in any of them throws', async () => {
    const fx = fixtures();
    const core = instantiateCore();
    const n = 512;
    const chunk = packChunk(core, fx.secrets.slice(0, n), fx.valid.slice(0, n), fx.step);
    const right = await startKernelGang(coreModule(), chunk, 'valid', 2, 3, 'g/right', 'g', 'right');
    // Told the codes are invalid (none may match), the workers count every one a match.
    const wrong = await startKernelGang(coreModule(), chunk, 'invalid', 2, 1, 'g/wrong', 'g', 'wrong');
    try {
      expect(right.task.items).toBe(2 * 3 * n);
      for (let k = 0; k < 3; k++) right.task.fn();
      expect(() => wrong.task.fn()).toThrow(/counted wrongly/);
    } finally {
      await Promise.all([right.close(), wrong.close()]);
    }
  });
});

describe('machine info', () => {
  it('does not report the commit of a git repository the package is merely installed in', async () => {
    // An installed totp-fleet (node_modules/totp-fleet, no .git of its own) inside an
    // application's repository: `git rev-parse HEAD` from the package answered the application's
    // commit, printed and written as the commit measured.
    const { execFileSync } = await import('node:child_process');
    const { cpSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { pathToFileURL } = await import('node:url');
    const app = realpathSync(mkdtempSync(join(tmpdir(), 'totp-fleet-app-')));
    try {
      const git = (...args: string[]): string => execFileSync('git', args, { cwd: app, encoding: 'utf8' }).trim();
      git('init', '-q');
      writeFileSync(join(app, 'app.txt'), 'app\n');
      git('add', 'app.txt');
      git('-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'app');
      const appCommit = git('rev-parse', '--short', 'HEAD');
      const pkg = join(app, 'node_modules', 'totp-fleet');
      mkdirSync(join(pkg, 'dist', 'bench'), { recursive: true });
      writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'totp-fleet', version: '9.9.9', type: 'module' }));
      for (const f of ['machine.js', 'versions.js']) cpSync(new URL(`../dist/bench/${f}`, import.meta.url), join(pkg, 'dist', 'bench', f));
      const { machineInfo: installed } = await import(pathToFileURL(join(pkg, 'dist', 'bench', 'machine.js')).href);
      const info = installed();
      expect(info.versions['totp-fleet']).toBe('9.9.9');
      expect(info.commit).not.toContain(appCommit);
      expect(info.commit).toBe('unknown');
      // In its own checkout, the commit is still read.
      expect(machineInfo().commit).toMatch(/^[0-9a-f]{7,}(\+dirty)?$/);
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  });
});
