// `totp-fleet bench compare a.json b.json`: which measures of b are worse than a's beyond the
// noise between two runs of one build.
//
// What is judged. Only ratios of tasks measured in the same interleaved rounds (the checks),
// and per suite the geometric mean of its ratios to peers. Absolute figures are shown (divided
// by the machine's change of speed, which the peers measure) but never judged: on a shared VM a
// figure of one build moves by up to half between two runs (a slow phase of minutes lands on
// whichever suite runs then), and a peer measured in another group of tasks does not follow it.
// A build 30 % slower shows in every ratio of ours to a peer, and so in the suites' means.
//
// The noise model, per ratio: its within-run band is the standard error of the median of its
// per-round ratios (medianNoise); two runs add their bands and the between-run noise of its kind
// (BETWEEN_RUNS, measured on this project's 2-core VM: see the README, "Capacity planning") in
// quadrature, and a drop is flagged beyond max(MIN_CHANGE, K × that). A ratio paired on fewer
// than MIN_ROUNDS rounds in either run (a slow peer that sat out rounds, a loaded machine) is
// not judged: two or three rounds give no spread to judge with, and their medians moved by up to
// 4× between runs of one build. A suite's mean is judged the same way with its own between-run
// noise, so a slowdown of one suite is flagged even when no single ratio of it can be. A suite
// whose mean cannot be judged (too few rounds: the machine was busy) or whose drop is too noisy
// to tell makes the comparison inconclusive (`inconclusive`, exit status 3), never a pass.

import { quantile } from './measure.js';
import type { ReportData } from './report-file.js';
import { table } from './report.js';

/** Paired rounds from which a ratio is judged, and from which a median's noise is its standard error. */
export const MIN_ROUNDS = 5;
/** Smallest change ever flagged, whatever the recorded noise. */
export const MIN_CHANGE = 0.05;
/** Bands of noise a change must exceed to be flagged. */
export const K = 3;
/** Past this threshold the runs were too noisy to judge a drop: it is reported as such, not passed silently. */
export const TOO_NOISY = 0.5;

/**
 * Between-run noise (relative, of b ÷ a) of two quick runs of one build beyond what each run's
 * own rounds show, measured on the 2-core shared VM (README, "Capacity planning"): the least with
 * which K = 3 flags none of the same-build pairs of 5 quick runs, rounded up (a single ratio to
 * a peer moved by about 8-10 % σ, a suite's mean less); `ownRatio` raised from 12 % to 15 % by a
 * held-out pair. `peerRatio`: a ratio of ours to a peer; `ownRatio`: a ratio of two tasks of ours
 * (SIMD ÷ scalar, pool ÷ inline, window ±w ÷ ±0); `suite`: the geometric mean of a suite's ratios
 * to peers.
 */
export const BETWEEN_RUNS = Object.freeze({ peerRatio: 0.12, ownRatio: 0.15, suite: 0.075 });

/**
 * 'figure': an absolute figure, shown, never judged. 'peer': a peer's own figure. 'too few
 * rounds': a ratio paired on fewer than MIN_ROUNDS rounds in a run, or a suite's mean most of
 * whose ratios were.
 */
export type Verdict = 'regression' | 'improvement' | 'within noise' | 'slower, too noisy to tell' | 'too few rounds' | 'figure' | 'peer';

export interface Comparison {
  readonly id: string;
  /** The suite it belongs to. */
  readonly scenario: string;
  /** 'suite': the geometric mean of a suite's ratios to peers. */
  readonly kind: 'figure' | 'ratio' | 'suite';
  readonly label: string;
  readonly a: number;
  readonly b: number;
  /** b ÷ a, after the machine-speed correction for figures. */
  readonly change: number;
  /** The relative drop that would have been flagged (0 where nothing is judged). */
  readonly threshold: number;
  readonly verdict: Verdict;
}

export interface CompareResult {
  readonly comparisons: readonly Comparison[];
  /** b ÷ a of the peers' figures (median), and its band; 1 and 0 without common peers. */
  readonly speed: { factor: number; band: number; from: number };
  readonly onlyA: readonly string[];
  readonly onlyB: readonly string[];
  /** Latency lines (a p99 under paced load, and its floor) in both reports: shown by each run, not judged. */
  readonly latencies: number;
  readonly warnings: readonly string[];
  readonly regressions: number;
  /**
   * Suites whose mean to the peers could not be judged (most of its ratios paired on fewer than
   * MIN_ROUNDS rounds) or dropped but was too noisy to tell: the comparison is inconclusive
   * there, and says so rather than pass it.
   */
  readonly inconclusive: readonly string[];
}

