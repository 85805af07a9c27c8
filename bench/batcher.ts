// One suite alone: the "batcher" suite of src/bench/suites/ (compiled to dist/), printed as
// `totp-fleet bench --suite batcher` prints it. Flags: --profile quick|full (default full), --json FILE.
//
// Run: npm run build && node --expose-gc --import tsx bench/batcher.ts

import { runStandalone } from './lib.js';

await runStandalone(['batcher']);
