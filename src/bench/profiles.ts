// The named profiles of `totp-fleet bench`. `quick` finishes in under a minute on a 2-core
// machine with every suite a capacity planner needs (the peers' ratios, threads, batch sizes,
// windows, cache, latency under load); `full` measures longer and adds the suites that explain
// the numbers (batcher, inline threshold, facade overhead), the policy layer's stores,
// algorithms, and HTTP end to end.
//
// A profile's time is a budget, not an estimate: each suite has a share of seconds, and the
// runner gives each suite a deadline from what is left of the total (run.ts). A loaded machine
// gets fewer rounds in that time, not a longer run.

import type { Profile } from './suite.js';

/** Suites of both profiles, in the order they run. */
const CORE_SUITES = ['throughput-vs-peers', 'core', 'batch-sizes', 'threads', 'windows', 'cold-cache', 'latency'] as const;

const quick: Profile = Object.freeze({
  name: 'quick',
  description: 'every planning suite in a 40 s budget: under a minute on 2 cores',
  suites: CORE_SUITES,
  // Seconds per suite; those of suites outside the profile apply when --suite names them.
  seconds: Object.freeze({
    'throughput-vs-peers': 14, core: 2, 'batch-sizes': 4, threads: 4, windows: 3, 'cold-cache': 5, latency: 8,
    batcher: 20, 'inline-threshold': 5, overhead: 5, policy: 10, algorithms: 10, http: 20,
  }),
  // Up to 40 rounds of 10 ms per task: many short paired rounds rather than a few long ones.
  // At least 2 (a spread for compare), whatever the load: on a heavily loaded machine the
  // fewest rounds are what runs over the budget.
  budget: Object.freeze({ time: 400, iterations: 40, warmupTime: 80, warmupIterations: 1, rounds: 40, minRounds: 2 }),
  kinds: ['valid', 'invalid'] as const,
  threadBatches: [100_000],
  loadSeconds: 0.5,
  loadLevels: [1_000, 10_000, 50_000, 200_000, 500_000],
});

const full: Profile = Object.freeze({
  name: 'full',
  description: 'every suite, HTTP end to end included, in a budget of about 5 minutes',
  suites: [...CORE_SUITES, 'batcher', 'inline-threshold', 'overhead', 'policy', 'algorithms', 'http'],
  seconds: Object.freeze({
    'throughput-vs-peers': 40, core: 8, 'batch-sizes': 20, threads: 20, windows: 15, 'cold-cache': 20, latency: 30,
    batcher: 20, 'inline-threshold': 15, overhead: 15, policy: 30, algorithms: 30, http: 45,
  }),
  budget: Object.freeze({ time: 1500, iterations: 60, warmupTime: 300, warmupIterations: 2, rounds: 60, minRounds: 8 }),
  kinds: ['valid', 'invalid'] as const,
  threadBatches: [100_000, 200_000],
  loadSeconds: 2,
  loadLevels: [1_000, 5_000, 20_000, 50_000, 100_000, 200_000, 400_000, 800_000],
});

export const PROFILES: Readonly<Record<string, Profile>> = Object.freeze({ quick, full });

export const PROFILE_NAMES = Object.keys(PROFILES);

/** A suite's share when its profile names none. */
export const DEFAULT_SUITE_SECONDS = 10;

/** The measuring budget of `suites` under `profile`, in seconds. */
export function budgetSeconds(profile: Profile, suites: readonly string[]): number {
  return suites.reduce((sum, id) => sum + (profile.seconds[id] ?? DEFAULT_SUITE_SECONDS), 0);
}
