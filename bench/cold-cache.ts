// One suite alone: the "cold-cache" suite of src/bench/suites/ (compiled to dist/), printed as
// `totp-fleet bench --suite cold-cache` prints it. Flags: --profile quick|full (default full), --json FILE.
//
// Run: npm run build && node --expose-gc --import tsx bench/cold-cache.ts

import { runStandalone } from './lib.js';

await runStandalone(['cold-cache']);
