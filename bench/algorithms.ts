// One suite alone: the "algorithms" suite of src/bench/suites/ (compiled to dist/).
//
// Run: npm run build && node --expose-gc --import tsx bench/algorithms.ts

import { runStandalone } from './lib.js';

await runStandalone(['algorithms']);
