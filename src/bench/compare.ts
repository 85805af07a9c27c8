// `totp-fleet bench compare a.json b.json`: which figures of b are worse than a's beyond the
// noise both runs recorded.
//
// The noise model, per figure: its band is half the interquartile range of its per-round
// medians (the whole range below 5 rounds), relative to its median (rounds are interleaved with the other tasks of the group,
// so a slow phase of the machine shows up as spread between rounds). Two runs' bands add in
// quadrature, and a change is flagged only beyond max(MIN_CHANGE, K × band): K = 3 because
// two runs are minutes apart, where rounds of one run are seconds apart. Ratios (the checks)
// use the p25–p75 of their per-round ratios the same way.
//
// Absolute rates also move with the machine (this VM runs at full or half speed for seconds
// at a time). The peers (node:crypto, otplib, ...) are not part of the build, so their change
// between the runs measures the machine: our figures are divided by that speed factor, and its
// own spread is added to the band. A build 30 % slower shows as 0.7× after the correction; a
// machine 30 % slower moves the peers too and is corrected away. The factor is taken per suite
// where the suite measured peers; a figure of a suite without peers is shown but not flagged
// (its suite's ratios are), since the machine's speed may have changed between suites.

import { quantile } from './measure.js';
import type { ReportData } from './report-file.js';
import { table } from './report.js';

/** Rounds from which a median's noise is its standard error (medianNoise). */
export const MIN_ROUNDS = 5;
/** Smallest change ever flagged, whatever the recorded noise. */
export const MIN_CHANGE = 0.05;
/** Bands of noise a change must exceed to be flagged. */
export const K = 3;
/** Past this threshold the runs were too noisy to judge a drop: it is reported as such, not passed silently. */
export const TOO_NOISY = 0.5;

/**
 * 'peer': a peer's figure, which measures the machine, not the build. '... no peer in its
 * suite': a change beyond noise in a suite without a peer to correct for the machine. Neither
 * is flagged.
 */
export type Verdict = 'regression' | 'improvement' | 'within noise' | 'peer' | 'slower, no peer in its suite' | 'faster, no peer in its suite' | 'slower, too noisy to tell';

export interface Comparison {
  readonly id: string;
  readonly kind: 'figure' | 'ratio';
  readonly label: string;
  readonly a: number;
  readonly b: number;
  /** b ÷ a, after the machine-speed correction for figures. */
  readonly change: number;
  /** The relative change that would have been flagged. */
  readonly threshold: number;
  readonly verdict: Verdict;
}

export interface CompareResult {
  readonly comparisons: readonly Comparison[];
  /** b ÷ a of the peers' figures (median), and its band; 1 and 0 without common peers. */
  readonly speed: { factor: number; band: number; from: number };
  readonly onlyA: readonly string[];
  readonly onlyB: readonly string[];
  readonly warnings: readonly string[];
  readonly regressions: number;
}

/**
 * How far the median of `values` (per-round medians or per-round ratios) could be off,
 * relative to `centre`: its standard error, 1.2533 σ / √n, with σ estimated robustly as
 * IQR / 1.349 (a slow phase of the machine is an outlier round, not a wider σ). From
 * MIN_ROUNDS values on; below that (older reports, a task that ran every few rounds) the
 * quartiles are mostly interpolation, so half the whole range, as wide as a single round's
 * spread.
 */
export function medianNoise(values: readonly number[], centre: number): number {
  if (values.length < 2 || !(centre > 0)) return 0;
  const sorted = values.slice().sort((x, y) => x - y);
  if (sorted.length < MIN_ROUNDS) return (sorted[sorted.length - 1]! - sorted[0]!) / 2 / centre;
  const sigma = (quantile(sorted, 0.75) - quantile(sorted, 0.25)) / 1.349;
  return (1.2533 * sigma) / Math.sqrt(sorted.length) / centre;
}

