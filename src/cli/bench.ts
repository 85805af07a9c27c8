// `totp-fleet bench`: capacity planning. Runs a profile of benchmark suites (src/bench/) and
// prints the report; writes it as JSON and a chart; plans threads and hosts for a login rate
// at a latency target; compares two reports for regressions beyond their recorded noise.

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ChartUnavailableError, htmlPage, renderSvg } from '../bench/chart.js';
import { compareReports, formatComparison } from '../bench/compare.js';
import { createProgress, type Progress } from '../bench/progress.js';
import { formatPlan, inProcessLoads, type PlanRequest, planCapacity, planLevels } from '../bench/plan.js';
import { PROFILE_NAMES, PROFILES } from '../bench/profiles.js';
import { parseReport, readReport, ReportFileError } from '../bench/report-file.js';
import type { Report } from '../bench/report.js';
import { formatReport, runSuites } from '../bench/run.js';
import { builtinSuites } from '../bench/suites/index.js';
import { UsageError } from './options.js';

export const BENCH_HELP = `Usage: totp-fleet bench [options]
       totp-fleet bench --plan --rate N --p99 TIME [--headroom P] [--from FILE]
       totp-fleet bench compare A.json B.json [--all]

Runs the benchmark suites of a profile on this machine and prints a report: throughput
against the peers (node:crypto, otplib, otpauth, speakeasy: dev dependencies, skipped with a
note when not installed), the kernel, batch sizes, threads, windows, the key cache, and
single verify() latency under offered load. Progress goes to stderr, the report to stdout.

Options:
  --profile NAME         ${PROFILE_NAMES.map((n) => `${n} (${PROFILES[n]!.description})`).join('; ')}. Default quick
  --suite ID[,ID...]     run these suites instead of the profile's (${builtinSuites().ids().join(', ')})
  --json FILE            also write the report as JSON (machine, versions, every figure and its spread)
  --chart FILE           write the chart as a self-contained HTML page (default: the --json FILE with .html)
  --quiet                no progress display
  --list                 list the suites and profiles

Planning (from the "latency" suite's figures):
  --plan                 how many threads / cores / hosts serve --rate at --p99 with --headroom
  --rate N               verify() calls per second at peak (e.g. 50000 or 50k)
  --p99 TIME             p99 latency target: 5ms, 500us, 0.2s
  --headroom P           capacity kept spare: 30% (default) or 0.3
  --from FILE            plan from a report written by --json instead of measuring now (about 10 s)

Comparing:
  compare A.json B.json  flags ratios of B (tasks measured in the same rounds), and per suite
                         the mean of its ratios to the peers, worse than A's beyond both runs'
                         spread and the noise between two runs of one build; absolute figures
                         are shown, not judged; exit status 1 when any regression is flagged
  --all                  list every comparison, figures too, not only the changes

Exit status: 0 done; 1 regressions found (compare) or p99 unattainable (--plan); 2 usage error;
3 compare inconclusive (no regression flagged, but a suite's mean to its peers could not be judged).`;

/** A rate: a positive integer, with an optional k or M suffix. */
export function parseRate(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(text.trim());
  const n = m === null ? Number.NaN : Number(m[1]) * (m[2] === '' ? 1 : m[2]!.toLowerCase() === 'k' ? 1e3 : 1e6);
  if (!Number.isFinite(n) || n < 1 || n > 1e9 || !Number.isInteger(n)) throw new UsageError('--rate expected calls per second, 1..1000000000 (e.g. 50000 or 50k)');
  return n;
}

/** A duration in microseconds from "5ms", "500us", "0.2s". */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(us|µs|ms|s)$/.exec(text.trim());
  if (m === null) throw new UsageError('--p99 expected a time with its unit: 5ms, 500us, 0.2s');
  const us = Number(m[1]) * (m[2] === 's' ? 1e6 : m[2] === 'ms' ? 1e3 : 1);
  if (!(us >= 1 && us <= 60e6)) throw new UsageError('--p99 expected 1us..60s');
  return us;
}

/** Headroom from "30%" or "0.3", in 0 ≤ h < 1 (0.95 at most: a plan needs some capacity). */
export function parseHeadroom(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(%?)$/.exec(text.trim());
  const h = m === null ? Number.NaN : Number(m[1]) / (m[2] === '%' ? 100 : 1);
  if (!(h >= 0 && h <= 0.95)) throw new UsageError('--headroom expected 0%..95% (or 0..0.95)');
  return h;
}

/**
 * The benches collect garbage once before each group of tasks, before its warm-up (see collectGarbage).
 * `--expose-gc` is a command-line flag of node; the installed `totp-fleet` binary is started
 * without it, so it is switched on here and the function fetched from a fresh context.
 */
function exposeGc(): void {
  if ((globalThis as { gc?: unknown }).gc !== undefined) return;
  setFlagsFromString('--expose-gc');
  (globalThis as { gc?: unknown }).gc = runInNewContext('gc') as () => void;
}

async function writeOutputs(report: Report, text: string, json: string | undefined, chart: string | undefined): Promise<void> {
  if (json !== undefined) {
    report.writeJson(json);
    process.stderr.write(`bench: wrote ${json}\n`);
  }
  const chartFile = chart ?? (json === undefined ? undefined : `${json.replace(/\.json$/i, '')}.html`);
  if (chartFile === undefined) return;
  try {
    const svg = await renderSvg(report);
    writeFileSync(chartFile, htmlPage(svg, text, `totp-fleet bench, ${report.machine.date}, ${report.machine.cpu} × ${report.machine.cores}`));
    process.stderr.write(`bench: wrote ${chartFile}\n`);
  } catch (error) {
    if (!(error instanceof ChartUnavailableError)) throw error;
    process.stderr.write(`bench: ${error.message}\n`);
  }
}

