// One suite alone: the "core" suite of src/bench/suites/ (compiled to dist/), printed as
// `totp-fleet bench --suite core` prints it. Flags: --profile quick|full (default full), --json FILE.
//
// Run: npm run build && node --expose-gc --import tsx bench/core.ts

import { runStandalone } from './lib.js';

await runStandalone(['core']);
