// `totp-fleet bench --plan --rate R --p99 L`: from the latency-under-load figures of this host,
// how many threads and cores serve R verify() calls per second with p99 ≤ L and the headroom
// asked for; and, where one host cannot, how many such hosts. Every assumption is printed
// with the answer, because a capacity plan is only as good as its assumptions.

import type { LoadFigure } from './load.js';
import type { ReportData } from './report-file.js';
import { table } from './report.js';
import { LOAD_INLINE_THRESHOLD } from './suites/latency.js';

export interface PlanRequest {
  /** verify() calls per second at peak. */
  readonly rate: number;
  /** p99 latency target, microseconds. */
  readonly p99: number;
  /** Share of capacity kept spare, 0 ≤ h < 1 (0.3: plan to run at 70 % of measured capacity). */
  readonly headroom: number;
}

export interface ConfigCapacity {
  readonly config: string;
  readonly threads: number;
  /** Cores one process of this configuration keeps busy: the workers plus the calling thread. */
  readonly cores: number;
  /** The highest offered load measured with p99 ≤ target and not saturated (0: none). */
  readonly capacity: number;
  /** True when even the highest load measured met the target: capacity is at least this. */
  readonly atLeast: boolean;
  /** p99 (µs) at the lowest measured load ≥ the planned rate, if one was measured and kept up. */
  readonly p99AtRate: number | undefined;
  /** The offered load p99AtRate was measured at (the planned rate or the next level up). */
  readonly p99AtRateOffered: number | undefined;
  /** Lower loads that missed the target although a higher one met it: a noisy host. */
  readonly missedBelow: number;
}

export interface Plan {
  readonly request: PlanRequest;
  /** rate ÷ (1 − headroom): the capacity to provide. */
  readonly needed: number;
  readonly configs: readonly ConfigCapacity[];
  /** The cheapest configuration on one host, or undefined. */
  readonly choice: ConfigCapacity | undefined;
  /** Processes and hosts when one process is not enough (undefined when it is, or when nothing meets the p99). */
  readonly scaleOut: { config: ConfigCapacity; processesPerHost: number; hosts: number } | undefined;
  /** False when no configuration meets the p99 at any measured load. */
  readonly feasible: boolean;
  readonly hostCores: number;
}

function capacityOf(config: string, levels: readonly LoadFigure[], req: PlanRequest, hostCores: number): ConfigCapacity {
  const sorted = levels.slice().sort((x, y) => x.offered - y.offered);
  // The highest level that met the target. A lower level that missed it is noise (a verifier
  // is not slower at a lower load; a neighbour on the host was busy), counted in `missedBelow`.
  const ok = (l: LoadFigure): boolean => !l.saturated && l.p99 <= req.p99;
  const best = sorted.filter(ok).at(-1);
  const capacity = best?.offered ?? 0;
  const failed = sorted.some((l) => l.offered > capacity && !ok(l));
  const missedBelow = sorted.filter((l) => l.offered < capacity && !ok(l)).length;
  const atRate = sorted.find((l) => l.offered >= req.rate && !l.saturated);
  const threads = sorted[0]?.threads ?? 0;
  return { config, threads, cores: Math.min(hostCores, threads + 1), capacity, atLeast: !failed && capacity > 0, p99AtRate: atRate?.p99, p99AtRateOffered: atRate?.offered, missedBelow };
}

/**
 * A plan from a report's `latency` figures.
 *
 * @example
 * const plan = planCapacity(report, { rate: 50_000, p99: 5000, headroom: 0.3 });
 * console.log(formatPlan(plan, report));
 */
