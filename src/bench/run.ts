// Runs a profile's suites in one process against one report: the node:crypto baseline is
// measured in the same run as everything compared with it. Progress goes to stderr; the report
// is printed (and written as JSON and a chart) by the caller.
//
// The run is budget-driven: the profile gives each suite a share of seconds, and each suite in
// turn gets a deadline of its share of what is left of the total, so a suite that ran over
// (its fewest rounds took longer on a loaded machine) shortens the ones after it, and one that
// finished early lends them its time.

import { availableParallelism } from 'node:os';
import { machineInfo } from './machine.js';
import { measureGroup, type TaskSpec } from './measure.js';
import { budgetSeconds, DEFAULT_SUITE_SECONDS, PROFILES } from './profiles.js';
import { createProgress, type Progress } from './progress.js';
import { Report } from './report.js';
import type { Profile, SuiteContext, SuiteRegistry } from './suite.js';
import { builtinSuites } from './suites/index.js';

export interface RunOptions {
  readonly profile: Profile;
  /** Suite ids to run instead of the profile's. */
  readonly only?: readonly string[];
  readonly registry?: SuiteRegistry;
  readonly progress?: Progress;
  /** Worker threads the thread-varying suites go up to (default: the available parallelism). */
  readonly maxThreads?: number;
  /** Test-only (see GroupOptions.slowdown); default: TOTP_FLEET_BENCH_INJECT_SLOWDOWN. */
  readonly slowdown?: number;
}

/** The environment variable of the test-only injected slowdown (a fraction, e.g. 0.3). */
export const SLOWDOWN_ENV = 'TOTP_FLEET_BENCH_INJECT_SLOWDOWN';

/** The injected slowdown from the environment: 0 when unset; a RangeError when not 0..0.9. */
export function slowdownFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const text = env[SLOWDOWN_ENV];
  if (text === undefined || text === '') return 0;
  const n = /^\d*\.?\d+$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!(n >= 0 && n <= 0.9)) throw new RangeError(`${SLOWDOWN_ENV} expected a fraction 0..0.9 (e.g. 0.3), got "${text}"`);
  return n;
}

/**
 * Runs the suites and returns the report. Unknown suite ids, and an id named twice, are refused
 * before anything runs.
 *
 * @example
 * const report = await runSuites({ profile: PROFILES.quick! });
 * console.log(report.summary());
 */
export async function runSuites(opts: RunOptions): Promise<Report> {
  const registry = opts.registry ?? builtinSuites();
  const ids = opts.only ?? opts.profile.suites;
  const unknown = ids.filter((id) => registry.get(id) === undefined);
  if (unknown.length > 0) {
    throw new RangeError(`unknown suite ${unknown.map((u) => `"${u}"`).join(', ')}; known: ${registry.ids().join(', ')}`);
  }
  const twice = ids.find((id, i) => ids.indexOf(id) !== i);
  if (twice !== undefined) throw new RangeError(`suite "${twice}" named more than once: a report holds each suite's figures once, under their ids`);
  const slowdown = opts.slowdown ?? slowdownFromEnv();
  const progress = opts.progress ?? createProgress(process.stderr);
  const budget = budgetSeconds(opts.profile, ids);
  const report = new Report(machineInfo(), opts.profile.name, opts.profile.budget, { budgetSeconds: budget, injectedSlowdown: slowdown });
  if (report.machine.loadAverage[0]! > report.machine.cores / 2) {
    report.note('run', `1-minute load average ${report.machine.loadAverage[0]} on ${report.machine.cores} cores at start: figures will be noisy`);
  }
  if ((globalThis as { gc?: unknown }).gc === undefined) {
    report.note('run', 'garbage was not collected before each group of tasks (run node with --expose-gc for steadier figures)');
  }
  if (slowdown > 0) {
    report.note('run', `TEST RUN: ${SLOWDOWN_ENV}=${slowdown}: every task of ours was slowed by ${Math.round(slowdown * 100)} % (spinning after each call); these figures are not this build's`);
  }
  const start = performance.now();
  const end = start + budget * 1000;
  let deadline = end;
  const ctx: SuiteContext = {
    report,
    profile: opts.profile,
    maxThreads: opts.maxThreads ?? availableParallelism(),
    observer: progress,
    get deadline() { return deadline; },
    measure: async (specs: readonly TaskSpec[], o: { groupsLeft?: number } = {}) => {
      const now = performance.now();
      const groupDeadline = now + Math.max(0, deadline - now) / Math.max(1, o.groupsLeft ?? 1);
      return report.add(...await measureGroup(specs, opts.profile.budget, progress, { deadline: groupDeadline, slowdown }));
    },
  };
  try {
    for (const [i, id] of ids.entries()) {
      const suite = registry.get(id)!;
      // This suite's share of what is left; past the end of the budget, a suite still runs its
      // fewest rounds (deadline now).
      const share = opts.profile.seconds[id] ?? DEFAULT_SUITE_SECONDS;
      const rest = ids.slice(i).reduce((sum, s) => sum + (opts.profile.seconds[s] ?? DEFAULT_SUITE_SECONDS), 0);
      const t0 = performance.now();
      deadline = t0 + Math.max(0, end - t0) * (share / rest);
      progress.suiteStarted(i, ids.length, id);
      await suite.run(ctx);
      const seconds = (performance.now() - t0) / 1000;
      report.suites.push({ id, title: suite.title, seconds, budgetSeconds: (deadline - t0) / 1000 });
      progress.suiteDone(id, seconds);
    }
  } finally {
    progress.stop();
  }
  report.wallSeconds = (performance.now() - start) / 1000;
  return report;
}

/** The whole report as text: the header, each suite's tables, the summary. */
export function formatReport(report: Report): string {
  const parts = [report.header()];
  for (const s of report.suites) {
    parts.push(`=== ${s.id}: ${s.title} (${s.seconds.toFixed(1)} s of ${s.budgetSeconds.toFixed(1)} s) ===\n${report.scenarioText(s.id)}`);
  }
  const runNotes = report.notes.filter((n) => n.scenario === 'run').map((n) => `note: ${n.text}`);
  if (runNotes.length > 0) parts.push(runNotes.join('\n'));
  parts.push(report.summary());
  return parts.join('\n\n');
}

export { PROFILES };
