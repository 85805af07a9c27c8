// The built-in suites. A new suite is one file beside this one and one line below; profiles
// (profiles.ts) name the suites they run by id.

import { SuiteRegistry } from '../suite.js';
import { suite as algorithms } from './algorithms.js';
import { suite as batchSizes } from './batch-sizes.js';
import { suite as batcher } from './batcher.js';
import { suite as coldCache } from './cold-cache.js';
import { suite as core } from './core.js';
import { suite as http } from './http.js';
import { suite as inlineThreshold } from './inline-threshold.js';
import { suite as latency } from './latency.js';
import { suite as overhead } from './overhead.js';
import { suite as policy } from './policy.js';
import { suite as threads } from './threads.js';
import { suite as throughputVsPeers } from './throughput-vs-peers.js';
import { suite as windows } from './windows.js';

/** A registry holding every built-in suite. */
export function builtinSuites(): SuiteRegistry {
  return new SuiteRegistry([throughputVsPeers, core, batchSizes, threads, windows, coldCache, latency, batcher, inlineThreshold, overhead, policy, algorithms, http]);
}
