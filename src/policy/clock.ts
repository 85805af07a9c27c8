// Fleet clock health: is this server's clock off from its users' phones?
//
// Every accepted code says roughly what time the user's phone showed: the matched step's
// interval [start, start + period). Its midpoint minus the server's time is an estimate of
// (phone − server) whose error is uniform over ±period/2 (where in the step the phone was) plus
// the phone's own drift. Averaged over the last `samples` matches of all accounts, that error
// shrinks as 1/√n: with 256 samples, phones drifting N(0, 5 s) and a 30 s period, the mean is
// within about ±0.6 s (one standard error), while a server 30 s off moves it by about 30 s.
//
// Codes that fall outside the window are never seen (they are not matches), which pulls a large
// skew's estimate toward zero a little; it stays far beyond the threshold (see test/clock.test.ts).

import { intOption, optionsObject } from '../errors.js';

export interface ClockHealthOptions {
  /** Recent matches averaged (16..100,000); default 256. */
  samples?: number;
  /** Matches needed before any verdict (1..samples); default 50. */
  minSamples?: number;
  /** |offset| that raises the alarm, in seconds (1..3600); default a third of the period (10 s for 30 s). */
  thresholdSeconds?: number;
}

export type ClockStatus = 'insufficient-data' | 'ok' | 'server-ahead' | 'server-behind';

/** The fleet clock-health summary. */
export interface ClockHealth {
  status: ClockStatus;
  /** Mean of (phone − server) over the recent matches, in seconds; negative: the server is ahead. */
  offsetSeconds: number;
  /** Standard error of that mean, in seconds. */
  stderrSeconds: number;
  /** Matches averaged. */
  samples: number;
  thresholdSeconds: number;
  /** For an operator, e.g. "this server's clock looks about 30 s ahead of its users' phones". */
  message: string;
}

/** Running summary of recent match offsets. */
export class ClockMonitor {
  readonly #ring: Float64Array;
  readonly #min: number;
  readonly #threshold: number;
  readonly #onChange: (health: ClockHealth) => void;
  #next = 0;
  #count = 0;
  #sum = 0;
  #sumSq = 0;
  #status: ClockStatus = 'insufficient-data';
  /** Adds since the sums were last recomputed (floating-point drift of a running sum). */
  #sinceExact = 0;
  /** The latest offset added, and how many of the latest adds in a row were that offset. */
  #last = Number.NaN;
  #same = 0;

