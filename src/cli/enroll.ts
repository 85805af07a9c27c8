// `totp-fleet enroll`: a new TOTP secret for an account, shown as base32 text, an otpauth URI
// and a QR code, then a first code from the authenticator app read from stdin and verified, so
// that an account is never left enrolled with a secret its app does not hold. The code is
// verified for the account through the fleet's store (--redis-url), so it counts as used: it
// cannot be replayed at the first login. Optionally a set of backup codes, printed once.
//
// This is the one command that prints a secret: that is its job. Everything else it writes
// (prompts, outcomes, errors) goes to stderr and never contains the secret or a code.

import { writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { SECRET_BYTES } from '../algorithm.js';
import { encode } from '../base32.js';
import { build, parse } from '../otpauth.js';
import { terminal, svg } from '../qr.js';
import { isAccount } from '../policy/options.js';
import { isRedisUrl } from '../server/options.js';
import { generateSecret } from '../secret.js';
import { MemoryStore } from '../store/memory.js';
import { RedisStore } from '../store/redis.js';
import type { Store } from '../store/types.js';
import { TotpVerifier } from '../verifier.js';
import { intArg, TOTP_OPTION_SPECS, totpOptions, UsageError } from './options.js';

export const ENROLL_HELP = `Usage: totp-fleet enroll --account NAME [options]

Makes a new secret (from the system's CSPRNG) for NAME and prints it, its otpauth:// URI and a
QR code to scan with an authenticator app. Then reads the first code the app shows from
standard input and verifies it. Exit status: 0 enrolled (the code matched), 1 no matching
code after every attempt (or none given), or the store does not answer; 2 usage error. The
output contains the secret: show it only to the account's owner.

Options:
  --account NAME             the account name shown in the app (required)
  --issuer NAME              the service shown in the app (default: this host's name, as WHM does)
  --algorithm NAME           HMAC hash: SHA1 (default; every app), SHA256 or SHA512
  --digits N                 code length: 6 (default), 7 or 8
  --period S                 time step in seconds (default 30)
  --svg FILE                 also write the QR code as SVG to FILE (created, mode 0600; never overwritten)
  --attempts N               codes accepted before giving up (1..10, default 3)
  --redis-url URL            the fleet's Redis: the first code is marked used there, and backup
                             codes are kept there. Default: the variable TOTP_FLEET_REDIS_URL
                             (as for serve; use it when the URL holds a password), else an
                             in-memory store (the mark then ends with this process)
  --redis-prefix P           prefix of every Redis key (default totp-fleet:), as for serve
  --backup-codes N           after enrolment, make a set of N backup codes (1..100) and print it
                             once; only their salted hashes are kept (needs a store shared with
                             the servers, i.e. Redis, to be of use)
  -h, --help                 this help`;

/** Groups of four characters, as secrets are printed for typing. */
function grouped(text: string): string {
  return text.replace(/(.{4})(?=.)/g, '$1 ');
}

/** Runs the command; resolves to the process exit status. */
export async function runEnroll(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      account: { type: 'string' },
      issuer: { type: 'string' },
      algorithm: TOTP_OPTION_SPECS.algorithm,
      digits: TOTP_OPTION_SPECS.digits,
      period: TOTP_OPTION_SPECS.period,
      svg: { type: 'string' },
      attempts: { type: 'string' },
      'redis-url': { type: 'string' },
      'redis-prefix': { type: 'string' },
      'backup-codes': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(ENROLL_HELP + '\n');
    return 0;
  }
  if (positionals.length > 0) throw new UsageError('enroll takes no arguments');
  if (values.account === undefined) throw new UsageError('--account is required');
  if (!isAccount(values.account)) throw new UsageError('--account expected 1..512 characters');
  const attempts = intArg('attempts', values.attempts) ?? 3;
  if (attempts < 1 || attempts > 10) throw new UsageError('--attempts expected 1..10');
  const backupCodes = intArg('backup-codes', values['backup-codes']);
  if (backupCodes !== undefined && (backupCodes < 1 || backupCodes > 100)) throw new UsageError('--backup-codes expected 1..100');
  // An empty variable is unset, as for serve.
  const redisUrl = values['redis-url'] ?? (process.env.TOTP_FLEET_REDIS_URL || undefined);
  // As serve checks it (never echoed: it may hold a password).
  if (redisUrl !== undefined && !isRedisUrl(redisUrl)) {
    throw new UsageError(`${values['redis-url'] === undefined ? 'TOTP_FLEET_REDIS_URL' : '--redis-url'} expected a redis:// or rediss:// URL (host, port up to 65535, database a number: redis://10.0.0.5:6379/0)`);
  }
  const opts = totpOptions(values);
  const algorithm = opts.algorithm ?? 'SHA1';
  const digits = opts.digits ?? 6;
  const period = opts.period ?? 30;

  const store: Store = redisUrl === undefined ? new MemoryStore()
    : new RedisStore({ url: redisUrl, prefix: values['redis-prefix'], commandTimeoutMs: 5000 });
  try {
    // Before a secret is shown: a store that cannot keep the mark would make enrolment useless.
    await store.health();
  } catch {
    await store.close();
    process.stderr.write('totp-fleet enroll: the store does not answer (is --redis-url right?); nothing was enrolled\n');
    return 1;
  }
  const secret = generateSecret({ algorithm });
  let verifier: TotpVerifier | undefined;
  try {
    // The verifier checks the options (RangeError / TypeError naming them) before anything is shown.
    verifier = await TotpVerifier.create({ threads: 0, algorithm, digits, period, window: 1, keyCacheSize: 0, store });
    const uri = build({ account: values.account, issuer: values.issuer, secret, algorithm, digits, period });
    const secretText = encode(secret);
    const qrText = await terminal(uri);
    if (values.svg !== undefined) {
      try {
        await writeFile(values.svg, await svg(uri), { flag: 'wx', mode: 0o600 });
      } catch (error) {
        const code = (error as { code?: string }).code;
        throw new UsageError(`--svg: cannot create the file (${code === 'EEXIST' ? 'it exists' : code ?? 'error'})`);
      }
    }
    const { issuer } = parse(uri);
    process.stdout.write([
      `Account:   ${values.account}`,
      `Issuer:    ${issuer ?? '(none: this host has no name)'}`,
      `Algorithm: ${algorithm}, ${digits} digits, ${period} s (${SECRET_BYTES[algorithm]}-byte secret)`,
      `Secret:    ${grouped(secretText)}`,
      `URI:       ${uri}`,
      '',
      qrText,
    ].join('\n') + '\n');
    const status = await confirm(verifier, values.account, secret, digits, attempts);
    if (status !== 0 || backupCodes === undefined) return status;
    let codes: string[];
    try {
      codes = await verifier.backupCodes.generate(values.account, { count: backupCodes });
    } catch {
      process.stderr.write('totp-fleet enroll: the store could not keep backup codes; none were made\n');
      return 1;
    }
    process.stdout.write([
      '',
      `Backup codes (${verifier.backupCodes.bits} bits each; each works once; shown only now, keep them safe):`,
      ...codes.map((c) => `  ${c}`),
    ].join('\n') + '\n');
    return 0;
  } finally {
    secret.fill(0);
    await verifier?.close();
    await store.close();
  }
}

