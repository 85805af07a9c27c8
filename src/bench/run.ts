// Runs a profile's suites in one process against one report: the node:crypto baseline is
// measured in the same run as everything compared with it. Progress goes to stderr; the report
// is printed (and written as JSON and a chart) by the caller.

import { availableParallelism } from 'node:os';
import { machineInfo } from './machine.js';
import { measureGroup, type TaskSpec } from './measure.js';
import { PROFILES } from './profiles.js';
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
}

/**
 * Runs the suites and returns the report. Unknown suite ids are refused before anything runs.
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
  const progress = opts.progress ?? createProgress(process.stderr);
  const report = new Report(machineInfo(), opts.profile.name, opts.profile.budget);
  if (report.machine.loadAverage[0]! > report.machine.cores / 2) {
    report.note('run', `1-minute load average ${report.machine.loadAverage[0]} on ${report.machine.cores} cores at start: figures will be noisy`);
  }
  if ((globalThis as { gc?: unknown }).gc === undefined) {
    report.note('run', 'garbage was not collected between tasks (run node with --expose-gc for steadier figures)');
  }
  const ctx: SuiteContext = {
    report,
    profile: opts.profile,
    maxThreads: opts.maxThreads ?? availableParallelism(),
    observer: progress,
    measure: async (specs: readonly TaskSpec[]) => report.add(...await measureGroup(specs, opts.profile.budget, progress)),
  };
  try {
    for (const [i, id] of ids.entries()) {
      const suite = registry.get(id)!;
      progress.suiteStarted(i, ids.length, id);
      const t0 = performance.now();
      await suite.run(ctx);
      const seconds = (performance.now() - t0) / 1000;
      report.suites.push({ id, title: suite.title, seconds });
      progress.suiteDone(id, seconds);
    }
  } finally {
    progress.stop();
  }
  return report;
}

/** The whole report as text: the header, each suite's tables, the summary. */
export function formatReport(report: Report): string {
  const parts = [report.header()];
  for (const s of report.suites) {
    parts.push(`=== ${s.id}: ${s.title} (${s.seconds.toFixed(1)} s) ===\n${report.scenarioText(s.id)}`);
  }
  const runNotes = report.notes.filter((n) => n.scenario === 'run').map((n) => `note: ${n.text}`);
  if (runNotes.length > 0) parts.push(runNotes.join('\n'));
  parts.push(report.summary());
  return parts.join('\n\n');
}

export { PROFILES };
