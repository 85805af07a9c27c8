// A thin layer over tinybench: groups of tasks measured in interleaved rounds, a known number of
// items per call, and the figures a capacity planner needs (median items/s, its spread, and
// the median of each round for paired ratios), not tinybench's per-call table.

import { Bench } from 'tinybench';

/**
 * Time budgets, the same for every scenario unless a scenario says otherwise. A group of tasks
 * is measured in interleaved rounds (A B C, A B C, ...) until its deadline (see GroupOptions),
 * at least `minRounds` and at most `rounds`: a loaded machine gives fewer rounds, not a longer run.
 */
export interface Budget {
  /**
   * Milliseconds of measured calls per task over `rounds` rounds: each round of a task measures
   * for `time / rounds` ms (tinybench `time`), and at least one call.
   */
  readonly time: number;
  /** At least this many measured calls per task over `rounds` rounds (tinybench `iterations`). */
  readonly iterations: number;
  /** Milliseconds of unmeasured calls before a task's first round, so V8 has tiered up JS and WebAssembly. */
  readonly warmupTime: number;
  readonly warmupIterations: number;
  /**
   * Most rounds per group. On a shared virtual machine, slow phases of up to several seconds
   * come and go (the host's other tenants; on the 2-core dev VM the same kernel runs at 6 or at
   * 3 M items/s); interleaving spreads them over every task of a ratio alike instead of on
   * whichever task happened to run at the time, and many short rounds give many paired ratios,
   * whose median moves little with the machine.
   */
  readonly rounds: number;
  /** Fewest rounds per group, deadline or not (the first round also finds each task's cost). */
  readonly minRounds: number;
}

/** How long a group may take, and what a test-only harness setting does to it. */
export interface GroupOptions {
  /** performance.now() by which the group stops starting rounds (after `minRounds`). */
  readonly deadline?: number;
  /**
   * Test-only: slows every task of ours (not the peers') by this fraction of its throughput,
   * by spinning after each call for `elapsed × s / (1 − s)`. `compare` is checked with it
   * (TOTP_FLEET_BENCH_INJECT_SLOWDOWN, read by the runner); it lives here, in the measuring
   * harness, and nowhere on the library's own path.
   */
  readonly slowdown?: number;
}

/** A throughput figure: items per second over many calls of one task. */
export interface Figure {
  /** Stable identifier for JSON consumers, e.g. "throughput-vs-peers/node-crypto/valid". */
  readonly id: string;
  readonly scenario: string;
  /** What a reader sees in the table. */
  readonly label: string;
  /** Items verified per call. */
  readonly items: number;
  /** Items per second, median over calls. */
  readonly median: number;
  /** Items per second at the 25th and 75th percentile of calls (p25 is the slower quarter). */
  readonly p25: number;
  readonly p75: number;
  /** Relative margin of error of the mean call time, percent (95 %, Student's t). */
  readonly rme: number;
  /** Measured calls, over all rounds. */
  readonly samples: number;
  readonly rounds: number;
  /** Items per second, median of each round: ratios are taken round by round (see Report.ratio). */
  readonly roundMedians: readonly number[];
  /**
   * The group's round number of each of `roundMedians` (0-based). A task that costs much more
   * than the others of its group runs only every few rounds (see measureGroup); ratios pair
   * the rounds both figures ran in. Absent in older reports: 0, 1, 2, ...
   */
  readonly roundIndex?: readonly number[];
  /** True for a peer (not this package's code): `compare` uses these to tell a slower machine from a slower build. */
  readonly reference: boolean;
  /** What was varied, for the chart and the planner (threads, batch size, window, valid/invalid). */
  readonly params: FigureParams;
}

/** The settings a figure was measured at; absent fields were not varied by its suite. */
export interface FigureParams {
  readonly kind?: 'valid' | 'invalid';
  readonly threads?: number;
  readonly batch?: number;
  readonly window?: number;
  readonly peer?: string;
}

/** The q-quantile of sorted numbers, linearly interpolated. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Two-sided 95 % Student's t for `df` degrees of freedom (1.96 from 30 on). */
function tCritical(df: number): number {
  const table = [12.71, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086,
    2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045];
  return df < 1 ? Number.NaN : (table[df - 1] ?? 1.96);
}

