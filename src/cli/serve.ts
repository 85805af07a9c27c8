// `totp-fleet serve`: the HTTP verification service. Every flag has an environment variable
// (TOTP_FLEET_ and the flag in upper case: --max-batch is TOTP_FLEET_MAX_BATCH); a flag wins.
// Tokens never come from a flag (it would show in the process list): TOTP_FLEET_TOKENS or a file.

import { createPrivateKey, randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { PolicyOptions } from '../policy/options.js';
import { DEFAULT_PORT, type LogLevel, type ServerOptions } from '../server/options.js';
import { startServer } from '../server/server.js';
import { intArg, TOTP_OPTION_HELP, TOTP_OPTION_SPECS, totpOptions, UsageError } from './options.js';

export const SERVE_HELP = `Usage: totp-fleet serve [options]

Serves POST /v1/verify, GET /v1/clock, GET /metrics (bearer token required) and GET /healthz,
GET /readyz. Every option can also be set in the environment: TOTP_FLEET_ and the flag in upper
case with underscores (--max-batch 500 is TOTP_FLEET_MAX_BATCH=500); a flag wins.

Authentication (one of these is required):
  TOTP_FLEET_TOKENS=T1,T2    accepted bearer tokens (16..512 characters each), comma-separated
  --token-file FILE          accepted bearer tokens, one per line ('#' comments)
  --generate-token           with --token-file: if FILE does not exist, create it (mode 0600)
                             with a new random token
  --insecure-no-auth         no authentication; only on a loopback address (local testing)

Network:
  --host ADDR                address to bind (default 127.0.0.1)
  --port N                   port (default ${DEFAULT_PORT}; 0 = any free port)
  --tls-key FILE, --tls-cert FILE
                             serve HTTPS with this PEM key and certificate
  --trust-proxy              trust X-Forwarded-For (behind a reverse proxy that sets it)
  --max-batch N              items per request at most (default 1000)
  --body-limit BYTES         request body at most (default 1048576)
  --request-timeout MS       time to send a whole request (default 10000)
  --max-connections N        open connections at most (default 10000)
  --drain-timeout MS         on SIGTERM, wait this long for requests in flight (default 10000)
  --drain-delay MS           on SIGTERM, first keep listening this long with /readyz red, so
                             that a load balancer stops sending connections (default 0)
  --health-interval MS       probe the store this often for /readyz (default 2000)

Engine:
  --redis-url URL            share replay marks and failure counts through Redis (a fleet);
                             default: in-memory store (one process). Prefer the variable
                             TOTP_FLEET_REDIS_URL when the URL holds a password
  --redis-prefix P           prefix of every Redis key (default totp-fleet:)
  --max-credentials N        without Redis: accounts kept in memory at most (default 1000000)
  --pretouch                 without Redis: take the memory for --max-credentials accounts at
                             start (~140 MB per 1000000), so that new accounts cause no page
                             faults under load; default off
  --max-failures N           consecutive wrong codes that lock an account (default 10, at most 100)
  --lockout-ms MS            how long a lock lasts (default 900000: 15 minutes)
  --fleet-skew-ms MS         largest clock difference between the fleet's machines (default 300000)
  --timestamp-skew-ms MS     an item with an account and a "timestamp" further than this from
                             the server's clock is malformed (default: --fleet-skew-ms)
  --drift                    learn each account's drift (at most 2 steps) from its accepted codes
  --access-log               log one line per HTTP request (route, status, ms, batch size; never
                             the body or the query); default off
  --audit-log                log one line per verified item (account and outcome, never the code)
${TOTP_OPTION_HELP}
  --window N                 steps accepted each way (default 1, at most 10)
  --past N, --future N       steps accepted before / after the current one
  --threads N                worker threads (default 0 unless --max-batch reaches 16384)
  --log-level LEVEL          fatal, error, warn, info (default), debug, trace, silent
  -h, --help                 this help`;

const SPECS = {
  ...TOTP_OPTION_SPECS,
  window: { type: 'string' },
  past: { type: 'string' },
  future: { type: 'string' },
  threads: { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  'token-file': { type: 'string' },
  'generate-token': { type: 'boolean' },
  'insecure-no-auth': { type: 'boolean' },
  'redis-url': { type: 'string' },
  'redis-prefix': { type: 'string' },
  'max-credentials': { type: 'string' },
  pretouch: { type: 'boolean' },
  'max-failures': { type: 'string' },
  'lockout-ms': { type: 'string' },
  'fleet-skew-ms': { type: 'string' },
  'timestamp-skew-ms': { type: 'string' },
  drift: { type: 'boolean' },
  'access-log': { type: 'boolean' },
  'audit-log': { type: 'boolean' },
  'max-batch': { type: 'string' },
  'body-limit': { type: 'string' },
  'request-timeout': { type: 'string' },
  'drain-timeout': { type: 'string' },
  'drain-delay': { type: 'string' },
  'max-connections': { type: 'string' },
  'health-interval': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-cert': { type: 'string' },
  'trust-proxy': { type: 'boolean' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = Record<string, string | boolean | undefined>;

/** The environment variable of a flag. */
export function envName(flag: string): string {
  return 'TOTP_FLEET_' + flag.toUpperCase().replace(/-/g, '_');
}

/** Fills flags not given from the environment (noting which in `fromEnv`); booleans accept 1/true/yes and 0/false/no. */
function withEnvironment(values: Values, env: NodeJS.ProcessEnv, fromEnv: Set<string>): Values {
  const out: Values = { ...values };
  for (const [flag, spec] of Object.entries(SPECS)) {
    if (flag === 'help' || out[flag] !== undefined) continue;
    const raw = env[envName(flag)];
    if (raw === undefined || raw === '') continue;
    fromEnv.add(flag);
    if (spec.type === 'boolean') {
      if (/^(1|true|yes)$/i.test(raw)) out[flag] = true;
      else if (/^(0|false|no)$/i.test(raw)) out[flag] = false;
      else throw new UsageError(`${envName(flag)} expected 1/true/yes or 0/false/no`);
    } else {
      out[flag] = raw;
    }
  }
  return out;
}

function readTokenFile(file: string, generate: boolean): string[] {
  if (generate) {
    try {
      // 'wx': never overwrite a file that exists (restarts keep their token).
      writeFileSync(file, randomBytes(32).toString('base64url') + '\n', { flag: 'wx', mode: 0o600 });
      process.stderr.write(`totp-fleet serve: generated a bearer token in ${file} (mode 0600)\n`);
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'EEXIST') throw new UsageError(`cannot create ${file}: ${(error as Error).message}`);
    }
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
    if ((statSync(file).mode & 0o077) !== 0 && process.platform !== 'win32') {
      process.stderr.write(`totp-fleet serve: warning: ${file} is readable by other users (chmod 600 it)\n`);
    }
  } catch (error) {
    throw new UsageError(`cannot read the token file ${file}: ${(error as { code?: string }).code ?? 'error'}`);
  }
  const tokens = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  if (tokens.length === 0) throw new UsageError(`the token file ${file} holds no token`);
  return tokens;
}

function readPem(name: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new UsageError(`${name}: cannot read ${file}: ${(error as { code?: string }).code ?? 'error'}`);
  }
}

/**
 * The TLS key and certificate, checked here so that an unusable pair is a usage error naming
 * the flag or variable (`keyName`, `certName`), not OpenSSL's words at listen. The messages are
 * ours: nothing of the files' content.
 */
function readTls(keyName: string, keyFile: string, certName: string, certFile: string): { key: Buffer; cert: Buffer } {
  const key = readPem(keyName, keyFile);
  const cert = readPem(certName, certFile);
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new UsageError(`${keyName}: ${keyFile} is not a PEM private key (without a passphrase)`);
  }
  let x509;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new UsageError(`${certName}: ${certFile} is not a PEM certificate`);
  }
  if (!x509.checkPrivateKey(privateKey)) throw new UsageError(`${keyName}: ${keyFile} is not the private key of ${certName} ${certFile}`);
  return { key, cert };
}

