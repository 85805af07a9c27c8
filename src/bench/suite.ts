// What a benchmark suite is, what it is given, and the registry the runner picks suites from.
// One suite per file under src/bench/suites/; a later suite (the policy layer over MemoryStore
// and RedisStore, HTTP end to end) is one more file and one more line in suites/index.ts.

import type { Kind } from './facade.js';
import type { Budget, Figure, MeasureObserver, TaskSpec } from './measure.js';
import type { Report } from './report.js';

/** How much a run measures: which suites, how long per task, and the sizes suites use. */
export interface Profile {
  readonly name: string;
  readonly description: string;
  /** Suite ids, in the order they run. */
  readonly suites: readonly string[];
  /** Each suite's share of the run, in seconds (profiles.ts); the total is the run's budget. */
  readonly seconds: Readonly<Record<string, number>>;
  readonly budget: Budget;
  /** Valid codes only, or valid and invalid, in the suites that vary other things. */
  readonly kinds: readonly Kind[];
  /** Batch sizes of the threads suite. */
  readonly threadBatches: readonly number[];
  /** Seconds of offered load per level in the latency-under-load suite. */
  readonly loadSeconds: number;
  /** Offered loads (requests/s) of that suite, lowest first; the ladder stops at saturation. */
  readonly loadLevels: readonly number[];
}

/** Everything a suite gets from the runner. */
export interface SuiteContext {
  readonly report: Report;
  readonly profile: Profile;
  /** Worker threads the threads suite goes up to: the machine's available parallelism. */
  readonly maxThreads: number;
  /** performance.now() by which this suite should be done (its share of what is left of the budget). */
  readonly deadline: number;
  /**
   * Measures a group of tasks interleaved (measure.ts) and records the figures in the report.
   * `groupsLeft`: this group and the suite's later ones (default 1); the group gets that
   * fraction of the time left to the suite's deadline.
   */
  measure(specs: readonly TaskSpec[], opts?: { groupsLeft?: number }): Promise<Figure[]>;
  /** The progress display, for suites that time things without measureGroup. */
  readonly observer: MeasureObserver;
}

export interface Suite {
  /** Stable id: figure ids start with it, profiles and `--suite` name it. */
  readonly id: string;
  readonly title: string;
  run(ctx: SuiteContext): Promise<void>;
}

/**
 * The suites a runner can run, by id. Registration is explicit and refuses duplicates, so one
 * suite cannot silently replace another.
 *
 * @example
 * const registry = new SuiteRegistry([threads, windows]);
 * registry.get('threads');
 */
export class SuiteRegistry {
  readonly #suites = new Map<string, Suite>();

  constructor(suites: readonly Suite[] = []) {
    for (const s of suites) this.register(s);
  }

  register(suite: Suite): void {
    if (!/^[a-z0-9-]+$/.test(suite.id)) throw new RangeError(`suite id "${suite.id}" expected lower-case letters, digits and hyphens`);
    if (this.#suites.has(suite.id)) throw new RangeError(`suite "${suite.id}" is already registered`);
    this.#suites.set(suite.id, suite);
  }

  get(id: string): Suite | undefined {
    return this.#suites.get(id);
  }

  ids(): string[] {
    return [...this.#suites.keys()];
  }
}
