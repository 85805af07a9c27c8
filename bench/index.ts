// Every suite of a profile in one process, one run (default: the full profile): the
// node:crypto baseline is measured in the same run as everything compared with it.
//
//   npm run bench                                  (builds first; the full profile)
//   npm run bench -- --profile quick --json out.json
//
// `totp-fleet bench` runs the same suites and adds the chart, --plan and compare.

import { runStandalone } from './lib.js';

await runStandalone(undefined);
