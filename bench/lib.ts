// The thin entry points under bench/ run suites from dist/bench/ (the same compiled code the
// `totp-fleet bench` command runs), with the same flags: --profile NAME, --json FILE.

import { PROFILES } from '../dist/bench/profiles.js';
import { formatReport, runSuites } from '../dist/bench/run.js';

/** Runs `suites` (all of the profile's when undefined) and prints the report. */
export async function runStandalone(suites: readonly string[] | undefined, argv = process.argv.slice(2)): Promise<void> {
  const flag = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    if (i < 0) return undefined;
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`--${name} expects a value`);
    return v;
  };
  const profile = PROFILES[flag('profile') ?? 'full'];
  if (profile === undefined) throw new Error(`--profile expected one of ${Object.keys(PROFILES).join(', ')}`);
  const report = await runSuites({ profile, ...(suites === undefined ? {} : { only: suites }) });
  console.log(formatReport(report));
  const json = flag('json');
  if (json !== undefined) {
    report.writeJson(json);
    console.log(`wrote ${json}`);
  }
}