function verdict(change: number, threshold: number): Verdict {
  if (change < 1 - threshold) return 'regression';
  if (threshold >= TOO_NOISY && change < 1 - MIN_CHANGE) return 'slower, too noisy to tell';
  if (change > 1 / (1 - threshold)) return 'improvement';
  return 'within noise';
}

/**
 * Compares two reports: every figure and ratio that both hold.
 *
 * @example
 * const r = compareReports(readReport('a.json'), readReport('b.json'));
 * if (r.regressions > 0) process.exitCode = 1;
 */
export function compareReports(a: ReportData, b: ReportData): CompareResult {
  const warnings: string[] = [];
  if (a.machine.cpu !== b.machine.cpu || a.machine.cores !== b.machine.cores) {
    warnings.push(`different machines: "${a.machine.cpu}" × ${a.machine.cores} vs "${b.machine.cpu}" × ${b.machine.cores}; absolute figures are not comparable, ratios mostly are`);
  }
  if (a.machine.node !== b.machine.node) warnings.push(`different Node versions: ${a.machine.node} vs ${b.machine.node}`);
  const byId = new Map(b.figures.map((f) => [f.id, f]));
  const pairs = a.figures.filter((f) => byId.has(f.id)).map((f) => ({ fa: f, fb: byId.get(f.id)! }));

  // The machine's speed between the runs, from the peers: per suite where the suite measured
  // peers (they ran interleaved with its other tasks, so they saw the same machine), else over
  // the whole run.
  const speedOf = (list: typeof pairs): { factor: number; band: number; n: number } => {
    const refs = list.filter((p) => p.fa.reference && p.fb.reference).map((p) => p.fb.median / p.fa.median);
    const factor = refs.length > 0 ? quantile(refs.slice().sort((x, y) => x - y), 0.5) : 1;
    return { factor, band: refs.length > 1 ? medianNoise(refs, factor) : 0, n: refs.length };
  };
  const overall = speedOf(pairs);
  if (overall.n > 0 && Math.abs(overall.factor - 1) > 0.1) {
    warnings.push(`the peers ran at ${overall.factor.toFixed(2)}× in b: the machine was ${overall.factor < 1 ? 'slower' : 'faster'}; our figures are corrected by that factor`);
  }
  const local = new Map<string, ReturnType<typeof speedOf>>();
  for (const scenario of new Set(pairs.map((p) => p.fa.scenario))) {
    const own = speedOf(pairs.filter((p) => p.fa.scenario === scenario));
    local.set(scenario, own.n > 0 ? own : { ...overall, n: 0 });
  }

  const comparisons: Comparison[] = [];
  for (const { fa, fb } of pairs) {
    const speed = local.get(fa.scenario)!;
    const band = Math.hypot(medianNoise(fa.roundMedians, fa.median), medianNoise(fb.roundMedians, fb.median), fa.reference ? 0 : speed.band);
    const threshold = Math.min(0.95, Math.max(MIN_CHANGE, K * band));
    const change = fb.median / fa.median / (fa.reference ? 1 : speed.factor);
    // A figure whose suite measured no peer cannot tell a slower build from a machine that was
    // slower while that suite ran (on a shared VM, phases last seconds to minutes): it is shown,
    // never flagged. Its suite's ratios, and the suites with peers, carry the verdict.
    let v: Verdict = fa.reference ? 'peer' : verdict(change, threshold);
    if (!fa.reference && speed.n === 0 && v !== 'within noise') v = change < 1 ? 'slower, no peer in its suite' : 'faster, no peer in its suite';
    comparisons.push({ id: fa.id, kind: 'figure', label: fa.label, a: fa.median, b: fb.median, change, threshold, verdict: v });
  }
  const checksB = new Map(b.checks.map((c) => [c.id, c]));
  for (const ca of a.checks) {
    const cb = checksB.get(ca.id);
    if (cb === undefined || !(ca.measured > 0)) continue;
    const spreadOf = (c: typeof ca): number => (c.rounds !== undefined && c.rounds.length > 1 ? medianNoise(c.rounds, c.measured) : (c.high - c.low) / 2 / c.measured);
    const band = Math.hypot(spreadOf(ca), spreadOf(cb));
    const threshold = Math.min(0.95, Math.max(MIN_CHANGE, K * band));
    const change = cb.measured / ca.measured;
    comparisons.push({ id: ca.id, kind: 'ratio', label: ca.label, a: ca.measured, b: cb.measured, change, threshold, verdict: verdict(change, threshold) });
  }
  const idsA = new Set(a.figures.map((f) => f.id));
  return {
    comparisons,
    speed: { factor: overall.factor, band: overall.band, from: overall.n },
    onlyA: a.figures.filter((f) => !byId.has(f.id)).map((f) => f.id),
    onlyB: b.figures.filter((f) => !idsA.has(f.id)).map((f) => f.id),
    warnings,
    regressions: comparisons.filter((c) => c.verdict === 'regression').length,
  };
}

