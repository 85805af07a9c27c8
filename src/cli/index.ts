#!/usr/bin/env node
// The `totp-fleet` command: dispatches to one module per command.

import { runEnroll } from './enroll.js';
import { runBench } from './bench.js';
import { runGenerate } from './generate.js';
import { UsageError } from './options.js';
import { runServe } from './serve.js';
import { runVerify } from './verify.js';

const HELP = `Usage: totp-fleet <command> [options]

Commands:
  serve      the HTTP verification service (POST /v1/verify)
  verify     verify NDJSON requests from a file or stdin, NDJSON results to stdout
  generate   print the code for a secret read from stdin
  enroll     new secret for an account: secret, otpauth URI, QR code; verifies a first code
  bench      capacity planning: benchmark suites, --plan, compare

Run "totp-fleet <command> --help" for a command's options.`;

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  serve: runServe,
  verify: runVerify,
  generate: runGenerate,
  enroll: runEnroll,
  bench: runBench,
};

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(HELP + '\n');
    return command === undefined ? 2 : 0;
  }
  const run = COMMANDS[command];
  if (run === undefined) throw new UsageError(`unknown command "${command}"`);
  return run(rest);
}

function isUsageError(error: unknown): boolean {
  if (error instanceof UsageError || error instanceof TypeError || error instanceof RangeError) return true;
  // node:util parseArgs reports unknown flags and missing values with these codes.
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}

main(process.argv.slice(2)).then(
  (status) => { process.exitCode = status; },
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    if (isUsageError(error)) {
      process.stderr.write(`totp-fleet: ${message}\nRun "totp-fleet --help" for usage.\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`totp-fleet: ${message}\n`);
      process.exitCode = 1;
    }
  },
);
