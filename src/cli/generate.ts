// `totp-fleet generate`: the current TOTP code (or an HOTP code) for one secret.

import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { generate as hotpGenerate } from '../hotp.js';
import { generate as totpGenerate } from '../totp.js';
import { intArg, TOTP_OPTION_HELP, TOTP_OPTION_SPECS, totpOptions, UsageError } from './options.js';

export const GENERATE_HELP = `Usage: totp-fleet generate [options]

Prints the code for a base32 secret. The secret is read from the first line of standard input,
so that it does not appear in the process list or shell history:
  echo GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ | totp-fleet generate

Options:
${TOTP_OPTION_HELP}
  --timestamp MS             TOTP at this time (milliseconds since the epoch; default now)
  --counter N                HOTP at counter N (0..2^64-1) instead of TOTP
  -h, --help                 this help`;

async function readSecret(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('secret (base32): ');
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  for await (const line of lines) {
    lines.close();
    return line.trim();
  }
  throw new UsageError('no secret on standard input');
}

/** Runs the command; resolves to the process exit status. */
export async function runGenerate(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...TOTP_OPTION_SPECS,
      timestamp: { type: 'string' },
      counter: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(GENERATE_HELP + '\n');
    return 0;
  }
  if (positionals.length > 0) throw new UsageError('generate takes no arguments (the secret comes on stdin)');
  if (values.counter !== undefined && values.timestamp !== undefined) {
    throw new UsageError('use --counter (HOTP) or --timestamp (TOTP), not both');
  }
  // HOTP has no time: a period or t0 given with --counter would be ignored, so it is refused.
  if (values.counter !== undefined && (values.period !== undefined || values.t0 !== undefined)) {
    throw new UsageError('--period and --t0 are TOTP options: not with --counter (HOTP)');
  }
  const opts = totpOptions(values);
  const timestamp = intArg('timestamp', values.timestamp);
  let counter: bigint | undefined;
  if (values.counter !== undefined) {
    if (!/^\d+$/.test(values.counter)) throw new UsageError('--counter expected a non-negative integer');
    counter = BigInt(values.counter);
  }
  const secret = await readSecret();
  const code = counter !== undefined
    ? hotpGenerate(secret, counter, {
      algorithm: opts.algorithm, digits: opts.digits, minSecretBytes: opts.minSecretBytes,
      allowBase32TrailingBits: opts.allowBase32TrailingBits,
    })
    : totpGenerate(secret, timestamp === undefined ? opts : { ...opts, timestamp });
  process.stdout.write(code + '\n');
  return 0;
}
