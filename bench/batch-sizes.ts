// One suite alone: the "batch-sizes" suite of src/bench/suites/ (compiled to dist/), printed as
// `totp-fleet bench --suite batch-sizes` prints it. Flags: --profile quick|full (default full), --json FILE.
//
// Run: npm run build && node --expose-gc --import tsx bench/batch-sizes.ts

import { runStandalone } from './lib.js';

await runStandalone(['batch-sizes']);
