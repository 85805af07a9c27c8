// One suite alone: the "throughput-vs-peers" suite of src/bench/suites/ (compiled to dist/), printed as
// `totp-fleet bench --suite throughput-vs-peers` prints it. Flags: --profile quick|full (default full), --json FILE.
//
// Run: npm run build && node --expose-gc --import tsx bench/throughput-vs-peers.ts

import { runStandalone } from './lib.js';

await runStandalone(['throughput-vs-peers']);