/**
 * How far the median of `values` (per-round medians or per-round ratios) could be off,
 * relative to `centre`: its standard error, 1.2533 σ / √n, with σ estimated robustly as
 * IQR / 1.349 (a slow phase of the machine is an outlier round, not a wider σ). From
 * MIN_ROUNDS values on; below that the quartiles are mostly interpolation, so half the whole
 * range, as wide as a single round's spread.
 */
export function medianNoise(values: readonly number[], centre: number): number {
  if (values.length < 2 || !(centre > 0)) return 0;
  const sorted = values.slice().sort((x, y) => x - y);
  if (sorted.length < MIN_ROUNDS) return (sorted[sorted.length - 1]! - sorted[0]!) / 2 / centre;
  const sigma = (quantile(sorted, 0.75) - quantile(sorted, 0.25)) / 1.349;
  return (1.2533 * sigma) / Math.sqrt(sorted.length) / centre;
}

/** The drop flagged for a change whose within-run bands are `within` and between-run noise `between`. */
function thresholdOf(within: number, between: number): number {
  return Math.min(0.95, Math.max(MIN_CHANGE, K * Math.hypot(within, between)));
}

function verdict(change: number, threshold: number): Verdict {
  if (change < 1 - threshold) return 'regression';
  if (threshold >= TOO_NOISY && change < 1 - MIN_CHANGE) return 'slower, too noisy to tell';
  if (change > 1 / (1 - threshold)) return 'improvement';
  return 'within noise';
}

type Check = ReportData['checks'][number];

/** Rounds a ratio was paired on (0 for a ratio of medians, as older reports hold some). */
const roundsOf = (c: Check): number => c.rounds?.length ?? 0;
/** A ratio's within-run band: from its per-round ratios, else from its quartiles. */
const bandOf = (c: Check): number => (c.rounds !== undefined && c.rounds.length > 1 ? medianNoise(c.rounds, c.measured) : (c.high - c.low) / 2 / c.measured);

