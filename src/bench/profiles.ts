// The named profiles of `totp-fleet bench`. `quick` is sized to finish in under a minute on a
// 2-core machine with every suite a capacity planner needs (the peers' ratios, threads, batch
// sizes, windows, cache, latency under load); `full` measures longer and adds the suites that
// explain the numbers (batcher, inline threshold, facade overhead).

import type { Profile } from './suite.js';

/** Suites of both profiles, in the order they run. */
const CORE_SUITES = ['throughput-vs-peers', 'core', 'batch-sizes', 'threads', 'windows', 'cold-cache', 'latency'] as const;

const quick: Profile = Object.freeze({
    name: 'quick',
    description: 'every planning suite, short budgets: under a minute on 2 cores',
    suites: CORE_SUITES,
    budget: Object.freeze({ time: 200, iterations: 2, warmupTime: 80, warmupIterations: 1, rounds: 3 }),
    kinds: ['valid', 'invalid'] as const,
    threadBatches: [100_000],
    loadSeconds: 0.5,
    loadLevels: [1_000, 10_000, 50_000, 200_000, 500_000],
});

const full: Profile = Object.freeze({
    name: 'full',
    description: 'every suite, 8 interleaved rounds per group: a few minutes',
    suites: [...CORE_SUITES, 'batcher', 'inline-threshold', 'overhead', 'policy', 'algorithms'],
    budget: Object.freeze({ time: 1600, iterations: 8, warmupTime: 300, warmupIterations: 2, rounds: 8 }),
    kinds: ['valid', 'invalid'] as const,
    threadBatches: [100_000, 200_000],
    loadSeconds: 2,
    loadLevels: [1_000, 5_000, 20_000, 50_000, 100_000, 200_000, 400_000, 800_000],
});

export const PROFILES: Readonly<Record<string, Profile>> = Object.freeze({ quick, full });

export const PROFILE_NAMES = Object.keys(PROFILES);
