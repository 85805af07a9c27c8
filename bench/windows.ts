// One suite alone: the "windows" suite of src/bench/suites/ (compiled to dist/), printed as
// `totp-fleet bench --suite windows` prints it. Flags: --profile quick|full (default full), --json FILE.
//
// Run: npm run build && node --expose-gc --import tsx bench/windows.ts

import { runStandalone } from './lib.js';

await runStandalone(['windows']);
