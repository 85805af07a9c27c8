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
 * A settled promise: `SETTLED.then(f)` runs f at the end of the tick, as queueMicrotask(f) does,
 * but without the AsyncResource and bound function node makes per queueMicrotask call. (With
 * no object or closure per batch, a lone call allocates 1,125 bytes instead of 1,424.)
 */
const SETTLED = Promise.resolve();

/** The resolving functions of the promise `#open` has just made (see takeResolving). */
let takenResolve: ((results: never) => void) | undefined;
let takenReject: ((error: unknown) => void) | undefined;
/** One executor for every batch (no closure per batch): it hands its functions out, synchronously. */
function takeResolving(resolve: (results: never) => void, reject: (error: unknown) => void): void {
  takenResolve = resolve;
  takenReject = reject;
}

export class Batcher<Req, Res> {
  readonly #run: (requests: Req[]) => Promise<Res[]>;
  readonly #opts: BatcherOptions;
  // The batch calls are joining (never more than maxBatch calls: submit flushes it when full):
  // its requests, and one promise for all its results. Call k's promise is
  // `#batch.then(#next)`: no resolve function (nor reject function, nor their context) per
  // call, only the promise `then` makes and its reaction, about 150 bytes less per call (100k
  // concurrent calls keep each of them alive through every scavenge until answered).
  #requests: Req[] = [];
  /** Undefined when no call is waiting. */
  #batch: Promise<Res[]> | undefined;
  #resolveBatch: (results: Res[]) => void = () => {};
  #rejectBatch: (error: unknown) => void = () => {};
  /**
   * The one `then` handler of every call of the open batch: it answers the k-th call it is
   * called for with results[k]. Correct because a promise runs its reactions in the order they
   * were added, each as a job of the one FIFO job queue (ECMAScript TriggerPromiseReactions,
   * HostEnqueuePromiseJob), and nothing but the batch's calls reacts to its promise.
   */
  #next: (results: Res[]) => Res = (results) => results[0]!;
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
    const promise = (this.#batch ?? this.#open()).then(this.#next);
    this.#requests.push(request);
    if (queued + 1 >= this.#opts.maxBatch) this.#flush();
    else this.#schedule();
    return promise;
  }

  /** Makes the promise of a new batch, its resolving functions and its handler. */
  #open(): Promise<Res[]> {
    const batch = new Promise<Res[]>(takeResolving);
    this.#resolveBatch = takenResolve as (results: Res[]) => void;
    this.#rejectBatch = takenReject!;
    takenResolve = takenReject = undefined;
    let k = 0;
    this.#next = (results) => results[k++]!;
    this.#batch = batch;
    return batch;
  }

  /** Resolves when nothing is queued or running. */
  drain(): Promise<void> {
    if (this.#batch === undefined && this.#running === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drained.push(resolve));
  }

  /** The end of a batch (made once, not per batch). */
  readonly #ended = (): void => this.#done();

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
        void SETTLED.then(this.#onTick);
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
    if (this.#batch !== undefined) this.#schedule();
    else if (this.#running === 0 && this.#drained.length > 0) for (const done of this.#drained.splice(0)) done();
  }

  /** Sends the open batch. */
  #flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#batch === undefined) return;
    const requests = this.#requests;
    const resolve = this.#resolveBatch;
    const reject = this.#rejectBatch;
    this.#batch = undefined;
    this.#requests = [];
    this.#running++;
    this.#batches++;
    // No closure per batch: the batch's own resolving functions take its outcome (a failed
    // batch rejects its one promise, and with it every call's, each handled by its caller), and
    // one handler made once ends it (no .finally: it costs two more promises per batch).
    const running = this.#run(requests);
    void running.then(resolve, reject);
    void running.then(this.#ended, this.#ended);
  }
}