/**
 * Compares two reports: every figure and ratio that both hold, and each suite's ratios to
 * peers together.
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

  // The machine's speed between the runs, from the peers (not part of the build): shown, and
  // figures are divided by it for reading (per suite where the suite measured peers).
  const speedOf = (list: typeof pairs): { factor: number; band: number; n: number } => {
    const refs = list.filter((p) => p.fa.reference && p.fb.reference).map((p) => p.fb.median / p.fa.median);
    const factor = refs.length > 0 ? quantile(refs.slice().sort((x, y) => x - y), 0.5) : 1;
    return { factor, band: refs.length > 1 ? medianNoise(refs, factor) : 0, n: refs.length };
  };
  const overall = speedOf(pairs);
  if (overall.n > 0 && Math.abs(overall.factor - 1) > 0.1) {
    warnings.push(`the peers ran at ${overall.factor.toFixed(2)}× in b: the machine was ${overall.factor < 1 ? 'slower' : 'faster'}; figures are shown divided by that factor`);
  }
  const local = new Map<string, ReturnType<typeof speedOf>>();
  for (const scenario of new Set(pairs.map((p) => p.fa.scenario))) {
    const own = speedOf(pairs.filter((p) => p.fa.scenario === scenario));
    local.set(scenario, own.n > 0 ? own : overall);
  }

  const comparisons: Comparison[] = [];
  for (const { fa, fb } of pairs) {
    const change = fb.median / fa.median / (fa.reference ? 1 : local.get(fa.scenario)!.factor);
    comparisons.push({
      id: fa.id, scenario: fa.scenario, kind: 'figure', label: fa.label, a: fa.median, b: fb.median, change, threshold: 0,
      verdict: fa.reference ? 'peer' : 'figure',
    });
  }

  const peerIds = new Set([...a.figures, ...b.figures].filter((f) => f.reference).map((f) => f.id));
  const checksB = new Map(b.checks.map((c) => [c.id, c]));
  /** Per suite, the log changes and within-run bands of its judged ratios to peers. */
  const toPeers = new Map<string, { log: number; band: number }[]>();
  /** Per suite, its ratios to peers in both reports, judged or not. */
  const peerRatios = new Map<string, number>();
  let latencies = 0;
  for (const ca of a.checks) {
    const cb = checksB.get(ca.id);
    if (cb === undefined || !(ca.measured > 0) || !(cb.measured > 0)) continue;
    // A p99 of one paced load per run (lower is better, unlike every ratio here): serve's at
    // 5,000/s read 7.6, 34.5 and 7.5 ms in three runs of one build within six minutes on this
    // VM (README, Load), and it has no rounds to take a noise from. Not judged, as the loads it
    // comes from are not.
    if (ca.unit === 'latency' || cb.unit === 'latency') {
      latencies++;
      continue;
    }
    const change = cb.measured / ca.measured;
    // Ours ÷ a peer: the peer's figure is the denominator (Report.ratio's `from` is [num, den]).
    const toPeer = ca.from.length === 2 && !peerIds.has(ca.from[0]!) && peerIds.has(ca.from[1]!);
    if (toPeer) peerRatios.set(ca.scenario, (peerRatios.get(ca.scenario) ?? 0) + 1);
    const base = { id: ca.id, scenario: ca.scenario, kind: 'ratio' as const, label: ca.label, a: ca.measured, b: cb.measured, change };
    if (Math.min(roundsOf(ca), roundsOf(cb)) < MIN_ROUNDS) {
      comparisons.push({ ...base, threshold: 0, verdict: 'too few rounds' });
      continue;
    }
    const within = Math.hypot(bandOf(ca), bandOf(cb));
    const threshold = thresholdOf(within, toPeer ? BETWEEN_RUNS.peerRatio : BETWEEN_RUNS.ownRatio);
    comparisons.push({ ...base, threshold, verdict: verdict(change, threshold) });
    if (toPeer) {
      if (!toPeers.has(ca.scenario)) toPeers.set(ca.scenario, []);
      toPeers.get(ca.scenario)!.push({ log: Math.log(change), band: within });
    }
  }
  for (const [scenario, count] of peerRatios) {
    const list = toPeers.get(scenario) ?? [];
    // The geometric mean of the suite's ratios to peers, judged when at least half of them were
    // (a suite whose groups mostly ran fewer than MIN_ROUNDS rounds was measured on a machine
    // busy with other work, which slows our code more than the peers: its mean is biased, not
    // just noisy). Its within-run band is theirs over √n; the measured between-run noise of such
    // a mean comes on top.
    const judged = list.length > 0 && list.length * 2 >= count;
    // Shown when not judged too (the ratios that were): NaN when none was.
    const change = Math.exp(list.reduce((s, x) => s + x.log, 0) / list.length);
    const within = judged ? Math.hypot(...list.map((x) => x.band)) / list.length : 0;
    const threshold = judged ? thresholdOf(within, BETWEEN_RUNS.suite) : 0;
    comparisons.push({
      id: `${scenario}/ours÷peers`, scenario, kind: 'suite',
      label: judged ? `our code ÷ the peers, geometric mean of ${list.length} ratio(s)` : `our code ÷ the peers: ${list.length} of ${count} ratio(s) judged, too few for a mean`,
      a: 1, b: change, change, threshold, verdict: judged ? verdict(change, threshold) : 'too few rounds',
    });
  }
  const idsA = new Set(a.figures.map((f) => f.id));
  return {
    comparisons,
    speed: { factor: overall.factor, band: overall.band, from: overall.n },
    onlyA: a.figures.filter((f) => !byId.has(f.id)).map((f) => f.id),
    onlyB: b.figures.filter((f) => !idsA.has(f.id)).map((f) => f.id),
    latencies,
    warnings,
    regressions: comparisons.filter((c) => c.verdict === 'regression').length,
    inconclusive: comparisons
      .filter((c) => c.kind === 'suite' && (c.verdict === 'too few rounds' || c.verdict === 'slower, too noisy to tell'))
      .map((c) => c.scenario),
  };
}

