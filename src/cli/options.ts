// Command-line options shared by the commands, and turning them into library options.
// Values are checked by the library itself (TypeError / RangeError), so messages match the API.

import { parseAlgorithmName } from '../algorithm.js';
import type { VerifierOptions } from '../verifier.js';
import type { Digits } from '../otp.js';

/** A usage error: printed with the command's help hint, exit status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** parseArgs option specs for the TOTP parameters. */
export const TOTP_OPTION_SPECS = {
  algorithm: { type: 'string' },
  digits: { type: 'string' },
  period: { type: 'string' },
  t0: { type: 'string' },
  'min-secret-bytes': { type: 'string' },
  'allow-base32-trailing-bits': { type: 'boolean' },
} as const;

export const TOTP_OPTION_HELP = `  --algorithm NAME           HMAC hash: SHA1 (default), SHA256 or SHA512
  --digits N                 code length: 6 (default), 7 or 8
  --period S                 time step in seconds (default 30)
  --t0 S                     Unix time of step 0 (default 0)
  --min-secret-bytes N       accept secrets down to N bytes (default 16; legacy secrets only)
  --allow-base32-trailing-bits
                             accept base32 secrets whose last character has non-zero unused bits`;

/** An integer from a command-line string; UsageError (naming the flag) otherwise. */
export function intArg(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value)) throw new UsageError(`--${flag} expected an integer`);
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new UsageError(`--${flag} is out of range`);
  return n;
}

/** The library options named by TOTP_OPTION_SPECS. */
export function totpOptions(values: Record<string, string | boolean | undefined>): VerifierOptions {
  const opts: VerifierOptions = {};
  if (values.algorithm !== undefined) {
    // Spelled as people and otpauth URIs spell it: sha256, SHA-256, ...
    const algorithm = parseAlgorithmName(String(values.algorithm));
    if (algorithm === undefined) throw new UsageError('--algorithm expected SHA1, SHA256 or SHA512');
    opts.algorithm = algorithm;
  }
  const digits = intArg('digits', values.digits as string | undefined);
  if (digits !== undefined) opts.digits = digits as Digits;
  const period = intArg('period', values.period as string | undefined);
  if (period !== undefined) opts.period = period;
  const t0 = intArg('t0', values.t0 as string | undefined);
  if (t0 !== undefined) opts.t0 = t0;
  const min = intArg('min-secret-bytes', values['min-secret-bytes'] as string | undefined);
  if (min !== undefined) opts.minSecretBytes = min;
  if (values['allow-base32-trailing-bits'] === true) opts.allowBase32TrailingBits = true;
  return opts;
}
