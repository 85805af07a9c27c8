// Collects a run's figures and target checks, prints them as plain-text tables (pasteable into
// the README), and writes them as JSON for capacity planning. Ratios are the point: absolute
// rates move with the machine, ratios measured in the same run mostly do not.

import { writeFileSync } from 'node:fs';
import type { LoadFigure } from './load.js';
import { type MachineInfo, formatMachine } from './machine.js';
import { type Budget, type Figure, type LatencyFigure, quantile } from './measure.js';

/** The `schema` of a JSON report; `compare` and `--plan --from` refuse other schemas. */
export const REPORT_SCHEMA = 'totp-fleet-bench/1';

/** A peer's state in a run: measured, or not installed (the peers are dev dependencies). */
export interface PeerStatus {
  readonly name: string;
  readonly version: string | null;
  readonly status: 'measured' | 'not installed';
}

/** A measured value set against a target from issue 3, or shown for information. */
export interface Check {
  readonly id: string;
  readonly scenario: string;
  readonly label: string;
  /**
   * 'ratio' (×), 'fraction' (%), 'rate' (items/s), 'latency' (a p99 under paced load, µs, shown
   * in ms: lower is better, so its target is a most).
   */
  readonly unit: 'ratio' | 'fraction' | 'rate' | 'latency';
  /** Median / median (or the median rate, or the median p99 of the loads). */
  readonly measured: number;
  /** The spread: p25 and p75 of the per-round ratios, or (see `spread`) of the calls. */
  readonly low: number;
  readonly high: number;
  /**
   * 'rounds': low/high are quartiles of per-round ratios; 'quartiles': of the calls' rates;
   * 'runs': the lowest and highest p99 of the loads a latency was taken from.
   */
  readonly spread: 'rounds' | 'quartiles' | 'runs';
  /**
   * The target (measured ≥ target passes; for a latency, measured ≤ target); undefined
   * for an informational line.
   */
  readonly target: number | undefined;
  readonly pass: boolean | undefined;
  /**
   * A ceiling or floor measured beside a target (what the machine allows, not our code's
   * result): shown against the target as within or out of reach, never counted as a target met.
   */
  readonly bound?: true;
  /** Figure ids the check was computed from. */
  readonly from: readonly string[];
  /** The per-round ratios, when paired ('rounds'): `compare` reads its noise from them. */
  readonly rounds?: readonly number[];
}

const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export function formatRate(n: number): string {
  return int.format(n);
}

function formatValue(unit: Check['unit'], n: number): string {
  if (unit === 'ratio') return `${n >= 100 ? n.toFixed(0) : n.toFixed(2)}×`;
  if (unit === 'fraction') return `${(n * 100).toFixed(1)} %`;
  if (unit === 'latency') return `${(n / 1000).toFixed(2)} ms`;
  return `${formatRate(n)}/s`;
}

/** Whether `measured` meets `target`: at most it for a latency, at least it for the rest. */
export function meetsTarget(unit: Check['unit'], measured: number, target: number): boolean {
  return unit === 'latency' ? measured <= target : measured >= target;
}

