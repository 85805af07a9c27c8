// Small synthetic bench reports (the shape Report.writeJson writes), for testing compare and
// --plan without measuring anything.

import { REPORT_SCHEMA } from '../../src/bench/report.js';

export interface FigureSpec {
  id: string;
  median: number;
  /** Relative spread of the per-round medians around the median (e.g. 0.02: ±2 %). */
  spread: number;
  reference?: boolean;
}

const MACHINE = {
  date: '2026-11-23T12:00:00.000Z', cpu: 'Test CPU', cores: 2, parallelism: 2, memoryGiB: 4, os: 'linux',
  node: 'v20.20.2', v8: '11.3', loadAverage: [0, 0, 0], commit: 'abc1234', versions: { 'totp-fleet': '0.1.0' },
};

export function figure(f: FigureSpec, scale = 1): Record<string, unknown> {
  const m = f.median * scale;
  const rounds = [-1, -0.5, 0, 0.5, 1].map((k) => m * (1 + k * f.spread));
  return {
    id: f.id, scenario: f.id.split('/')[0], label: f.id, items: 10_000,
    median: m, p25: m * (1 - f.spread), p75: m * (1 + f.spread), rme: 1, samples: 50, rounds: 5,
    roundMedians: rounds, reference: f.reference ?? false, params: {},
  };
}

/**
 * A report with the given figures, and for each non-reference figure a ratio to the first
 * reference, in the numerator's suite, paired on the figures' 5 rounds as Report.ratio pairs them.
 */
export function syntheticReport(figs: FigureSpec[], opts: { scale?: (f: FigureSpec) => number; loads?: unknown[] } = {}): Record<string, unknown> {
  const scale = opts.scale ?? (() => 1);
  const built = figs.map((f) => figure(f, scale(f)));
  const ref = figs.findIndex((f) => f.reference);
  const checks = ref < 0 ? [] : figs.flatMap((f, i) => {
    if (f.reference) return [];
    const num = built[i]!['roundMedians'] as number[];
    // The reference's rounds in the other order: the per-round ratios spread as both figures do.
    const den = (built[ref]!['roundMedians'] as number[]).slice().reverse();
    const rounds = num.map((n, k) => n / den[k]!);
    const sorted = rounds.slice().sort((x, y) => x - y);
    return [{
      id: `ratio/${f.id}`, scenario: f.id.split('/')[0], label: `${f.id} ÷ ${figs[ref]!.id}`, unit: 'ratio',
      measured: sorted[2]!, low: sorted[1]!, high: sorted[3]!, spread: 'rounds', target: undefined, pass: undefined,
      from: [f.id, figs[ref]!.id], rounds,
    }];
  });
  return {
    schema: REPORT_SCHEMA, profile: 'quick', machine: MACHINE, budget: {}, peers: [], suites: [],
    figures: built, latencies: [], loads: opts.loads ?? [], checks, notes: [],
  };
}

/** A latency-under-load level. Latencies given in ms. */
export function load(config: string, threads: number, offered: number, p99ms: number, saturated = false): Record<string, unknown> {
  return {
    id: `latency/${config}/${offered}`, scenario: 'latency', config, threads, offered,
    achieved: saturated ? offered / 2 : offered, requests: offered, seconds: 1, invalidShare: 0.1,
    p50: (p99ms * 1000) / 10, p90: (p99ms * 1000) / 3, p99: p99ms * 1000, max: p99ms * 1500, saturated,
  };
}

/** Options of noisyReport. */
export interface NoiseSpec {
  /** Interleaved rounds of the group. */
  rounds: number;
  /** Each task's own noise per round (log-normal σ). */
  noise: number;
  /** The machine's phase per round, on every task of the round alike (log-normal σ). */
  phase: number;
  /** Peers in the suite, each with a ratio of ours to it (default 1). */
  peers?: number;
  /**
   * Between-run noise (log-normal σ): once per report, our code's speed moves by this much, and
   * each peer's by as much again on its own, as in two runs of one build (JIT, memory layout, the
   * machine's other tenants), beyond anything the rounds of either run show.
   */
  shift?: number;
  /** Slows ours only by this fraction. */
  slowdown?: number;
}

/**
 * A report of one suite as a real quick run records it: our figure and `peers` peers', measured
 * in `rounds` interleaved rounds. Each round has a machine phase (all tasks alike, ±`phase`) and
 * each task its own noise (±`noise`, log-normal); each report a between-run `shift` of ours
 * and of each peer; `slowdown` slows ours only. The ratio checks hold the per-round ratios, as
 * Report.ratio writes them.
 */
export function noisyReport(rand: () => number, opts: NoiseSpec): Record<string, unknown> {
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const peerCount = opts.peers ?? 1;
  const shifts = Array.from({ length: peerCount }, () => Math.exp((opts.shift ?? 0) * gauss()));
  const ourShift = Math.exp((opts.shift ?? 0) * gauss());
  const ours: number[] = [];
  const peers: number[][] = shifts.map(() => []);
  for (let r = 0; r < opts.rounds; r++) {
    const machine = Math.exp(opts.phase * gauss());
    ours.push(2_000_000 * ourShift * (1 - (opts.slowdown ?? 0)) * machine * Math.exp(opts.noise * gauss()));
    peers.forEach((p, i) => p.push((300_000 / (i + 1)) * machine * Math.exp(opts.noise * gauss()) / shifts[i]!));
  }
  const med = (xs: number[]): number => {
    const s = xs.slice().sort((a, b) => a - b);
    return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
  };
  const fig = (id: string, rounds: number[], reference: boolean): Record<string, unknown> => {
    const m = med(rounds);
    return {
      id, scenario: 'peers', label: id, items: 10_000, median: m, p25: m * 0.9, p75: m * 1.1, rme: 5,
      samples: rounds.length * 2, rounds: rounds.length, roundMedians: rounds, roundIndex: rounds.map((_, i) => i), reference, params: {},
    };
  };
  const peerId = (i: number): string => (i === 0 ? 'node-crypto' : `peer${i}`);
  return {
    schema: REPORT_SCHEMA, profile: 'quick', machine: MACHINE, budget: {}, peers: [], suites: [],
    figures: [fig('peers/facade/valid', ours, false), ...peers.map((p, i) => fig(`peers/${peerId(i)}/valid`, p, true))],
    latencies: [], loads: [], notes: [],
    checks: peers.map((p, i) => {
      const ratios = ours.map((o, k) => o / p[k]!);
      const measured = med(ratios);
      return {
        id: `peers/facade÷${peerId(i)}`, scenario: 'peers', label: `facade ÷ ${peerId(i)}`, unit: 'ratio', measured,
        low: measured * 0.9, high: measured * 1.1, spread: 'rounds', target: undefined, pass: undefined,
        from: ['peers/facade/valid', `peers/${peerId(i)}/valid`], rounds: ratios,
      };
    }),
  };
}
