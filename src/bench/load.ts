// Latency under offered load: requests arrive on a fixed schedule (open loop), whether or not
// earlier ones have been answered, as logins arrive at an auth server; each request's latency
// counts from its scheduled arrival, not from when the generator got round to sending it. A
// closed loop (send, await, send) would hide queueing: when the verifier stalls, it would stop
// offering load and report only the calls that happened to be fast ("coordinated omission").

import { quantile } from './measure.js';

/** One offered load on one configuration. Latencies in microseconds. */
export interface LoadFigure {
  readonly id: string;
  readonly scenario: string;
  /** The verifier configuration, e.g. "threads 0 (inline)". */
  readonly config: string;
  readonly threads: number;
  /** Requests per second offered, and completed per second over the run. */
  readonly offered: number;
  readonly achieved: number;
  /** Requests sent (fewer than offered × seconds when the run stopped at saturation). */
  readonly requests: number;
  readonly seconds: number;
  /** Share of requests carrying an invalid code (a full window walk). */
  readonly invalidShare: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  /** The verifier could not keep up: the backlog passed its bound, or answers lagged the schedule. */
  readonly saturated: boolean;
}

export interface LoadOptions {
  /** Requests per second. */
  readonly rate: number;
  readonly seconds: number;
  /** Unanswered requests at which the run stops and counts as saturated. */
  readonly maxOutstanding: number;
}

export interface LoadResult {
  readonly offered: number;
  readonly achieved: number;
  readonly requests: number;
  readonly seconds: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  readonly saturated: boolean;
}

const yieldMacrotask = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Offers `rate` calls per second of `call(i)` for `seconds`, and measures each call's latency
 * from its scheduled start. `call` must check its own answer (a wrong answer rejects).
 *
 * @example
 * const r = await offerLoad({ rate: 50_000, seconds: 1, maxOutstanding: 25_000 }, (i) => verifier.verify(reqs[i % n]));
 * console.log(r.p99); // µs
 */
export async function offerLoad(opts: LoadOptions, call: (i: number) => Promise<unknown>): Promise<LoadResult> {
  const { rate, seconds, maxOutstanding } = opts;
  const planned = Math.max(1, Math.round(rate * seconds));
  const latencies = new Float64Array(planned);
  const interval = 1000 / rate;
  let issued = 0;
  let done = 0;
  let lastDone = 0;
  let failure: unknown;
  let saturated = false;
  let wake: (() => void) | undefined;
  const start = performance.now();
  const settle = (i: number, scheduled: number) => (): void => {
    const now = performance.now();
    latencies[i] = (now - scheduled) * 1000;
    lastDone = now;
    done++;
    if (done === issued && wake !== undefined) wake();
  };
  const fail = (error: unknown): void => {
    failure ??= error;
    done++;
    if (done === issued && wake !== undefined) wake();
  };
  while (issued < planned && failure === undefined) {
    const now = performance.now();
    // Stop at a backlog past the bound, or when the schedule runs a quarter over its time:
    // either way the verifier is not keeping up, and going on would only take longer.
    if (issued - done > maxOutstanding || now - start > (seconds * 1.25 + 0.05) * 1000) {
      saturated = true;
      break;
    }
    const due = Math.min(planned, Math.floor((now - start) / interval) + 1);
    // Calls that do their work synchronously would keep this loop from yielding, so the bound
    // is checked per call too.
    while (issued < due && issued - done <= maxOutstanding) {
      const i = issued++;
      const scheduled = start + i * interval;
      call(i).then(settle(i, scheduled), fail);
    }
    if (issued >= planned) break;
    // Wake for the next arrival: a timer when it is more than 2 ms away, otherwise the next
    // turn of the event loop (timers are too coarse for rates above a few hundred per second).
    const next = start + issued * interval - performance.now();
    if (next > 2) await sleep(next - 1);
    else await yieldMacrotask();
  }
  if (done < issued) await new Promise<void>((resolve) => { wake = resolve; });
  if (failure !== undefined) throw failure;
  const elapsed = (lastDone - start) / 1000;
  const sorted = latencies.subarray(0, issued).sort();
  const achieved = issued / Math.max(elapsed, 1e-9);
  // Answers that lag the schedule by more than a quarter of the run, or a completion rate
  // below 90 % of the offered one, mean the verifier did not keep up.
  if (elapsed > seconds * 1.25 + 0.05 || achieved < rate * 0.9) saturated = true;
  return {
    offered: rate,
    achieved,
    requests: issued,
    seconds: elapsed,
    p50: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    p99: quantile(sorted, 0.99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    saturated,
  };
}
