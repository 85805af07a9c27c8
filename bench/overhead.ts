// One suite alone: the "overhead" suite of src/bench/suites/ (compiled to dist/), printed as
// `totp-fleet bench --suite overhead` prints it. Flags: --profile quick|full (default full), --json FILE.
//
// Run: npm run build && node --expose-gc --import tsx bench/overhead.ts

import { runStandalone } from './lib.js';

await runStandalone(['overhead']);