/** Option names in library messages, as the flags a command-line user knows. */
const FLAG_OF: Record<string, string> = {
  port: '--port', host: '--host', maxBatch: '--max-batch', bodyLimit: '--body-limit',
  requestTimeoutMs: '--request-timeout', drainTimeoutMs: '--drain-timeout', drainDelayMs: '--drain-delay', maxConnections: '--max-connections',
  healthIntervalMs: '--health-interval',
  logLevel: '--log-level', redisUrl: '--redis-url', insecureNoAuth: '--insecure-no-auth', threads: '--threads',
  tokens: 'the token', 'window.past': '--past', 'window.future': '--future', window: '--window',
  redisPrefix: '--redis-prefix', maxCredentials: '--max-credentials', preTouch: '--pretouch', 'policy.maxFailures': '--max-failures', 'policy.lockoutMs': '--lockout-ms',
  'policy.fleetSkewMs': '--fleet-skew-ms', 'policy.timestampSkewMs': '--timestamp-skew-ms', digits: '--digits', period: '--period', t0: '--t0',
  minSecretBytes: '--min-secret-bytes',
};

/** The flags of a serveOptions result whose values came from the environment. */
const FROM_ENV = new WeakMap<ServerOptions, ReadonlySet<string>>();

/** Server options from flags and the environment; UsageError naming the flag or variable. */
export function serveOptions(argv: string[], env: NodeJS.ProcessEnv): ServerOptions | 'help' {
  const { values: flags, positionals } = parseArgs({ args: argv, allowPositionals: true, options: SPECS });
  if (flags.help) return 'help';
  if (positionals.length > 0) throw new UsageError('serve takes no arguments');
  const fromEnv = new Set<string>();
  const values = withEnvironment(flags, env, fromEnv);
  const str = (flag: string): string | undefined => values[flag] as string | undefined;
  const int = (flag: string): number | undefined => {
    try {
      return intArg(flag, str(flag));
    } catch (error) {
      // Name the variable the value came from, not a flag the user never typed.
      if (fromEnv.has(flag)) throw new UsageError((error as Error).message.replace(`--${flag}`, envName(flag)));
      throw error;
    }
  };

  let verifier;
  try {
    verifier = totpOptions(values);
  } catch (error) {
    // The same for the TOTP options, parsed where the other commands parse them (their messages
    // start with the flag).
    if (!(error instanceof UsageError)) throw error;
    const m = /^--([a-z0-9-]+)/.exec(error.message);
    if (m !== null && fromEnv.has(m[1]!)) throw new UsageError(error.message.replace(`--${m[1]!}`, envName(m[1]!)));
    throw error;
  }
  const window = int('window');
  const past = int('past');
  const future = int('future');
  if (window !== undefined && (past !== undefined || future !== undefined)) throw new UsageError('use --window, or --past/--future, not both');
  if (window !== undefined) verifier.window = window;
  else if (past !== undefined || future !== undefined) verifier.window = { past: past ?? 1, future: future ?? 1 };
  const threads = int('threads');
  if (threads !== undefined) verifier.threads = threads;

  const tokens: string[] = [];
  const listed = env.TOTP_FLEET_TOKENS;
  if (listed !== undefined && listed.trim() !== '') tokens.push(...listed.split(',').map((t) => t.trim()).filter((t) => t !== ''));
  const tokenFile = str('token-file');
  if (values['generate-token'] === true && tokenFile === undefined) throw new UsageError('--generate-token needs --token-file FILE');
  if (tokenFile !== undefined) tokens.push(...readTokenFile(tokenFile, values['generate-token'] === true));

  const tlsKey = str('tls-key');
  const tlsCert = str('tls-cert');
  if ((tlsKey === undefined) !== (tlsCert === undefined)) throw new UsageError('--tls-key and --tls-cert go together');

  const policy: PolicyOptions = {};
  const maxFailures = int('max-failures');
  if (maxFailures !== undefined) policy.maxFailures = maxFailures;
  const lockoutMs = int('lockout-ms');
  if (lockoutMs !== undefined) policy.lockoutMs = lockoutMs;
  const fleetSkewMs = int('fleet-skew-ms');
  if (fleetSkewMs !== undefined) policy.fleetSkewMs = fleetSkewMs;
  const timestampSkewMs = int('timestamp-skew-ms');
  if (timestampSkewMs !== undefined) policy.timestampSkewMs = timestampSkewMs;
  if (values.drift === true) policy.drift = true;

  const opts: ServerOptions = { verifier, tokens, policy };
  const set = <K extends keyof ServerOptions>(key: K, value: ServerOptions[K] | undefined): void => {
    if (value !== undefined) opts[key] = value;
  };
  set('host', str('host'));
  set('port', int('port'));
  set('insecureNoAuth', values['insecure-no-auth'] as boolean | undefined);
  set('redisUrl', str('redis-url'));
  set('redisPrefix', str('redis-prefix'));
  set('maxCredentials', int('max-credentials'));
  set('preTouch', values.pretouch as boolean | undefined);
  set('accessLog', values['access-log'] as boolean | undefined);
  set('auditLog', values['audit-log'] as boolean | undefined);
  set('maxBatch', int('max-batch'));
  set('bodyLimit', int('body-limit'));
  set('requestTimeoutMs', int('request-timeout'));
  set('drainTimeoutMs', int('drain-timeout'));
  set('drainDelayMs', int('drain-delay'));
  set('maxConnections', int('max-connections'));
  set('healthIntervalMs', int('health-interval'));
  set('trustProxy', values['trust-proxy'] as boolean | undefined);
  set('logLevel', str('log-level') as LogLevel | undefined);
  if (tlsKey !== undefined && tlsCert !== undefined) {
    const name = (flag: string): string => (fromEnv.has(flag) ? envName(flag) : `--${flag}`);
    opts.tls = readTls(name('tls-key'), tlsKey, name('tls-cert'), tlsCert);
  }
  if (opts.insecureNoAuth === true && tokens.length > 0) throw new UsageError('--insecure-no-auth and bearer tokens exclude each other');
  if (opts.insecureNoAuth !== true && tokens.length === 0) {
    throw new UsageError('no bearer token: set TOTP_FLEET_TOKENS, or --token-file FILE (with --generate-token to create one), ' +
      'or --insecure-no-auth for a local test');
  }
  FROM_ENV.set(opts, fromEnv);
  return opts;
}