async function runCompare(args: string[], all: boolean): Promise<number> {
  if (args.length !== 2) throw new UsageError('compare expects two report files: compare A.json B.json');
  let a, b;
  try {
    a = readReport(args[0]!);
    b = readReport(args[1]!);
  } catch (error) {
    if (error instanceof ReportFileError) throw new UsageError(error.message);
    throw error;
  }
  const result = compareReports(a, b);
  process.stdout.write(formatComparison(result, args[0]!, args[1]!, all) + '\n');
  return result.regressions > 0 ? 1 : result.inconclusive.length > 0 ? 3 : 0;
}

/** Runs the command; resolves to the process exit status. */
export async function runBench(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      profile: { type: 'string' },
      suite: { type: 'string' },
      json: { type: 'string' },
      chart: { type: 'string' },
      quiet: { type: 'boolean' },
      list: { type: 'boolean' },
      plan: { type: 'boolean' },
      rate: { type: 'string' },
      p99: { type: 'string' },
      headroom: { type: 'string' },
      from: { type: 'string' },
      all: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(BENCH_HELP + '\n');
    return 0;
  }
  if (positionals[0] === 'compare') {
    for (const flag of ['profile', 'suite', 'json', 'chart', 'list', 'plan', 'rate', 'p99', 'headroom', 'from'] as const) {
      if (values[flag] !== undefined) throw new UsageError(`--${flag} does not apply to compare (it reads two reports: compare A.json B.json [--all])`);
    }
    return runCompare(positionals.slice(1), values.all === true);
  }
  if (values.all !== undefined) throw new UsageError('--all is only for compare');
  if (positionals.length > 0) throw new UsageError(`bench takes no arguments except "compare A.json B.json" (got "${positionals[0]}")`);
  if (values.list) {
    const registry = builtinSuites();
    const lines = registry.ids().map((id) => `  ${id.padEnd(20)} ${registry.get(id)!.title}`);
    const profiles = PROFILE_NAMES.map((n) => `  ${n.padEnd(20)} ${PROFILES[n]!.suites.join(', ')}`);
    process.stdout.write(`Suites:\n${lines.join('\n')}\nProfiles:\n${profiles.join('\n')}\n`);
    return 0;
  }
  const profileName = values.profile ?? 'quick';
  const base = PROFILES[profileName];
  if (base === undefined) throw new UsageError(`--profile expected one of ${PROFILE_NAMES.join(', ')}`);
  const only = values.suite?.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (only !== undefined) {
    const unknown = only.filter((id) => builtinSuites().get(id) === undefined);
    if (only.length === 0 || unknown.length > 0) throw new UsageError(`--suite expected suite ids from: ${builtinSuites().ids().join(', ')}`);
    const twice = only.find((id, i) => only.indexOf(id) !== i);
    if (twice !== undefined) throw new UsageError(`--suite names ${twice} more than once (a report holds each suite's figures once)`);
  }

  if (values.plan) {
    if (values.rate === undefined || values.p99 === undefined) throw new UsageError('--plan needs --rate and --p99');
    const req: PlanRequest = { rate: parseRate(values.rate), p99: parseDuration(values.p99), headroom: parseHeadroom(values.headroom ?? '30%') };
    if (values.suite !== undefined) throw new UsageError('--plan measures the "latency" suite (or reads it --from a report): --suite does not apply');
    if (values.from !== undefined && values.profile !== undefined) {
      throw new UsageError('--from plans from a report; --profile measures: use one or the other');
    }
    if (values.from !== undefined && (values.json !== undefined || values.chart !== undefined)) {
      throw new UsageError('--plan --from measures nothing: --json and --chart write a measured report (drop them, or drop --from)');
    }
    let data;
    if (values.from !== undefined) {
      try {
        data = readReport(values.from);
      } catch (error) {
        if (error instanceof ReportFileError) throw new UsageError(error.message);
        throw error;
      }
    } else {
      exposeGc();
      // Measure the latency suite with offered loads around the rate asked for.
      const profile = { ...base, name: `${base.name}+plan`, loadSeconds: Math.max(1, base.loadSeconds), loadLevels: planLevels(req, base.loadLevels) };
      const report = await runSuites({ profile, only: ['latency'], progress: quietProgress(values.quiet) });
      await writeOutputs(report, formatReport(report), values.json, values.chart);
      data = parseReport(JSON.parse(JSON.stringify(report)), 'this run');
    }
    if (inProcessLoads(data.loads).length === 0) throw new UsageError(`${values.from}: the report has no latency-under-load figures; run a profile with the "latency" suite`);
    const plan = planCapacity(data, req);
    process.stdout.write(formatPlan(plan, data) + '\n');
    return plan.feasible ? 0 : 1;
  }
  for (const flag of ['rate', 'p99', 'headroom', 'from'] as const) {
    if (values[flag] !== undefined) throw new UsageError(`--${flag} is only for --plan`);
  }

  exposeGc();
  const report = await runSuites({ profile: base, ...(only === undefined ? {} : { only }), progress: quietProgress(values.quiet) });
  const text = formatReport(report);
  process.stdout.write(text + '\n');
  await writeOutputs(report, text, values.json, values.chart);
  // From the process's start: loading the modules and the chart included.
  process.stderr.write(`bench: ${(performance.now() / 1000).toFixed(1)} s of wall time (the suites: ${report.wallSeconds!.toFixed(1)} s of a ${report.budgetSeconds} s budget)\n`);
  return 0;
}

function quietProgress(quiet: boolean | undefined): Progress {
  return createProgress(process.stderr, quiet === true);
}