export interface TaskSpec {
  readonly id: string;
  readonly scenario: string;
  readonly label: string;
  readonly items: number;
  /** One call: verifies `items` items. Must check its own answers (a wrong answer throws). */
  readonly fn: () => unknown;
  /** Whether `fn` returns a promise (stated, so tinybench does not call it once to find out). */
  readonly async: boolean;
  /** Runs before each of the task's rounds, untimed (e.g. puts its data back in place). */
  readonly setup?: () => void;
  readonly budget?: Partial<Budget>;
  /** See Figure.reference. */
  readonly reference?: boolean;
  /**
   * May sit out rounds when it costs more than the group's other tasks (a slow peer: otplib's
   * 10,000 items take half a second where node:crypto's take 40 ms); see measureGroup.
   */
  readonly sparse?: boolean;
  readonly params?: FigureParams;
}

/**
 * A full collection (when node runs with --expose-gc), once per group before its warm-up, never
 * between rounds. A forced mark-compact clears the weak references V8's optimised code holds
 * (maps and objects of the last calls) and so throws away the facade's hot TurboFan code
 * ("marking dependent code for deoptimization, reason: weak objects" under --trace-deopt): the
 * next 4-6 calls of a 10,000-item batch run 3-10 times slower while V8 tiers up again. Before
 * every round of 10 ms, that was every measured call, and the facade measured 0.4-0.7 M items/s
 * against 3 M in a plain loop (issue 4). Collected once here, the group's warm-up re-tiers
 * after it; garbage made in the rounds is collected as it would be in service, by V8 when it
 * chooses, its pauses falling on whichever task runs then and on every task alike.
 */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** One round of one task under tinybench; its call times in milliseconds. */
async function round(spec: TaskSpec, fn: () => unknown, budget: Budget, first: boolean): Promise<number[]> {
  // No gc() here: see collectGarbage.
  spec.setup?.();
  const bench = new Bench({
    name: spec.id,
    time: budget.time / budget.rounds,
    iterations: Math.max(1, Math.ceil(budget.iterations / budget.rounds)),
    // Only the first round warms up: V8 has tiered the code up by then, and the median is not
    // moved by a later round's first call finding the CPU caches cold.
    warmup: first,
    warmupTime: budget.warmupTime,
    warmupIterations: budget.warmupIterations,
    retainSamples: true,
    throws: true,
    timestampProvider: 'hrtimeNow',
  });
  bench.add(spec.label, fn, { async: spec.async });
  await bench.run();
  const result = bench.tasks[0]!.result;
  if (result.state !== 'completed') {
    throw new Error(`${spec.id}: task ${result.state}${result.state === 'errored' ? `: ${result.error.message}` : ''}`);
  }
  return [...(result.latency.samples ?? [])];
}

function figure(spec: TaskSpec, perRound: readonly number[][], roundIndex: readonly number[]): Figure {
  const ms = perRound.flat();
  const sorted = ms.slice().sort((a, b) => a - b);
  const n = sorted.length;
  const mean = sorted.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(sorted.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, n - 1));
  const perSecond = (t: number): number => (spec.items * 1000) / t;
  return Object.freeze({
    id: spec.id,
    scenario: spec.scenario,
    label: spec.label,
    items: spec.items,
    median: perSecond(quantile(sorted, 0.5)),
    p25: perSecond(quantile(sorted, 0.75)),
    p75: perSecond(quantile(sorted, 0.25)),
    rme: (100 * tCritical(n - 1) * sd) / Math.sqrt(n) / mean,
    samples: n,
    rounds: perRound.length,
    roundMedians: perRound.map((r) => perSecond(quantile(r.slice().sort((a, b) => a - b), 0.5))),
    roundIndex: roundIndex.slice(),
    reference: spec.reference ?? false,
    params: Object.freeze({ ...spec.params }),
  });
}

/** Told before each round of each task, so that a progress display can move. */
export interface MeasureObserver {
  /** `rounds` more task-rounds are expected in this group (an estimate, revised as rounds run). */
  planned(rounds: number): void;
  /** One task-round is about to start. */
  round(label: string): void;
}

/** Most rounds a costly task sits out between two of its rounds. */
export const MAX_EVERY = 8;

/** Spins the CPU for `ms` milliseconds (the injected slowdown: work, not sleep). */
function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) { /* busy */ }
}

/** `spec.fn`, slowed by `slowdown` of its throughput when it is ours (see GroupOptions.slowdown). */
function timedFn(spec: TaskSpec, slowdown: number): () => unknown {
  if (!(slowdown > 0) || spec.reference === true) return spec.fn;
  const extra = slowdown / (1 - slowdown);
  if (!spec.async) {
    return () => {
      const t0 = performance.now();
      const r = spec.fn();
      spin((performance.now() - t0) * extra);
      return r;
    };
  }
  return async () => {
    const t0 = performance.now();
    const r = await spec.fn();
    spin((performance.now() - t0) * extra);
    return r;
  };
}

