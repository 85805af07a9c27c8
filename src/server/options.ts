// Options of the HTTP verification service, validated once (TypeError for a wrong type,
// RangeError for a wrong range, naming the option), with the defaults a fresh install serves on.

import type { DestinationStream } from 'pino';
import { boolOption, intOption, optionsObject } from '../errors.js';
import type { PolicyOptions } from '../policy/options.js';
import type { VerifierOptions } from '../verifier.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export interface ServerOptions {
  /** Address to bind; default 127.0.0.1 (loopback only). */
  host?: string;
  /** TCP port, 0 for any free one; default 8740. */
  port?: number;
  /** Bearer tokens accepted (16..512 characters of RFC 6750 token68 each). Required unless `insecureNoAuth`. */
  tokens?: readonly string[];
  /** Serve without authentication. Only allowed on a loopback address. */
  insecureNoAuth?: boolean;
  /** Most items in one POST /v1/verify; default 1000. */
  maxBatch?: number;
  /** Largest request body in bytes; default 1 MiB. */
  bodyLimit?: number;
  /** Milliseconds a client has to send a whole request (slow clients are cut off); default 10,000. */
  requestTimeoutMs?: number;
  /** Milliseconds SIGTERM waits for in-flight requests before closing their connections; default 10,000. */
  drainTimeoutMs?: number;
  /**
   * Milliseconds after SIGTERM during which the server still accepts connections and answers
   * (`/readyz` red, every response with `Connection: close`) before it stops listening and
   * drains: time for a load balancer that probes `/readyz` to stop sending it new connections,
   * which would otherwise be refused. Default 0 (stop listening at once).
   */
  drainDelayMs?: number;
  /** Open connections at most; more are refused. Default 10,000. */
  maxConnections?: number;
  /** Milliseconds between store health probes (readiness); default 2000. */
  healthIntervalMs?: number;
  /** Serve HTTPS with this PEM key and certificate. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Trust X-Forwarded-* headers (behind a reverse proxy that sets them). Default false. */
  trustProxy?: boolean;
  /** pino level; default 'info' (start-up, warnings, store outages, client errors; requests only with `accessLog`). */
  logLevel?: LogLevel;
  /** Where log lines go; default standard output. */
  logStream?: DestinationStream;
  /** Redis URL for a fleet (replay marks and failure counts shared); default: in-memory store. */
  redisUrl?: string;
  /** Prefix of every Redis key; default 'totp-fleet:'. Servers that share state use the same one. */
  redisPrefix?: string;
  /** Without Redis: credentials the in-memory store keeps at most (default 1,000,000; when full of live state, new ones get 'error'). */
  maxCredentials?: number;
  /**
   * Without Redis: make and write the in-memory store's memory for `maxCredentials` accounts at
   * start (MemoryStoreOptions.preTouch): no page faults for new accounts under load, the memory
   * held from the start, and a machine without it fails at start. Default false.
   */
  preTouch?: boolean;
  /**
   * Log one line per HTTP request (method, route, status, ms, batch size, remote address; never
   * the URL's query or the body). Default false: a line per request costs CPU that operators
   * rarely want at thousands of requests per second; /metrics counts requests by route and status.
   */
  accessLog?: boolean;
  /** Log one line per verified item (account, outcome; never the code) from the audit channel. Default false. */
  auditLog?: boolean;
  /** Options of the verifier (digits, period, window, threads, ...). Its store is set by `redisUrl`. */
  verifier?: Omit<VerifierOptions, 'store' | 'policy'>;
  /** Failure limits, lockout, drift (validated by the verifier). */
  policy?: PolicyOptions;
}

export interface ResolvedServerOptions {
  readonly host: string;
  readonly port: number;
  readonly tokens: readonly string[];
  readonly insecureNoAuth: boolean;
  readonly maxBatch: number;
  readonly bodyLimit: number;
  readonly requestTimeoutMs: number;
  readonly drainTimeoutMs: number;
  readonly drainDelayMs: number;
  readonly maxConnections: number;
  readonly healthIntervalMs: number;
  readonly tls: { key: string | Buffer; cert: string | Buffer } | undefined;
  readonly trustProxy: boolean;
  readonly logLevel: LogLevel;
  readonly logStream: DestinationStream | undefined;
  readonly redisUrl: string | undefined;
  readonly redisPrefix: string | undefined;
  readonly maxCredentials: number | undefined;
  readonly preTouch: boolean;
  readonly accessLog: boolean;
  readonly auditLog: boolean;
  readonly verifier: VerifierOptions;
  readonly policy: PolicyOptions | undefined;
}

export const DEFAULT_PORT = 8740;
/** RFC 6750 b64token (token68). */
const TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** Whether `host` names the loopback interface only. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/**
 * Whether `url` is a redis:// or rediss:// URL that ioredis can use: it parses (a port of
 * 99999 does not), and its database (the path, or a `db` parameter) is absent or a number.
 * ioredis turns any other database into SELECT NaN, whose error it throws where nothing can
 * catch it: the process died with a stack trace.
 */
