// One suite alone: the "latency" suite of src/bench/suites/ (compiled to dist/), printed as
// `totp-fleet bench --suite latency` prints it. Flags: --profile quick|full (default full), --json FILE.
//
// Run: npm run build && node --expose-gc --import tsx bench/latency.ts

import { runStandalone } from './lib.js';

await runStandalone(['latency']);
