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

/**
 * A batch being filled: its calls' requests, and one promise for all its results. Call i's
 * promise is `promise.then(next)`: no resolve function (nor reject function, nor their
 * context) per call, only the promise `then` makes and its reaction, about 150 bytes less per
 * call (100k concurrent calls keep each of them alive through every scavenge until answered).
 */
interface OpenBatch<Req, Res> {
  readonly requests: Req[];
  readonly promise: Promise<Res[]>;
  readonly resolve: (results: Res[]) => void;
  readonly reject: (error: unknown) => void;
  /**
   * The one `then` handler of every call of the batch: it answers the k-th call it is called
   * for with results[k]. Correct because a promise runs its reactions in the order they were
   * added, each as a job of the one FIFO job queue (ECMAScript TriggerPromiseReactions,
   * HostEnqueuePromiseJob), and nothing but this batch's calls reacts to `promise`.
   */
  readonly next: (results: Res[]) => Res;
}

function openBatch<Req, Res>(): OpenBatch<Req, Res> {
  let resolve!: (results: Res[]) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<Res[]>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  let k = 0;
  return { requests: [], promise, resolve, reject, next: (results) => results[k++]! };
}

export class Batcher<Req, Res> {
  readonly #run: (requests: Req[]) => Promise<Res[]>;
  readonly #opts: BatcherOptions;
  /** The batch calls are joining; undefined when none is waiting. Never more than maxBatch calls. */
  #open: OpenBatch<Req, Res> | undefined;
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
    return { queued: this.#open?.requests.length ?? 0, running: this.#running, batches: this.#batches };
  }

  submit(request: Req): Promise<Res> {
    let open = this.#open;
    const queued = open?.requests.length ?? 0;
    if (queued >= this.#opts.maxQueue) {
      return Promise.reject(new TotpFleetError('ERR_OVERLOADED',
        `overloaded: ${queued} calls waiting, limit ${this.#opts.maxQueue}; retry later`));
    }
    if (open === undefined) this.#open = open = openBatch();
    open.requests.push(request);
    const promise = open.promise.then(open.next);
    if (queued + 1 >= this.#opts.maxBatch) this.#flush();
    else this.#schedule();
    return promise;
  }

  /** Resolves when nothing is queued or running. */
  drain(): Promise<void> {
    if (this.#open === undefined && this.#running === 0) return Promise.resolve();
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
    if (this.#open !== undefined) this.#schedule();
    else if (this.#running === 0 && this.#drained.length > 0) for (const done of this.#drained.splice(0)) done();
  }

  /** Sends the open batch (at most maxBatch calls: submit flushes when it is full). */
  #flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const batch = this.#open;
    if (batch === undefined) return;
    this.#open = undefined;
    this.#running++;
    this.#batches++;
    // Both handlers end the batch themselves (no .finally: it costs two more promises and
    // closures per batch, and a batch may be a single call). A failed batch rejects its one
    // promise, and with it every call's (each call's promise is handled by its caller).
    this.#run(batch.requests).then(
      (results) => {
        batch.resolve(results);
        this.#done();
      },
      (error: unknown) => {
        batch.reject(error);
        this.#done();
      },
    );
  }
}