export function planCapacity(report: Pick<ReportData, 'loads' | 'machine'>, req: PlanRequest): Plan {
  // The in-process verifier's figures: the HTTP suite's loads (scenario "http") have another
  // generator and other assumptions, and are read beside the plan, not planned from.
  const loads = inProcessLoads(report.loads);
  if (loads.length === 0) throw new RangeError('the report has no latency-under-load figures (suite "latency"); run it first');
  // The cores this process could use (its CPU affinity: a container's or taskset's CPUs), which
  // the latency suite's pools went up to; not every CPU of the machine. Older reports: the cores.
  const hostCores = usableCores(report.machine);
  const byConfig = new Map<string, LoadFigure[]>();
  for (const l of loads) byConfig.set(l.config, [...(byConfig.get(l.config) ?? []), l]);
  const configs = [...byConfig].map(([config, levels]) => capacityOf(config, levels, req, hostCores));
  const needed = req.rate / (1 - req.headroom);
  const fits = configs.filter((c) => c.capacity >= needed).sort((x, y) => x.cores - y.cores || x.threads - y.threads);
  const choice = fits[0];
  let scaleOut: Plan['scaleOut'];
  const feasible = configs.some((c) => c.capacity > 0);
  if (choice === undefined && feasible) {
    // Capacity per host: as many processes of a configuration as the cores hold, assumed to
    // scale linearly across cores (not measured here: one process per measurement).
    const best = configs
      .filter((c) => c.capacity > 0)
      .map((c) => ({ config: c, processesPerHost: Math.max(1, Math.floor(hostCores / c.cores)) }))
      .map((x) => ({ ...x, hostCapacity: x.config.capacity * x.processesPerHost }))
      .sort((x, y) => y.hostCapacity - x.hostCapacity)[0]!;
    scaleOut = { config: best.config, processesPerHost: best.processesPerHost, hosts: Math.ceil(needed / best.hostCapacity) };
  }
  return { request: req, needed, configs, choice, scaleOut, feasible, hostCores };
}

const rate = (n: number): string => Math.round(n).toLocaleString('en-US');
const ms = (us: number): string => `${(us / 1000).toFixed(us < 10_000 ? 2 : 1)} ms`;