const pct = (x: number): string => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`;
const num = (x: number, kind: Comparison['kind']): string =>
  kind === 'figure' ? Math.round(x).toLocaleString('en-US') : `${x.toFixed(x >= 100 ? 0 : 2)}×`;

/**
 * The comparison as text: the suites' means and every judged change that was not within its
 * noise, regressions first; `all` lists every figure and ratio too. Each row names its suite
 * (a label such as node:crypto's recurs in several).
 */
export function formatComparison(r: CompareResult, nameA: string, nameB: string, all = false): string {
  const order: Verdict[] = ['regression', 'slower, too noisy to tell', 'improvement', 'within noise', 'too few rounds', 'figure', 'peer'];
  const count = (v: Verdict): number => r.comparisons.filter((c) => c.verdict === v).length;
  const shown = r.comparisons
    .filter((c) => all || c.kind === 'suite' || c.verdict === 'regression' || c.verdict === 'improvement' || c.verdict === 'slower, too noisy to tell')
    .sort((x, y) => order.indexOf(x.verdict) - order.indexOf(y.verdict) || (x.kind === 'suite' ? 0 : 1) - (y.kind === 'suite' ? 0 : 1) || x.change - y.change);
  const rows = shown.map((c) => [
    c.verdict === 'regression' ? 'REGRESSION' : c.verdict, c.scenario, c.label,
    c.kind === 'suite' ? '' : num(c.a, c.kind), c.kind === 'suite' ? '' : num(c.b, c.kind), Number.isNaN(c.change) ? '' : pct(c.change - 1),
    c.threshold > 0 ? `−${(c.threshold * 100).toFixed(1)} %` : '',
  ]);
  const judged = r.comparisons.filter((c) => c.kind !== 'figure').length - count('too few rounds');
  const lines = [
    `compare: a = ${nameA}, b = ${nameB}`,
    ...r.warnings.map((w) => `warning: ${w}`),
    r.speed.from > 0
      ? `machine speed (b ÷ a, median of ${r.speed.from} peer figures): ${r.speed.factor.toFixed(3)}× (±${(r.speed.band * 100).toFixed(1)} %); figures are shown divided by it`
      : 'no peer figures in both reports: figures are shown as measured',
    '',
    rows.length > 0 ? table(['verdict', 'suite', 'measure', 'a', 'b', 'change', 'flagged at'], rows, [3, 4, 5, 6]) : '(no ratio in both reports)',
    '',
    `${r.regressions} regression(s) beyond noise, ${count('improvement')} improvement(s), ${count('within noise')} within noise, of ${judged} judged: ` +
      'ratios of tasks measured in the same rounds, and per suite their mean to the peers. ' +
      `Flagged at max(${MIN_CHANGE * 100} %, ${K} × the two runs' spread and the between-run noise, in quadrature); ` +
      `between-run noise ${BETWEEN_RUNS.peerRatio * 100} % for a ratio to a peer, ${BETWEEN_RUNS.ownRatio * 100} % for a ratio of ours, ${BETWEEN_RUNS.suite * 100} % for a suite's mean (measured: README, "Capacity planning").`,
    `Not judged${all ? '' : ' (--all lists them)'}: ${count('figure')} absolute figure(s) (they move with the machine between runs), ` +
      `${count('peer')} peer figure(s), ${r.comparisons.filter((c) => c.kind === 'ratio' && c.verdict === 'too few rounds').length} ratio(s) paired on fewer than ${MIN_ROUNDS} rounds` +
      (r.latencies > 0 ? `, ${r.latencies} p99 latency line(s) (one paced load per run: read them in each report)` : '') + '.',
  ];
  const noisy = count('slower, too noisy to tell');
  if (noisy > 0) {
    lines.push(`${noisy} drop(s) could be neither flagged nor cleared: the runs' own spread allows more than −${TOO_NOISY * 100} %. ` +
      'Re-run both on a quieter machine (see the load line of each report) or with --profile full.');
  }
  if (r.inconclusive.length > 0) {
    lines.push(`inconclusive: ${r.inconclusive.join(', ')}: the mean to the peers could not be judged (a run's groups got too few rounds, ` +
      'or spread too widely: the machine was busy with other work, which slows our code more than the peers). Re-run the run(s) concerned.');
  }
  if (r.onlyA.length + r.onlyB.length > 0) lines.push(`not compared: ${r.onlyA.length} figure(s) only in a, ${r.onlyB.length} only in b`);
  return lines.join('\n');
}