export function isRedisUrl(url: string): boolean {
  if (!/^rediss?:\/\//i.test(url)) return false;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  const db = parsed.searchParams.get('db');
  return /^\/?(\d+)?$/.test(parsed.pathname) && (db === null || /^\d+$/.test(db));
}

function stringOption(name: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string') throw new TypeError(`"${name}" expected a string, got ${value === null ? 'null' : typeof value}`);
  if (value.length === 0 || value.length > 1024) throw new RangeError(`"${name}" expected 1..1024 characters`);
  return value;
}

function resolveTokens(value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new TypeError('"tokens" expected an array of strings');
  return value.map((token: unknown, i) => {
    // Messages name the position, never the token.
    if (typeof token !== 'string') throw new TypeError(`"tokens[${i}]" expected a string, got ${token === null ? 'null' : typeof token}`);
    if (token.length < 16 || token.length > 512 || !TOKEN.test(token)) {
      throw new RangeError(`"tokens[${i}]" expected 16..512 characters of A-Z a-z 0-9 - . _ ~ + / (then = padding)`);
    }
    return token;
  });
}

function resolveTls(value: unknown): ResolvedServerOptions['tls'] {
  if (value === undefined) return undefined;
  const tls = optionsObject<{ key: unknown; cert: unknown }>('tls', value);
  for (const part of ['key', 'cert'] as const) {
    const v = tls[part];
    if (typeof v !== 'string' && !Buffer.isBuffer(v)) throw new TypeError(`"tls.${part}" expected PEM text (a string or Buffer)`);
  }
  return { key: tls.key as string | Buffer, cert: tls.cert as string | Buffer };
}

function resolveVerifier(value: unknown): VerifierOptions {
  const v = optionsObject<VerifierOptions>('verifier', value);
  // The server decides the store (redisUrl) and the policy (policy): one place for each.
  if (v.store !== undefined) throw new TypeError('"verifier.store" is set by "redisUrl", not here');
  if (v.policy !== undefined) throw new TypeError('"verifier.policy" goes in "policy"');
  return v;
}

/** Validates every option once; throws TypeError / RangeError naming the option. */
export function resolveServerOptions(input: unknown): ResolvedServerOptions {
  const o = optionsObject<ServerOptions>('opts', input);
  const host = stringOption('host', o.host, '127.0.0.1');
  const tokens = resolveTokens(o.tokens);
  const insecureNoAuth = boolOption('insecureNoAuth', o.insecureNoAuth, false);
  if (insecureNoAuth && !isLoopback(host)) {
    throw new RangeError(`"insecureNoAuth" is only allowed on a loopback address, not on "${host}"`);
  }
  if (!insecureNoAuth && tokens.length === 0) {
    throw new RangeError('"tokens" expected at least one bearer token (or "insecureNoAuth" on a loopback address)');
  }
  const logLevel = o.logLevel ?? 'info';
  if (typeof logLevel !== 'string') throw new TypeError(`"logLevel" expected a string, got ${typeof logLevel}`);
  if (!LOG_LEVELS.includes(logLevel)) throw new RangeError(`"logLevel" expected one of ${LOG_LEVELS.join(', ')}`);
  const redisUrl = o.redisUrl === undefined ? undefined : stringOption('redisUrl', o.redisUrl, '');
  if (redisUrl !== undefined && !isRedisUrl(redisUrl)) {
    // The URL may carry a password: never echo it.
    throw new RangeError('"redisUrl" expected a redis:// or rediss:// URL (host, port up to 65535, database a number: redis://10.0.0.5:6379/0)');
  }
  return Object.freeze({
    host,
    port: intOption('port', o.port, 0, 65_535, DEFAULT_PORT),
    tokens,
    insecureNoAuth,
    maxBatch: intOption('maxBatch', o.maxBatch, 1, 100_000, 1000),
    bodyLimit: intOption('bodyLimit', o.bodyLimit, 1024, 256 * 1024 * 1024, 1024 * 1024),
    requestTimeoutMs: intOption('requestTimeoutMs', o.requestTimeoutMs, 100, 600_000, 10_000),
    drainTimeoutMs: intOption('drainTimeoutMs', o.drainTimeoutMs, 0, 600_000, 10_000),
    drainDelayMs: intOption('drainDelayMs', o.drainDelayMs, 0, 600_000, 0),
    maxConnections: intOption('maxConnections', o.maxConnections, 1, 1_000_000, 10_000),
    healthIntervalMs: intOption('healthIntervalMs', o.healthIntervalMs, 100, 600_000, 2000),
    tls: resolveTls(o.tls),
    trustProxy: boolOption('trustProxy', o.trustProxy, false),
    logLevel,
    logStream: o.logStream,
    redisUrl,
    redisPrefix: o.redisPrefix === undefined ? undefined : stringOption('redisPrefix', o.redisPrefix, ''),
    maxCredentials: o.maxCredentials === undefined ? undefined : intOption('maxCredentials', o.maxCredentials, 1, 100_000_000, 0),
    preTouch: boolOption('preTouch', o.preTouch, false),
    accessLog: boolOption('accessLog', o.accessLog, false),
    auditLog: boolOption('auditLog', o.auditLog, false),
    verifier: resolveVerifier(o.verifier),
    policy: o.policy === undefined ? undefined : optionsObject<PolicyOptions>('policy', o.policy),
  });
}