/**
 * Rewrites a library option name in an error message to its flag, or to its variable when the
 * value came from the environment (`fromEnv`): the name the user actually set.
 */
function inFlagTerms(error: unknown, fromEnv: ReadonlySet<string>): unknown {
  if (!(error instanceof TypeError || error instanceof RangeError)) return error;
  const m = /^"([^"]+)"/.exec(error.message);
  let flag = m === null ? undefined : FLAG_OF[m[1]!.replace(/\[\d+\]$/, '')];
  if (flag === undefined) return error;
  if (flag.startsWith('--') && fromEnv.has(flag.slice(2))) flag = envName(flag.slice(2));
  return new UsageError(error.message.replace(/^"[^"]+"/, flag));
}

/** Runs the service until SIGTERM or SIGINT; resolves to the exit status. */
export async function runServe(argv: string[]): Promise<number> {
  const opts = serveOptions(argv, process.env);
  if (opts === 'help') {
    process.stdout.write(SERVE_HELP + '\n');
    return 0;
  }
  let server;
  try {
    server = await startServer(opts);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      throw new UsageError(`cannot listen on ${opts.host ?? '127.0.0.1'}:${opts.port ?? DEFAULT_PORT} (${code})`);
    }
    throw inFlagTerms(error, FROM_ENV.get(opts) ?? new Set());
  }
  const auth = opts.insecureNoAuth === true ? 'NO AUTHENTICATION (insecure local mode)' : `${opts.tokens!.length} bearer token(s)`;
  process.stderr.write(`totp-fleet serve: listening on ${server.url} (${server.service.engine.storeName}; ${auth})\n`);
  return new Promise<number>((resolve) => {
    const stop = (signal: string): void => {
      process.stderr.write(`totp-fleet serve: ${signal}: draining\n`);
      // A second signal while draining ends the process at once.
      process.once('SIGINT', () => process.exit(130));
      process.once('SIGTERM', () => process.exit(143));
      server.close().then(
        () => { process.stderr.write('totp-fleet serve: closed\n'); resolve(0); },
        (error: unknown) => { process.stderr.write(`totp-fleet serve: close failed: ${(error as Error).name}\n`); resolve(1); },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
