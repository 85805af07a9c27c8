// `totp-fleet bench` driven as a user drives it: a child process, its arguments, its exit
// status, its files. Reports for compare and --plan are small synthetic ones, so these tests
// measure nothing; one test runs a real (short) suite for the JSON and the chart.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { PROFILES } from '../src/bench/profiles.js';
import { type FigureSpec, load, syntheticReport } from './helpers/bench-report.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = fileURLToPath(new URL('../dist/cli/index.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'totp-fleet-bench-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(args: string[], timeout = 30_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, 'bench', ...args], { encoding: 'utf8', cwd: ROOT, timeout });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function file(name: string, value: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value));
  return path;
}

const FIGS: FigureSpec[] = [
  { id: 'peers/node-crypto/valid', median: 300_000, spread: 0.03, reference: true },
  { id: 'peers/otplib/valid', median: 20_000, spread: 0.03, reference: true },
  { id: 'peers/facade/valid', median: 2_500_000, spread: 0.04 },
  { id: 'threads/pool1/valid', median: 3_000_000, spread: 0.05 },
  { id: 'batch-sizes/1/valid', median: 200_000, spread: 0.06 },
];

describe('totp-fleet bench: arguments', () => {
  it('prints its help', () => {
    const r = run(['--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: totp-fleet bench/);
    expect(r.stdout).toMatch(/--plan/);
    expect(r.stdout).toMatch(/compare A\.json B\.json/);
  });

  it('lists the suites and profiles', () => {
    const r = run(['--list']);
    expect(r.status).toBe(0);
    for (const id of ['throughput-vs-peers', 'core', 'batch-sizes', 'threads', 'windows', 'cold-cache', 'latency']) {
      expect(r.stdout).toContain(id);
    }
    expect(r.stdout).toMatch(/quick/);
  });

  it.each([
    [['--profile', 'huge'], /--profile expected one of quick, full/],
    [['--suite', 'nope'], /--suite expected suite ids/],
    // Run twice, a suite's figures and checks came out twice under the same ids (each of its
    // sections printed both runs' rows; compare kept one of the two).
    [['--suite', 'core,windows,core'], /--suite names core more than once/],
    [['--rate', '5000'], /--rate is only for --plan/],
    [['--plan', '--rate', '50k'], /--plan needs --rate and --p99/],
    [['--plan', '--rate', 'fast', '--p99', '5ms'], /--rate expected/],
    [['--plan', '--rate', '50000', '--p99', '5'], /--p99 expected a time with its unit/],
    [['--plan', '--rate', '50000', '--p99', '5ms', '--headroom', '120%'], /--headroom expected/],
    // Silently ignored before: --plan measures the latency suite whatever --suite says, and with
    // --from it measures nothing, so no --json or chart was written.
    [['--plan', '--rate', '50k', '--p99', '5ms', '--suite', 'threads'], /--plan measures the "latency" suite/],
    [['--plan', '--rate', '50k', '--p99', '5ms', '--from', 'r.json', '--json', 'out.json'], /--from measures nothing: --json and --chart/],
    [['--plan', '--rate', '50k', '--p99', '5ms', '--from', 'r.json', '--chart', 'out.html'], /--from measures nothing: --json and --chart/],
    [['compare', 'only-one.json'], /compare expects two report files/],
    // Accepted and ignored before: compare measures and plans nothing; --all lists compare's rows.
    [['compare', 'a.json', 'b.json', '--json', 'c.json'], /--json does not apply to compare/],
    [['compare', 'a.json', 'b.json', '--plan', '--rate', '5k', '--p99', '5ms'], /--plan does not apply to compare/],
    [['--all'], /--all is only for compare/],
    [['stray'], /bench takes no arguments/],
    [['--frobnicate'], /Unknown option/],
  ])('exits 2 on %j', (args, message) => {
    const r = run(args);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });

  it('exits 2 naming the file when a report is missing, not JSON, or not a report', () => {
    const good = file('good.json', syntheticReport(FIGS));
    const missing = run(['compare', join(dir, 'absent.json'), good]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/absent\.json: cannot be read \(ENOENT\)/);
    const notJson = run(['compare', file('bad.json', '{nope'), good]);
    expect(notJson.status).toBe(2);
    expect(notJson.stderr).toMatch(/bad\.json: not JSON/);
    const other = run(['compare', file('other.json', { schema: 'something-else' }), good]);
    expect(other.status).toBe(2);
    expect(other.stderr).toMatch(/not a totp-fleet bench report/);
    const noFigures = run(['--plan', '--rate', '1000', '--p99', '5ms', '--from', good]);
    expect(noFigures.status).toBe(2);
    expect(noFigures.stderr).toMatch(/no latency-under-load figures/);
  });
});

describe('totp-fleet bench compare', () => {
  // Two runs of the same build: every figure moved by less than its recorded spread, and the
  // machine as a whole 4 % slower in b (the peers too).
  const jitter = [0.99, 1.02, 0.985, 1.015, 0.975];
  const a = file('a.json', syntheticReport(FIGS));
  const same = file('same.json', syntheticReport(FIGS, { scale: (f) => 0.96 * jitter[FIGS.indexOf(f)]! }));

  it('does not flag two runs of the same build', () => {
    const r = run(['compare', a, same, '--all']);
    expect(r.stdout).toMatch(/0 regression\(s\) beyond noise/);
    expect(r.stdout).not.toMatch(/REGRESSION/);
    expect(r.status).toBe(0);
  });

  it('does not flag a shift between two runs beyond their own spread but within the between-run noise', () => {
    // Each run's rounds agree within ±1 %; b's ratio of ours to the peer is 12 % lower, as two
    // runs of one build differ on this VM (the rule before flagged this).
    const tight = FIGS.map((f) => ({ ...f, spread: 0.01 }));
    const ta = file('tight-a.json', syntheticReport(tight));
    const tb = file('tight-b.json', syntheticReport(tight, { scale: (f) => (f.reference ? 1 : 0.88) }));
    const r = run(['compare', ta, tb]);
    expect(r.stdout).toMatch(/within noise\s+peers\s+our code ÷ the peers, geometric mean of 1 ratio\(s\)\s+-12\.0 %/);
    expect(r.stdout).not.toMatch(/REGRESSION/);
    expect(r.status).toBe(0);
  });

  it('flags an injected 30 % slowdown of our code in the mean of each suite\'s ratios to the peers', () => {
    const slow = file('slow.json', syntheticReport(FIGS, { scale: (f) => (f.reference ? 1 : 0.7) }));
    const r = run(['compare', a, slow]);
    expect(r.status).toBe(1);
    const flagged = r.stdout.split('\n').filter((l) => l.startsWith('REGRESSION'));
    // One mean per suite with a ratio to a peer (peers, threads, batch-sizes: one ratio each in
    // this report); a single ratio is flagged from K × 12 % on, so not at -30 %; figures and the
    // peers are never judged.
    expect(flagged).toHaveLength(3);
    expect(flagged.every((l) => /our code ÷ the peers, geometric mean of 1 ratio\(s\)\s+-30\.0 %/.test(l))).toBe(true);
    expect(flagged.map((l) => l.split(/\s+/)[1]).sort()).toEqual(['batch-sizes', 'peers', 'threads']);
    expect(r.stdout).toMatch(/Not judged \(--all lists them\): 3 absolute figure\(s\)/);
  });

  it('flags one ratio that halved, and names its suite', () => {
    const half = file('half.json', syntheticReport(FIGS, { scale: (f) => (f.id === 'threads/pool1/valid' ? 0.5 : 1) }));
    const r = run(['compare', a, half, '--all']);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/REGRESSION\s+threads\s+threads\/pool1\/valid ÷ peers\/node-crypto\/valid\s+[\d.]+×\s+[\d.]+×\s+-50\.0 %/);
    expect(r.stdout).toMatch(/within noise\s+peers\s+our code ÷ the peers/);
    // --all lists figures, with their suite, unjudged.
    expect(r.stdout).toMatch(/figure\s+threads\s+threads\/pool1\/valid/);
    expect(r.stdout).toMatch(/peer\s+peers\s+peers\/node-crypto\/valid/);
  });

  it('does not blame the build for a machine that ran 30 % slower throughout', () => {
    const slowMachine = file('slow-machine.json', syntheticReport(FIGS, { scale: () => 0.7 }));
    const r = run(['compare', a, slowMachine]);
    expect(r.stdout).toMatch(/the peers ran at 0\.70× in b: the machine was slower/);
    expect(r.stdout).not.toMatch(/REGRESSION/);
    expect(r.status).toBe(0);
  });

  it('takes its noise from the reports: the same 30 % drop is not flagged, but called too noisy (exit status 3), when the runs recorded a wide spread', () => {
    const noisy = FIGS.map((f) => ({ ...f, spread: 0.25 }));
    const na = file('noisy-a.json', syntheticReport(noisy));
    const nb = file('noisy-b.json', syntheticReport(noisy, { scale: (f) => (f.reference ? 1 : 0.7) }));
    const r = run(['compare', na, nb, '--all']);
    expect(r.stdout).not.toMatch(/REGRESSION/);
    expect(r.stdout).toMatch(/slower, too noisy to tell\s+peers\s+our code ÷ the peers/);
    expect(r.stdout).toMatch(/could be neither flagged nor cleared/);
    expect(r.stdout).toMatch(/inconclusive: peers, threads, batch-sizes: the mean to the peers could not be judged/);
    expect(r.status).toBe(3);
  });

  it('says a suite is inconclusive (exit status 3), not passed, when its runs got too few rounds to judge', () => {
    const strip = (report: Record<string, unknown>): Record<string, unknown> => ({
      ...report,
      checks: (report['checks'] as { rounds: number[] }[]).map((c) => ({ ...c, rounds: c.rounds.slice(0, 3) })),
    });
    const fa = file('few-a.json', strip(syntheticReport(FIGS)));
    const fb = file('few-b.json', strip(syntheticReport(FIGS, { scale: (f) => (f.reference ? 1 : 0.5) })));
    const r = run(['compare', fa, fb]);
    expect(r.stdout).not.toMatch(/REGRESSION/);
    expect(r.stdout).toMatch(/too few rounds\s+peers\s+our code ÷ the peers: 0 of 1 ratio\(s\) judged/);
    expect(r.stdout).toMatch(/3 ratio\(s\) paired on fewer than 5 rounds/);
    expect(r.status).toBe(3);
  });
});

describe('totp-fleet bench --plan', () => {
  const loads = [
    load('threads 0 (inline)', 0, 10_000, 0.5), load('threads 0 (inline)', 0, 50_000, 1.2),
    load('threads 0 (inline)', 0, 100_000, 3), load('threads 0 (inline)', 0, 200_000, 40),
    load('threads 1, inlineThreshold 256', 1, 10_000, 2), load('threads 1, inlineThreshold 256', 1, 50_000, 4),
    load('threads 1, inlineThreshold 256', 1, 100_000, 4.5), load('threads 1, inlineThreshold 256', 1, 200_000, 4.8),
    load('threads 1, inlineThreshold 256', 1, 400_000, 900, true),
  ];
  const report = file('loads.json', syntheticReport(FIGS, { loads }));

  it('answers with the cheapest configuration that meets the rate with headroom, and its assumptions', () => {
    const r = run(['--plan', '--rate', '50k', '--p99', '5ms', '--from', report]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/50,000 verify\(\)\/s at p99 ≤ 5\.00 ms, 30 % headroom: provide 71,429\/s/);
    // inline meets 5 ms up to 100k/s: enough for 71,429/s on one core.
    expect(r.stdout).toMatch(/Answer: one process with `threads: 0` \(no worker pool\) on 1 of this host's 2 cores/);
    expect(r.stdout).toMatch(/met p99 ≤ 5\.00 ms up to 100,000\/s/);
    expect(r.stdout).toMatch(/Assumptions:/);
    expect(r.stdout).toMatch(/HTTP, the policy store/);
  });

  it('moves to the worker pool when the calling thread alone cannot keep the p99', () => {
    const r = run(['--plan', '--rate', '120000', '--p99', '5ms', '--headroom', '0.1', '--from', report]);
    expect(r.status).toBe(0);
    // No level was measured at 120,000/s: the p99 shown is the next level's, and says which
    // (it read as inline's p99 at 120,000/s: 40 ms, measured at 200,000/s).
    expect(r.stdout).toMatch(/threads 0 \(inline\)\s+100,000\/s\s+40\.0 ms at 200,000\/s\s+1\s+no/);
    expect(r.stdout).toMatch(/Answer: one process with `threads: 1`, `inlineThreshold: 256` on 2 of this host's 2 cores/);
  });

  it('scales out to more hosts when one host is not enough', () => {
    const r = run(['--plan', '--rate', '1M', '--p99', '5ms', '--from', report]);
    expect(r.status).toBe(0);
    // Best per host: 2 inline processes × 100k/s = 200k/s; 1M / 0.7 = 1,428,572/s → 8 hosts.
    expect(r.stdout).toMatch(/Run 2 process\(es\) per host \(threads 0 \(inline\), 1 core\(s\) each, 100,000\/s each\) on 8 host\(s\)/);
  });

  it('counts the cores this process could use, not every CPU of the machine, when it puts processes on a host', () => {
    // A container or taskset limited to 2 CPUs of a 64-CPU machine: the latency suite measured
    // pools of up to 2 workers there, and "64 processes per host" would be 32 times what such a
    // host (2 usable cores) can run.
    const data = syntheticReport(FIGS, { loads });
    const pinned = file('pinned.json', { ...data, machine: { ...(data['machine'] as object), cores: 64, parallelism: 2 } });
    const r = run(['--plan', '--rate', '1M', '--p99', '5ms', '--from', pinned]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Run 2 process\(es\) per host \(threads 0 \(inline\), 1 core\(s\) each, 100,000\/s each\) on 8 host\(s\)/);
    expect(r.stdout).toMatch(/measured on: Test CPU, 64 cores \(2 usable\)/);
  });

  it('says so, and exits 1, when no configuration meets the p99 at any load', () => {
    const r = run(['--plan', '--rate', '1000', '--p99', '100us', '--from', report]);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/no configuration met p99 ≤ 0\.10 ms even at the lowest load measured/);
  });
});

describe('totp-fleet bench --plan, measuring', () => {
  it('plans hosts for a fleet rate far beyond one process: it measures what one process does, not only loads around the fleet rate', () => {
    // Before, the levels bracketed the fleet's rate only (2.5 M/s to 57 M/s for 10 M/s): every one
    // saturated, and the plan said the p99 was below what one verify() costs (exit 1).
    const r = run(['--plan', '--rate', '10M', '--p99', '50ms', '--quiet'], 120_000);
    expect(r.stdout).toMatch(/Answer: one process does not reach 14,285,714\/s at p99 ≤ 50\.0 ms on this host\. Run \d+ process\(es\) per host \(.*\) on \d+ host\(s\)/);
    expect(r.status).toBe(0);
  }, 120_000);
});

describe('totp-fleet bench --plan, a report whose every load was saturated', () => {
  it('does not call the p99 below what one verify() costs when no level was within what one process does', () => {
    const loads = [load('threads 0 (inline)', 0, 2_500_000, 900, true), load('threads 1, inlineThreshold 256', 1, 2_500_000, 800, true)];
    const report = file('saturated.json', syntheticReport(FIGS, { loads }));
    const r = run(['--plan', '--rate', '10M', '--p99', '5ms', '--from', report]);
    expect(r.stdout).not.toMatch(/below what one verify\(\) costs/);
    expect(r.stdout).toMatch(/saturated at every load measured \(from 2,500,000\/s\)/);
    expect(r.status).toBe(1);
  });
});

describe('totp-fleet bench: a real run', () => {
  it('runs suites with a progress log, prints tables, writes the JSON report and the chart', () => {
    const json = join(dir, 'real.json');
    const r = run(['--suite', 'core,batch-sizes', '--json', json], 120_000);
    expect(r.stderr).toMatch(/bench: \[1\/2\] core \.\.\./);
    expect(r.stderr).toMatch(/bench: batch-sizes done in/);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/SIMD ÷ scalar, valid/);
    const report = JSON.parse(readFileSync(json, 'utf8'));
    expect(report.schema).toBe('totp-fleet-bench/1');
    expect(report.profile).toBe('quick');
    expect(report.machine.cpu).toEqual(expect.any(String));
    expect(report.machine.cores).toBeGreaterThan(0);
    expect(report.machine.node).toBe(process.version);
    expect(report.machine.versions.piscina).toMatch(/^\d+\.\d+\.\d+$/);
    expect(report.suites.map((s: { id: string }) => s.id)).toEqual(['core', 'batch-sizes']);
    const sizes = report.figures.filter((f: { scenario: string }) => f.scenario === 'batch-sizes');
    expect(sizes.map((f: { params: { batch: number } }) => f.params.batch)).toEqual([1, 10, 100, 1000, 10_000, 100_000, 1, 10, 100, 1000, 10_000, 100_000]);
    for (const f of report.figures) {
      expect(f.median).toBeGreaterThan(0);
      expect(f.p25).toBeLessThanOrEqual(f.median);
      expect(f.p75).toBeGreaterThanOrEqual(f.median);
      // As many rounds as fitted the deadline, at least the fewest, and their round numbers.
      expect(f.roundMedians.length).toBeGreaterThanOrEqual(report.budget.minRounds);
      expect(f.roundMedians.length).toBeLessThanOrEqual(report.budget.rounds);
      expect(f.roundIndex).toHaveLength(f.roundMedians.length);
    }
    // The budget is the profile's share for these suites; the wall time is recorded beside it.
    expect(report.budgetSeconds).toBe(PROFILES.quick!.seconds['core']! + PROFILES.quick!.seconds['batch-sizes']!);
    expect(report.wallSeconds).toBeGreaterThan(0);
    expect(report.suites.every((s: { budgetSeconds: number }) => s.budgetSeconds >= 0)).toBe(true);
    expect(report.injectedSlowdown).toBe(0);
    const html = readFileSync(join(dir, 'real.html'), 'utf8');
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toMatch(/<svg[^>]*>/);
    expect(html).toContain('Throughput by batch size');
    expect(html).toContain('SIMD ÷ scalar, valid');
  });
});