/** Pads columns; numbers right-aligned. */
export function table(head: readonly string[], rows: readonly (readonly string[])[], right: readonly number[] = []): string {
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((cell, c) => (right.includes(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** The round medians of two figures of one group, paired on the rounds both ran in. */
export function pairedRounds(a: Figure, b: Figure): [number, number][] {
  const ia = a.roundIndex ?? a.roundMedians.map((_, i) => i);
  const ib = new Map((b.roundIndex ?? b.roundMedians.map((_, i) => i)).map((r, i) => [r, b.roundMedians[i]!]));
  const out: [number, number][] = [];
  ia.forEach((r, i) => {
    const v = ib.get(r);
    if (v !== undefined) out.push([a.roundMedians[i]!, v]);
  });
  return out;
}

export class Report {
  readonly machine: MachineInfo;
  readonly profile: string;
  readonly budget: Budget;
  readonly figures: Figure[] = [];
  readonly latencies: LatencyFigure[] = [];
  readonly loads: LoadFigure[] = [];
  readonly checks: Check[] = [];
  readonly notes: { scenario: string; text: string }[] = [];
  readonly peers: PeerStatus[] = [];
  /** Suites run, in order, with their wall time and the time they were given. */
  readonly suites: { id: string; title: string; seconds: number; budgetSeconds: number }[] = [];
  /** The run's budget (the profile's seconds for the suites run), and its wall time once done. */
  readonly budgetSeconds: number;
  wallSeconds: number | undefined;
  /** Test-only: the injected slowdown of our tasks (0 in every real run). */
  readonly injectedSlowdown: number;

  constructor(machine: MachineInfo, profile: string, budget: Budget, run: { budgetSeconds?: number; injectedSlowdown?: number } = {}) {
    this.machine = machine;
    this.profile = profile;
    this.budget = budget;
    this.budgetSeconds = run.budgetSeconds ?? 0;
    this.injectedSlowdown = run.injectedSlowdown ?? 0;
  }

  addLoad(figure: LoadFigure): LoadFigure {
    this.loads.push(figure);
    return figure;
  }

  /** Records a peer once (several suites may load the same one). */
  peer(status: PeerStatus): void {
    if (!this.peers.some((p) => p.name === status.name)) this.peers.push(status);
  }

  /** Records figures (in the order given) and returns them. */
  add(...figures: Figure[]): Figure[] {
    this.figures.push(...figures);
    return figures;
  }

  addLatency(figure: LatencyFigure): LatencyFigure {
    this.latencies.push(figure);
    return figure;
  }

  note(scenario: string, text: string): void {
    this.notes.push({ scenario, text });
  }

  /**
   * `num` / `den` (× or %), against `target` when given. Taken round by round when both were
   * measured in the same interleaved rounds (each round's ratio compares figures taken seconds
   * apart, under the same conditions): the median of the per-round ratios, and their p25–p75.
   * Otherwise median over median, with the spread from the slow and fast quarters.
   */
  ratio(scenario: string, label: string, num: Figure, den: Figure, target?: number, unit: 'ratio' | 'fraction' = 'ratio', bound = false): Check {
    const pairs = pairedRounds(num, den);
    const paired = pairs.length > 1;
    let measured = num.median / den.median;
    let low = num.p25 / den.p75;
    let high = num.p75 / den.p25;
    let rounds: number[] | undefined;
    if (paired) {
      const r = pairs.map(([n, d]) => n / d);
      rounds = r.slice();
      r.sort((a, b) => a - b);
      measured = quantile(r, 0.5);
      low = quantile(r, 0.25);
      high = quantile(r, 0.75);
    }
    return this.#push({
      id: `${scenario}/${num.id}÷${den.id}`,
      scenario, label, unit, measured, low, high, target,
      spread: paired ? 'rounds' : 'quartiles',
      from: [num.id, den.id],
      ...(rounds === undefined ? {} : { rounds }),
      ...(bound ? { bound: true as const } : {}),
    });
  }

  /** A rate against an absolute target (items/s); `bound`: a floor or ceiling shown beside it. */
  rate(scenario: string, label: string, fig: Figure, target?: number, bound = false): Check {
    return this.#push({
      id: `${scenario}/${fig.id}`,
      scenario, label, unit: 'rate',
      measured: fig.median, low: fig.p25, high: fig.p75, target, spread: 'quartiles', from: [fig.id],
      ...(bound ? { bound: true as const } : {}),
    });
  }

  /**
   * A p99 under paced load against a most (µs; measured ≤ target passes): one load's, or the
   * median of several loads' of one configuration at one rate (a floor measured right before and
   * right after what it stands beside), with their lowest and highest as the spread. `bound`: a
   * floor shown beside a target, as in `ratio` and `rate`.
   *
   * @example
   * report.latency('http', 'floor: empty route, p99 at 5,000/s', [before, after], 10_000, true); // within reach at ≤ 10 ms
   */
  latency(scenario: string, label: string, loads: readonly LoadFigure[], target?: number, bound = false): Check {
    if (loads.length === 0) throw new RangeError(`${scenario}: ${label}: no load to take a p99 from`);
    const p99s = loads.map((l) => l.p99).sort((a, b) => a - b);
    return this.#push({
      id: `${scenario}/${loads.map((l) => l.id).join('+')}/p99`,
      scenario, label, unit: 'latency',
      measured: quantile(p99s, 0.5), low: p99s[0]!, high: p99s[p99s.length - 1]!, target, spread: 'runs',
      from: loads.map((l) => l.id),
      ...(bound ? { bound: true as const } : {}),
    });
  }

  #push(c: Omit<Check, 'pass'>): Check {
    const check = Object.freeze({ ...c, pass: c.target === undefined || c.bound ? undefined : meetsTarget(c.unit, c.measured, c.target) });
    this.checks.push(check);
    return check;
  }

  header(): string {
    const b = this.budget;
    const wall = this.wallSeconds === undefined ? '' : `; took ${this.wallSeconds.toFixed(1)} s`;
    return `${formatMachine(this.machine)}\nprofile:  ${this.profile}, a budget of ${this.budgetSeconds} s for its suites${wall}\n` +
      `budget:   each group of tasks in interleaved rounds until its deadline (${b.minRounds}..${b.rounds} rounds), ` +
      `each task ${+(b.time / b.rounds).toFixed(1)} ms (≥ 1 call) per round, after ${b.warmupTime} ms warm-up (≥ ${b.warmupIterations} calls)` +
      (this.injectedSlowdown > 0 ? `\nTEST RUN: our tasks slowed by ${Math.round(this.injectedSlowdown * 100)} % on purpose (${'TOTP_FLEET_BENCH_INJECT_SLOWDOWN'})` : '');
  }

  figuresTable(scenario?: string): string {
    const rows = this.figures.filter((f) => scenario === undefined || f.scenario === scenario).map((f) => [
      f.label, formatRate(f.median), `${formatRate(f.p25)} – ${formatRate(f.p75)}`, `±${f.rme.toFixed(1)} %`,
      String(f.samples), int.format(f.items),
    ]);
    return table(['task', 'median items/s', 'p25 – p75 items/s', 'rme', 'calls', 'items/call'], rows, [1, 2, 3, 4, 5]);
  }

  loadTable(scenario?: string): string {
    const ms = (n: number): string => (n / 1000).toFixed(2);
    const rows = this.loads.filter((f) => scenario === undefined || f.scenario === scenario).map((f) => [
      f.config, formatRate(f.offered), formatRate(f.achieved), ms(f.p50), ms(f.p90), ms(f.p99), ms(f.max),
      f.saturated ? 'SATURATED' : 'ok',
    ]);
    return table(['configuration', 'offered/s', 'achieved/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', ''], rows, [1, 2, 3, 4, 5, 6]);
  }

  latencyTable(scenario?: string): string {
    const us = (n: number): string => n.toFixed(1);
    const rows = this.latencies.filter((f) => scenario === undefined || f.scenario === scenario).map((f) => [
      f.label, us(f.p50), us(f.p90), us(f.p99), us(f.max), us(f.mean), String(f.samples),
    ]);
    return table(['lone call', 'p50 µs', 'p90 µs', 'p99 µs', 'max µs', 'mean µs', 'calls'], rows, [1, 2, 3, 4, 5, 6]);
  }

  checksTable(scenario?: string): string {
    const rows = this.checks.filter((c) => scenario === undefined || c.scenario === scenario).map((c) => [
      ...(scenario === undefined ? [c.scenario] : []),
      c.label,
      formatValue(c.unit, c.measured),
      `${formatValue(c.unit, c.low)} – ${formatValue(c.unit, c.high)}`,
      c.target === undefined ? '' : `${c.unit === 'latency' ? '≤' : '≥'} ${formatValue(c.unit, c.target)}`,
      c.bound && c.target !== undefined ? (meetsTarget(c.unit, c.measured, c.target) ? 'within reach' : 'OUT OF REACH') : c.pass === undefined ? 'info' : c.pass ? 'PASS' : 'MISS',
    ]);
    const head = [...(scenario === undefined ? ['scenario'] : []), 'measure', 'median', 'p25 – p75', 'target', 'result'];
    const off = scenario === undefined ? 1 : 0;
    return table(head, rows, [1 + off, 2 + off]);
  }

  /** What a scenario printed: its figures, latencies, checks and notes. */
  scenarioText(scenario: string): string {
    const parts: string[] = [];
    if (this.figures.some((f) => f.scenario === scenario)) parts.push(this.figuresTable(scenario));
    if (this.latencies.some((f) => f.scenario === scenario)) parts.push(this.latencyTable(scenario));
    if (this.loads.some((f) => f.scenario === scenario)) parts.push(this.loadTable(scenario));
    if (this.checks.some((c) => c.scenario === scenario)) parts.push(this.checksTable(scenario));
    const notes = this.notes.filter((n) => n.scenario === scenario).map((n) => `note: ${n.text}`);
    if (notes.length > 0) parts.push(notes.join('\n'));
    return parts.join('\n\n');
  }

  summary(): string {
    const targets = this.checks.filter((c) => c.pass !== undefined);
    const passed = targets.filter((c) => c.pass).length;
    const missing = this.peers.filter((p) => p.status !== 'measured').map((p) => p.name);
    return [
      '=== summary ===',
      this.header(),
      '',
      this.checksTable(),
      '',
      `${passed} of ${targets.length} targets met; 'info' lines have no target in the issues; ` +
        "'within reach' / 'OUT OF REACH' lines are ceilings and floors (what this machine allows), shown beside a target, not counted.",
      'Ratios are medians of per-round ratios (tasks of a ratio are measured in interleaved rounds); p25 – p75 of those rounds.',
      ...(missing.length > 0 ? [`Peers not installed, not measured: ${missing.join(', ')} (they are dev dependencies).`] : []),
    ].join('\n');
  }

  toJSON(): unknown {
    return {
      schema: REPORT_SCHEMA,
      profile: this.profile,
      machine: this.machine,
      budget: this.budget,
      budgetSeconds: this.budgetSeconds,
      wallSeconds: this.wallSeconds,
      injectedSlowdown: this.injectedSlowdown,
      peers: this.peers,
      suites: this.suites,
      figures: this.figures,
      latencies: this.latencies,
      loads: this.loads,
      checks: this.checks,
      notes: this.notes,
    };
  }

  writeJson(file: string): void {
    writeFileSync(file, `${JSON.stringify(this, null, 2)}\n`);
  }
}