  constructor(opts: unknown, periodSeconds: number, onChange: (health: ClockHealth) => void) {
    const o = optionsObject<ClockHealthOptions>('clock', opts);
    const size = intOption('clock.samples', o.samples, 16, 100_000, 256);
    this.#ring = new Float64Array(size);
    this.#min = intOption('clock.minSamples', o.minSamples, 1, size, Math.min(50, size));
    this.#threshold = intOption('clock.thresholdSeconds', o.thresholdSeconds, 1, 3600,
      Math.max(1, Math.round(periodSeconds / 3)));
    this.#onChange = onChange;
  }

  /** Records one match: (phone − server) estimated in seconds. */
  add(offsetSeconds: number): void {
    this.addRepeated(offsetSeconds, 1);
  }

  /**
   * Records `times` matches with the same offset: the same sums, ring and events as `times`
   * calls of add (each is judged as it lands), without a call and an offset per match (the
   * matches of one batch mostly share their step and time).
   *
   * Once the ring holds nothing but this offset and one more add leaves both sums as they are
   * (floating point: (sum − x) + x === sum), every later add of the run changes only where the
   * ring's next slot is and the count since the sums were recomputed: the same value replaces
   * itself, the mean and so the verdict stay. Those adds are skipped (the slot and the count
   * are advanced), unless the sums are due to be recomputed on the way.
   */
  addRepeated(offsetSeconds: number, times: number): void {
    const ring = this.#ring;
    const size = ring.length;
    const min = this.#min;
    const square = offsetSeconds * offsetSeconds;
    // Adds of this offset in a row before this call (the same bits: 0 is not -0).
    const sameBefore = Object.is(offsetSeconds, this.#last) ? this.#same : 0;
    this.#last = offsetSeconds;
    this.#same = Math.min(sameBefore + times, 0x3fffffff);
    // The running state in locals; written back (and judged by #judge, which may publish) only
    // when a verdict would change or the sums are due to be recomputed.
    let next = this.#next;
    let count = this.#count;
    let sum = this.#sum;
    let sumSq = this.#sumSq;
    let sinceExact = this.#sinceExact;
    for (let t = 0; t < times; t++) {
      // Every slot holds this offset (the last `size` adds were all of it): is this add a no-op?
      if (count === size && sameBefore + t >= size &&
          (sum - offsetSeconds) + offsetSeconds === sum && (sumSq - square) + square === sumSq) {
        const left = times - t;
        if (sinceExact + left < 1_000_000) {
          next = (next + left) % size;
          sinceExact += left;
          break;
        }
      }
      if (count === size) {
        const old = ring[next]!;
        sum -= old;
        sumSq -= old * old;
      } else {
        count++;
      }
      ring[next] = offsetSeconds;
      sum += offsetSeconds;
      sumSq += square;
      next = next + 1 === size ? 0 : next + 1;
      if (++sinceExact >= 1_000_000 || (count >= min && this.#verdict(sum / count) !== this.#status)) {
        this.#next = next;
        this.#count = count;
        this.#sum = sum;
        this.#sumSq = sumSq;
        this.#sinceExact = sinceExact;
        if (sinceExact >= 1_000_000) this.#recompute();
        this.#judge();
        next = this.#next;
        count = this.#count;
        sum = this.#sum;
        sumSq = this.#sumSq;
        sinceExact = this.#sinceExact;
      }
    }
    this.#next = next;
    this.#count = count;
    this.#sum = sum;
    this.#sumSq = sumSq;
    this.#sinceExact = sinceExact;
  }

  summary(): ClockHealth {
    const n = this.#count;
    const mean = n > 0 ? this.#sum / n : 0;
    const variance = n > 1 ? Math.max(0, (this.#sumSq - n * mean * mean) / (n - 1)) : 0;
    const stderr = n > 0 ? Math.sqrt(variance / n) : 0;
    const status = this.#status;
    const about = Math.round(Math.abs(mean));
    const message =
      status === 'insufficient-data' ? `not enough matches yet (${n} of ${this.#min})`
      : status === 'server-ahead' ? `this server's clock looks about ${about} s ahead of its users' phones`
      : status === 'server-behind' ? `this server's clock looks about ${about} s behind its users' phones`
      : `this server's clock agrees with its users' phones (mean offset ${mean.toFixed(1)} s)`;
    return {
      status, offsetSeconds: mean, stderrSeconds: stderr, samples: n, thresholdSeconds: this.#threshold, message,
    };
  }

  /** The status a judgement with this mean gives (from the current one). */
  #verdict(mean: number): ClockStatus {
    const abs = Math.abs(mean);
    // Hysteresis: raised at the threshold, cleared below 70% of it, so that a skew near the
    // threshold does not flap.
    if (abs >= this.#threshold) return mean < 0 ? 'server-ahead' : 'server-behind';
    if (abs < 0.7 * this.#threshold || this.#status === 'insufficient-data') return 'ok';
    return this.#status;
  }

  #judge(): void {
    const n = this.#count;
    if (n < this.#min) return;
    const status = this.#verdict(this.#sum / n);
    if (status !== this.#status) {
      this.#status = status;
      this.#onChange(this.summary());
    }
  }

  #recompute(): void {
    let sum = 0;
    let sumSq = 0;
    for (let i = 0; i < this.#count; i++) {
      sum += this.#ring[i]!;
      sumSq += this.#ring[i]! * this.#ring[i]!;
    }
    this.#sum = sum;
    this.#sumSq = sumSq;
    this.#sinceExact = 0;
  }
}