const pct = (x: number): string => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`;
const num = (x: number, kind: Comparison['kind']): string =>
  kind === 'ratio' ? `${x.toFixed(x >= 100 ? 0 : 2)}×` : Math.round(x).toLocaleString('en-US');

/** The comparison as text: regressions first, then the rest. */
export function formatComparison(r: CompareResult, nameA: string, nameB: string, all = false): string {
  const order: Verdict[] = ['regression', 'slower, too noisy to tell', 'improvement', 'slower, no peer in its suite', 'faster, no peer in its suite', 'within noise', 'peer'];
  const shown = r.comparisons
    .filter((c) => all || (c.verdict !== 'within noise' && c.verdict !== 'peer'))
    .sort((x, y) => order.indexOf(x.verdict) - order.indexOf(y.verdict) || x.change - y.change);
  const rows = shown.map((c) => [c.verdict === 'regression' ? 'REGRESSION' : c.verdict, c.label, num(c.a, c.kind), num(c.b, c.kind), pct(c.change - 1), `±${(c.threshold * 100).toFixed(1)} %`]);
  const lines = [
    `compare: a = ${nameA}, b = ${nameB}`,
    ...r.warnings.map((w) => `warning: ${w}`),
    r.speed.from > 0
      ? `machine speed (b ÷ a, median of ${r.speed.from} peer figures): ${r.speed.factor.toFixed(3)}× (±${(r.speed.band * 100).toFixed(1)} %); figures below are corrected by it`
      : 'no peer figures in both reports: figures are not corrected for the machine\'s speed',
    '',
    rows.length > 0 ? table(['verdict', 'measure', 'a', 'b', 'change', 'noise'], rows, [2, 3, 4, 5]) : '(every common figure and ratio is within its noise)',
    '',
    `${r.regressions} regression(s) beyond noise; ${r.comparisons.filter((c) => c.verdict === 'improvement').length} improvement(s); ` +
      `${r.comparisons.filter((c) => c.verdict === 'within noise').length} within noise and ` +
      `${r.comparisons.filter((c) => c.verdict === 'peer').length} peer figure(s), which measure the machine${all ? '' : ' (not listed; --all lists them)'}. ` +
      `Noise: max(${MIN_CHANGE * 100} %, ${K} × the runs' recorded spread, in quadrature).`,
  ];
  const noisy = r.comparisons.filter((c) => c.verdict === 'slower, too noisy to tell').length;
  if (noisy > 0) {
    lines.push(`${noisy} drop(s) could be neither flagged nor cleared: the runs' spread allows more than ±${TOO_NOISY * 100} %. ` +
      'Re-run both on a quieter machine (see the load line of each report) or with --profile full.');
  }
  if (r.onlyA.length + r.onlyB.length > 0) lines.push(`not compared: ${r.onlyA.length} figure(s) only in a, ${r.onlyB.length} only in b`);
  return lines.join('\n');
}
