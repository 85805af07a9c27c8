// One suite alone: the "threads" suite of src/bench/suites/ (compiled to dist/), printed as
// `totp-fleet bench --suite threads` prints it. Flags: --profile quick|full (default full), --json FILE.
//
// Run: npm run build && node --expose-gc --import tsx bench/threads.ts

import { runStandalone } from './lib.js';

await runStandalone(['threads']);
