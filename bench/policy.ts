// One suite alone: the "policy" suite of src/bench/suites/ (compiled to dist/).
//
// Run: npm run build && node --expose-gc --import tsx bench/policy.ts

import { runStandalone } from './lib.js';

await runStandalone(['policy']);