/**
 * Measures `specs` together: warm-up, then interleaved rounds until the deadline (at least
 * `minRounds`, at most `rounds`), samples pooled per task. Returns one throughput figure per
 * spec, in order.
 *
 * A `sparse` task whose round costs several times the costliest of the others runs only
 * every k-th round, k = its cost ÷ that (at most MAX_EVERY), so that the others get many paired
 * rounds in the time; it still runs in round 0 and every k-th after it, and its ratios pair
 * those rounds.
 *
 * @example
 * const [base, ours] = await measureGroup([
 *   { id: 'x/base', scenario: 'x', label: 'baseline', items: 10_000, async: false, fn: () => base() },
 *   { id: 'x/ours', scenario: 'x', label: 'ours', items: 10_000, async: true, fn: () => ours() },
 * ], budget, observer, { deadline: performance.now() + 5_000 });
 */
export async function measureGroup(
  specs: readonly TaskSpec[], budget: Budget, observer?: MeasureObserver, opts: GroupOptions = {},
): Promise<Figure[]> {
  const budgets = specs.map((s) => ({ ...budget, ...s.budget }));
  const fns = specs.map((s) => timedFn(s, opts.slowdown ?? 0));
  const maxRounds = Math.max(1, ...budgets.map((b) => b.rounds));
  const minRounds = Math.min(maxRounds, Math.max(1, budget.minRounds));
  const deadline = opts.deadline ?? Number.POSITIVE_INFINITY;
  const samples = specs.map((): number[][] => []);
  const indices = specs.map((): number[] => []);
  const cost = specs.map(() => 0);
  let every = specs.map(() => 1);
  observer?.planned(specs.length * minRounds);
  collectGarbage();
  for (let r = 0; r < maxRounds; r++) {
    const t0 = performance.now();
    if (r >= minRounds && Number.isFinite(deadline)) {
      // Start another round only if one like the last fits before the deadline.
      const last = cost.reduce((a, c, i) => a + (r % every[i]! === 0 ? c : 0), 0);
      if (t0 + last > deadline) break;
    }
    if (r >= minRounds) observer?.planned(specs.filter((_, i) => r % every[i]! === 0).length);
    for (let i = 0; i < specs.length; i++) {
      if (r >= budgets[i]!.rounds || r % every[i]! !== 0) continue;
      observer?.round(specs[i]!.label);
      const s0 = performance.now();
      samples[i]!.push(await round(specs[i]!, fns[i]!, budgets[i]!, r === 0));
      indices[i]!.push(r);
      // The cost of a round of this task, warm-up excluded after the first.
      if (r > 0 || cost[i] === 0) cost[i] = r === 0 ? samples[i]![0]!.reduce((a, b) => a + b, 0) : performance.now() - s0;
    }
    if (r === 0) {
      const dense = Math.max(1e-3, ...cost.filter((_, i) => specs[i]!.sparse !== true));
      every = cost.map((c, i) => (specs[i]!.sparse === true ? Math.min(MAX_EVERY, Math.max(1, Math.floor(c / dense))) : 1));
    }
  }
  return specs.map((s, i) => figure(s, samples[i]!, indices[i]!));
}

/** A latency figure: one call at a time, in microseconds. */
export interface LatencyFigure {
  readonly id: string;
  readonly scenario: string;
  readonly label: string;
  readonly samples: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/**
 * Times `count` sequential awaited calls of `fn` one by one (after `warmup` untimed calls):
 * the latency a lone caller sees. Each call is bracketed by `process.hrtime.bigint()`.
 */
export async function measureLatency(
  spec: { id: string; scenario: string; label: string; count: number; warmup: number },
  fn: () => Promise<unknown>,
): Promise<LatencyFigure> {
  // Collected before the warm-up, not after it: a forced collection throws the warm code away.
  collectGarbage();
  for (let i = 0; i < spec.warmup; i++) await fn();
  const us = new Float64Array(spec.count);
  for (let i = 0; i < spec.count; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    us[i] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  const sorted = us.slice().sort();
  let sum = 0;
  for (const v of us) sum += v;
  return Object.freeze({
    id: spec.id,
    scenario: spec.scenario,
    label: spec.label,
    samples: spec.count,
    p50: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    p99: quantile(sorted, 0.99),
    max: sorted[sorted.length - 1]!,
    mean: sum / spec.count,
  });
}