export function formatPlan(plan: Plan, report: Pick<ReportData, 'machine' | 'profile' | 'loads'>): string {
  const { request: req, needed } = plan;
  const m = report.machine;
  // The levels planned from, and the lowest of them (named when no plan follows from them).
  const measured = inProcessLoads(report.loads);
  const lowest = Math.min(...measured.map((l) => l.offered));
  const rows = plan.configs.map((c) => [
    c.config,
    c.capacity === 0 ? 'none measured' : `${c.atLeast ? '≥ ' : ''}${rate(c.capacity)}/s`,
    c.p99AtRate === undefined ? 'not measured' : `${ms(c.p99AtRate)}${c.p99AtRateOffered === req.rate ? '' : ` at ${rate(c.p99AtRateOffered!)}/s`}`,
    String(c.cores),
    c.capacity >= needed ? 'yes' : 'no',
  ]);
  const lines = [
    `Capacity plan: ${rate(req.rate)} verify()/s at p99 ≤ ${ms(req.p99)}, ${Math.round(req.headroom * 100)} % headroom: provide ${rate(needed)}/s`,
    `measured on: ${m.cpu}, ${m.cores} cores${usableCores(m) < m.cores ? ` (${usableCores(m)} usable)` : ''}, Node ${m.node}, ${m.date} (commit ${m.commit}, profile ${report.profile})`,
    '',
    table(['configuration (one process)', `max load with p99 ≤ ${ms(req.p99)}`, `p99 at ${rate(req.rate)}/s`, 'cores', 'enough'], plan.configs.length > 0 ? rows : [], [1, 2, 3]),
    '',
  ];
  if (plan.choice !== undefined) {
    const c = plan.choice;
    lines.push(`Answer: one process with ${c.threads === 0 ? '`threads: 0` (no worker pool)' : `\`threads: ${c.threads}\`, \`inlineThreshold: ${LOAD_INLINE_THRESHOLD}\``} ` +
      `on ${c.cores} of this host's ${plan.hostCores} cores. It met p99 ≤ ${ms(req.p99)} up to ${c.atLeast ? 'at least ' : ''}${rate(c.capacity)}/s ` +
      `(the highest load measured${c.atLeast ? '; higher loads were not tried' : ' before p99 or throughput gave way'}), ` +
      `so ${rate(req.rate)}/s uses ${Math.round((100 * req.rate) / c.capacity)} % of it${c.p99AtRate === undefined ? '' : `; measured p99 at ${rate(req.rate)}/s or the next level up: ${ms(c.p99AtRate)}`}.`);
  } else if (plan.scaleOut !== undefined) {
    const s = plan.scaleOut;
    lines.push(`Answer: one process does not reach ${rate(needed)}/s at p99 ≤ ${ms(req.p99)} on this host. Run ${s.processesPerHost} process(es) per host ` +
      `(${s.config.config}, ${s.config.cores} core(s) each, ${rate(s.config.capacity)}/s each) on ${s.hosts} host(s) like this one, ` +
      `behind a load balancer: ${rate(s.hosts * s.processesPerHost * s.config.capacity)}/s in all.`);
  } else if (measured.every((l) => l.saturated)) {
    // No level was within what one process does: its capacity, and so the plan, is unknown.
    lines.push(`Answer: every configuration was saturated at every load measured (from ${rate(lowest)}/s): ` +
      'one process cannot keep up with these rates, and they do not say what it does at p99 ' +
      `≤ ${ms(req.p99)}, so neither how many processes nor how many hosts. Measure lower loads (the latency suite of a profile starts at 1,000/s) and plan from them.`);
  } else {
    lines.push(`Answer: no configuration met p99 ≤ ${ms(req.p99)} even at the lowest load measured (${rate(lowest)}/s): ` +
      'the target is below what one verify() costs on this host; adding hosts does not lower it. Relax the p99 target or batch the calls (verifyBatch).');
  }
  const noisy = plan.configs.filter((c) => c.missedBelow > 0);
  if (noisy.length > 0) {
    lines.push('', `Warning: ${noisy.map((c) => c.config).join('; ')} missed the p99 target at a lower load than one it met: ` +
      'the host was busy with other work during the measurement. Re-measure on a quiet host before acting on this plan.');
  }
  lines.push('', 'Assumptions:',
    '- Traffic is single verify() calls arriving at a steady rate (open loop), 10 % of them wrong codes (a full ±1 window walk each); secrets are base32 with the key cache warm (a cache as large as the active accounts); window ±1.',
    '- Latency is the engine\'s alone, in-process: from a call\'s scheduled arrival to its answer. HTTP, the policy store (Redis round trips) and the network come on top.',
    '- "Max load" is the highest offered load measured that kept up with p99 within the target; loads between the measured levels were not tried, so the real limit may be higher.',
    '- A pool of N worker threads uses N + 1 cores (the calling thread validates and packs); processes on one host are assumed to scale linearly across its cores, and other work on the host (the control panel, the web server) is not counted: reserve cores for it.',
    `- Headroom ${Math.round(req.headroom * 100)} %: the plan keeps that share of the measured capacity spare for bursts, failover and noisy neighbours.`,
    '- Figures from a shared or virtual machine move with its neighbours; re-run on the hardware you deploy on.');
  return lines.join('\n');
}

/** Cores a process could use where the report was measured (MachineInfo.parallelism, else cores). */
function usableCores(m: Pick<ReportData['machine'], 'cores' | 'parallelism'>): number {
  return typeof m.parallelism === 'number' && m.parallelism >= 1 ? Math.min(m.cores, m.parallelism) : m.cores;
}

/** The loads `--plan` plans from: the "latency" suite's, not the HTTP suite's. */
export function inProcessLoads<T extends { scenario?: string }>(loads: readonly T[]): T[] {
  return loads.filter((l) => l.scenario === undefined || l.scenario === 'latency');
}

/**
 * Offered loads that bracket a planned rate, for measuring a plan (lowest first), after the
 * levels of `below` (a profile's ladder) under half the lowest of them: a fleet's rate may be far
 * beyond one process, and the plan needs what one process does (its capacity, for processes per
 * host and hosts), which levels around the fleet's rate alone never measure (all saturated).
 */
export function planLevels(req: PlanRequest, below: readonly number[] = []): number[] {
  const needed = req.rate / (1 - req.headroom);
  const raw = [req.rate / 4, req.rate / 2, req.rate, needed, needed * 2, needed * 4];
  // Rounded up, so that the level for the capacity asked for is never just below it.
  const bracket = raw.map((r) => Math.max(100, Math.ceil(r / 100) * 100));
  const lower = below.filter((l) => l <= bracket[0]! / 2);
  return [...new Set([...lower, ...bracket])].sort((x, y) => x - y);
}
