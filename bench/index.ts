// All benchmark scenarios in one process, one run: the node:crypto baseline is measured once
// and every ratio uses it; the summary table lists every target of issue 3 with PASS or MISS.
//
//   npm run bench                      (builds first)
//   npm run bench -- --json out.json   (also writes every figure and the machine as JSON)
//   BENCH_TIME_MS=2000 npm run bench   (longer measurement per task)

import { scenario as algorithms } from './algorithms.js';
import { scenario as batcher } from './batcher.js';
import { scenario as coldCache } from './cold-cache.js';
import { scenario as inlineThreshold } from './inline-threshold.js';
import { runScenarios } from './lib/run.js';
import { scenario as overhead } from './overhead.js';
import { scenario as threads } from './threads.js';
import { scenario as throughput } from './throughput-vs-peers.js';

await runScenarios([throughput, coldCache, threads, inlineThreshold, batcher, overhead, algorithms]);