/** Reads codes from stdin until one verifies or `attempts` run out; the exit status. */
async function confirm(verifier: TotpVerifier, account: string, secret: Uint8Array, digits: number, attempts: number): Promise<number> {
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity })[Symbol.asyncIterator]();
  try {
    for (let left = attempts; left > 0; left--) {
      process.stderr.write(`Enter the ${digits}-digit code the app shows: `);
      const next = await lines.next();
      if (next.done === true) {
        process.stderr.write('\ntotp-fleet enroll: no code given; the secret is not confirmed\n');
        return 1;
      }
      // People type codes with spaces ("123 456"); the verifier itself never trims.
      const code = String(next.value).replace(/\s+/g, '');
      // With the account: the store marks the step used, so this code cannot log in later.
      const result = await verifier.verify({ account, secret, code });
      if (result.status === 'valid') {
        const delta = result.delta!;
        const clock = delta === 0 ? 'clocks agree' : `the phone's clock is ${Math.abs(delta)} step ${delta < 0 ? 'behind' : 'ahead'}`;
        process.stderr.write(`Verified at step ${result.step} (${clock}). Enrolled.\n`);
        return 0;
      }
      if (result.status === 'error' || result.status === 'locked') {
        process.stderr.write(result.status === 'locked'
          ? 'totp-fleet enroll: the account is locked (too many wrong codes); try again later\n'
          : 'totp-fleet enroll: the store did not answer; the secret is not confirmed\n');
        return 1;
      }
      const why = result.status === 'malformed'
        ? `that is not ${digits} digits`
        : result.status === 'replayed'
          ? 'that code was used already; wait for the next one'
          : 'that code does not match (is the phone\'s clock set automatically?)';
      process.stderr.write(`${why}; ${left - 1} attempt${left - 1 === 1 ? '' : 's'} left\n`);
    }
    process.stderr.write('totp-fleet enroll: no matching code; the secret is not confirmed\n');
    return 1;
  } finally {
    await lines.return?.();
  }
}
