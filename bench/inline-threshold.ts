// One suite alone: the "inline-threshold" suite of src/bench/suites/ (compiled to dist/), printed as
// `totp-fleet bench --suite inline-threshold` prints it. Flags: --profile quick|full (default full), --json FILE.
//
// Run: npm run build && node --expose-gc --import tsx bench/inline-threshold.ts

import { runStandalone } from './lib.js';

await runStandalone(['inline-threshold']);
