// Coalesces single verify() calls into batches.
//
// Policy: when fewer than `concurrency` batches are running, the queue is flushed at the end
// of the current tick (a microtask), so a lone call on an idle verifier waits for nothing.
// When all batch slots are busy, calls accumulate until a slot frees, the queue reaches
// `maxBatch`, or the oldest call has waited `maxDelayMs`. The queue is bounded: past `maxQueue`
// waiting calls, a call is refused at once with ERR_OVERLOADED.

import { TotpFleetError } from './errors.js';

export interface BatcherOptions {
  readonly maxBatch: number;
  readonly maxDelayMs: number;
  readonly maxQueue: number;
  readonly concurrency: number;
}

/** The resolve function of the promise `submit` has just made (see takeResolve). */
let taken: ((result: never) => void) | undefined;
function takeResolve(resolve: (result: never) => void): void {
  taken = resolve;
}

export class Batcher<Req, Res> {
  readonly #run: (requests: Req[]) => Promise<Res[]>;
  readonly #opts: BatcherOptions;
  // Waiting calls, in parallel arrays (one object per call would double the garbage). Only
  // each call's resolve function is kept: a failed batch resolves its calls with a rejected
  // promise, which rejects them, so the reject functions die young. (100k concurrent calls
  // keep 100k of whatever is kept here alive through every scavenge until they are answered.)
  #requests: Req[] = [];
  #resolves: ((result: Res | PromiseLike<Res>) => void)[] = [];
  #running = 0;
  #scheduled = false;
  #timer: NodeJS.Timeout | undefined;
  #drained: (() => void)[] = [];
  #batches = 0;

  constructor(run: (requests: Req[]) => Promise<Res[]>, opts: BatcherOptions) {
    this.#run = run;
    this.#opts = opts;
  }

  /** Calls waiting for a batch, batches running, and batches formed so far. */
  get pending(): { queued: number; running: number; batches: number } {
    return { queued: this.#requests.length, running: this.#running, batches: this.#batches };
  }

  submit(request: Req): Promise<Res> {
    const queued = this.#requests.length;
    if (queued >= this.#opts.maxQueue) {
      return Promise.reject(new TotpFleetError('ERR_OVERLOADED',
        `overloaded: ${queued} calls waiting, limit ${this.#opts.maxQueue}; retry later`));
    }
    // One executor for every call (no closure per call): it hands its resolve function out
    // through `taken`, synchronously (a Promise runs its executor at once).
    const promise = new Promise<Res>(takeResolve);
    this.#resolves.push(taken as (result: Res | PromiseLike<Res>) => void);
    taken = undefined;
    this.#requests.push(request);
    if (queued + 1 >= this.#opts.maxBatch) this.#flush();
    else this.#schedule();
    return promise;
  }

  /** Resolves when nothing is queued or running. */
  drain(): Promise<void> {
    if (this.#requests.length === 0 && this.#running === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drained.push(resolve));
  }

  /** The end-of-tick flush #schedule queues (made once, not per tick). */
  readonly #onTick = (): void => {
    this.#scheduled = false;
    if (this.#running < this.#opts.concurrency) this.#flush();
    else this.#schedule();
  };

  #schedule(): void {
    if (this.#running < this.#opts.concurrency) {
      if (!this.#scheduled) {
        this.#scheduled = true;
        queueMicrotask(this.#onTick);
      }
    } else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#flush();
      }, this.#opts.maxDelayMs);
    }
  }

  /** A batch has ended: the next one may start; drain() resolves once nothing is left. */
  #done(): void {
    this.#running--;
    if (this.#requests.length > 0) this.#schedule();
    else if (this.#running === 0 && this.#drained.length > 0) for (const done of this.#drained.splice(0)) done();
  }

  #flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    while (this.#requests.length > 0) {
      const max = this.#opts.maxBatch;
      const requests = this.#requests.length <= max ? this.#requests : this.#requests.splice(0, max);
      const resolves = requests === this.#requests ? this.#resolves : this.#resolves.splice(0, max);
      if (requests === this.#requests) {
        this.#requests = [];
        this.#resolves = [];
      }
      this.#running++;
      this.#batches++;
      // Both handlers end the batch themselves (no .finally: it costs two more promises and
      // closures per batch, and a batch may be a single call).
      this.#run(requests).then(
        (results) => {
          for (let i = 0; i < resolves.length; i++) resolves[i]!(results[i]!);
          this.#done();
        },
        (error: unknown) => {
          // Resolving with a rejected promise rejects: one promise for the batch, handled by
          // every call that adopts it.
          const failed = Promise.reject(error);
          for (const resolve of resolves) resolve(failed);
          this.#done();
        },
      );
      // One batch per flush unless the queue is full beyond a batch and slots are free.
      if (this.#running >= this.#opts.concurrency) break;
    }
    if (this.#requests.length > 0) this.#schedule();
  }
}
