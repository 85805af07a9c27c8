// The HTTP verification service: a fastify app with the routes, authentication, limits,
// logging and metrics. Listening, signals and draining are in server.ts.
//
// Routes: POST /v1/verify (one item or a batch), GET /v1/clock, GET /metrics (these three need
// a bearer token), GET /healthz and GET /readyz (open: load balancers and orchestrators probe them).

import diagnostics_channel from 'node:diagnostics_channel';
import type { Duplex } from 'node:stream';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { pino, type Logger } from 'pino';
import { AUDIT_CHANNEL, type AuditEvent } from '../policy/audit.js';
import type { VerifyRequest, VerifyResult, VerifyStatus } from '../verifier.js';
import { TokenSet } from './auth.js';
import { jsonBodyParser } from './body.js';
import { type Engine, engineSelfTest } from './engine.js';
import { ServerMetrics } from './metrics.js';
import type { ResolvedServerOptions } from './options.js';
import { errorBody, errorHandler } from './errors.js';
import { batchResponseSchema, resultSchema, verifyBodySchema } from './schema.js';
import { batchAnswer, singleAnswer } from './serialize.js';

interface Item {
  account: string;
  secret: string;
  code: string;
  timestamp?: number;
}
type VerifyBody = Item | { items: Item[] };

/** The app and what the lifecycle needs to drive it. */
export interface Service {
  readonly app: FastifyInstance;
  readonly engine: Engine;
  readonly metrics: ServerMetrics;
  readonly logger: Logger;
  /** Whether /readyz is green: not draining, and the store answered its last probe. */
  ready(): boolean;
  /** From now on: /readyz red, responses carry `Connection: close`. */
  startDraining(): void;
  /** Probes the store until it answers or `ms` have passed; resolves whether it answered. */
  waitForStore(ms: number): Promise<boolean>;
  /** Probes the store every `healthIntervalMs` (readiness) until stopped. */
  startProbes(): void;
  stopProbes(): void;
  /**
   * Ends the service, whether or not it ever listened (a failed start ends it the same way):
   * closes the app and its connections, stops the probes, closes the engine, then lets go of
   * the audit subscription and the log flush timer. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Field paths pino blanks out, whatever logs them. The service never logs request data; this is
 * the net under that. Top-level and fixed paths only: wildcard paths cost 6 µs per log line.
 */
export const REDACT_PATHS = [
  'req.headers.authorization', 'req.body', 'headers.authorization', 'authorization',
  'body', 'secret', 'code', 'items', 'token', 'tokens',
];

/**
 * pino's err serializer, without `rawPacket`: Node's HTTP parser errors carry the bytes read so
 * far (request line, Authorization header, body), and fastify logs them (`client error`, trace).
 */
function errSerializer(error: Error): ReturnType<typeof pino.stdSerializers.err> {
  const out = pino.stdSerializers.err(error);
  if (out !== (error as unknown) && out !== null && typeof out === 'object' && 'rawPacket' in out) delete (out as { rawPacket?: unknown }).rawPacket;
  return out;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function buildService(opts: ResolvedServerOptions, engine: Engine): Service {
  const logger = pino({
    level: opts.logLevel,
    base: { service: 'totp-fleet', pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    // Errors are logged by the error handler below, already stripped of their messages. The
    // ones fastify logs itself go through errSerializer (no raw request bytes).
    serializers: { err: errSerializer },
    // Lines are written in 4 KiB blocks, not one write(2) per request (a syscall is dear here:
    // see the README's load figures), and at least every second (the timer below) so that a
    // quiet server's warnings are not held back; pino flushes what is left at exit.
  }, opts.logStream ?? pino.destination({ sync: false, minLength: 4096 }));

  const tokens = new TokenSet(opts.tokens);
  let draining = false;
  let storeUp = true;
  let probeTimer: NodeJS.Timeout | undefined;
  const probeTimeout = Math.min(opts.healthIntervalMs, 2000);

  const metrics = new ServerMetrics({
    stats: () => engine.verifier.stats(),
    storeUp: () => storeUp,
    clock: () => engine.clock(),
  });

  const onError = errorHandler(opts);
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // A URL that does not decode (`/%zz`): fastify's own answer quotes the path; the error
    // handler answers in the service's shape instead. No hook runs for these requests (fastify
    // answers them before routing), so they are counted when their response is written.
    frameworkErrors: (error, request, reply) => {
      const start = performance.now();
      reply.raw.once('finish', () => { answered(request, reply, performance.now() - start); });
      void onError(error, request, reply);
    },
    // The access log (opt-in, `accessLog`) is one line per request, written in onResponse without
    // the URL's query, instead of fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    // No pino child per request (a few µs each): the lines logged per request (access log,
    // errors) carry the request id themselves.
    childLoggerFactory: (parent: FastifyBaseLogger) => parent,
    bodyLimit: opts.bodyLimit,
    trustProxy: opts.trustProxy,
    requestTimeout: opts.requestTimeoutMs,
    connectionTimeout: Math.max(60_000, opts.requestTimeoutMs * 2),
    keepAliveTimeout: 30_000,
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    // Slow clients: the whole request (headers and body) within requestTimeoutMs, checked often.
    http: {
      headersTimeout: opts.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(1000, Math.ceil(opts.requestTimeoutMs / 4)),
    },
    ...(opts.tls === undefined ? {} : {
      https: {
        key: opts.tls.key,
        cert: opts.tls.cert,
        headersTimeout: opts.requestTimeoutMs,
        connectionsCheckingInterval: Math.min(1000, Math.ceil(opts.requestTimeoutMs / 4)),
      },
    }),
    ajv: {
      // No type coercion: a code sent as a number is a 400, never turned into a string
      // (SECURITY.md R4). Nothing removed silently: an unknown field is a 400 too.
      // Lengths in UTF-16 units (`unicode: false`): the limits bound sizes, and counting code
      // points walks every character of every field.
      customOptions: {
        coerceTypes: false, removeAdditional: false, allErrors: false, unicode: false,
        // ajv calls `unicode` deprecated (it still honours it) and would say so on the console.
        logger: {
          log: () => {},
          warn: (...args: unknown[]) => {
            const text = args.map(String).join(' ');
            if (!text.includes('option unicode')) logger.warn({ ajv: text }, 'schema compiler warning');
          },
          error: (...args: unknown[]) => logger.error({ ajv: args.map(String).join(' ') }, 'schema compiler error'),
        },
      },
    },
  });

  // Requests the HTTP parser refuses, and requests not sent whole within requestTimeoutMs, never
  // become fastify requests: fastify's clientError listener answers them on the socket (400,
  // 408, 431) and closes it. Counted here, just before it, on its conditions and statuses (a test
  // pins them). Nothing of the error is kept: it can carry the bytes read so far.
  app.server.prependListener('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (error.code === 'ECONNRESET' || socket.destroyed || !socket.writable) return;
    const status = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408' : error.code === 'HPE_HEADER_OVERFLOW' ? '431' : '400';
    metrics.clientErrors.inc({ status_code: status });
  });

  // A callback-style hook (an async one costs a promise per request): done() lets the request
  // through; a refusal is answered here and done() is not called.
  const authenticate = (request: FastifyRequest, reply: FastifyReply, done: () => void): void => {
    const outcome = opts.insecureNoAuth ? 'ok' : tokens.check(request.headers.authorization);
    if (outcome === 'ok') {
      done();
      return;
    }
    metrics.authFailures.inc({ reason: outcome });
    // RFC 6750 §3: a missing token gets a bare challenge; a wrong one says invalid_token.
    reply.header('www-authenticate', outcome === 'missing' ? 'Bearer realm="totp-fleet"' : 'Bearer realm="totp-fleet", error="invalid_token"');
    // Refused before the body is read: a client without a token cannot make the server parse 1 MiB.
    reply.header('connection', 'close');
    void reply.code(401).send(errorBody(401, 'unauthorized', outcome === 'missing' ? 'a bearer token is required' : 'the bearer token is not valid'));
  };

  // JSON only: a text/plain body would otherwise reach the schema as a string.
  app.removeContentTypeParser('text/plain');
  // JSON bodies read as bytes and parsed by jsonBodyParser (body.ts): a large batch in pieces,
  // each a string V8 keeps in its ordinary pages, not one string mapped afresh per request.
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, jsonBodyParser);

  // Callback-style hooks: an async hook costs a promise per request.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (draining) reply.header('connection', 'close');
    done(null, payload);
  });

  app.addHook('onResponse', (request, reply, done) => {
    answered(request, reply, reply.elapsedTime);
    done();
  });

  /** Every answered request: its latency by route and status, and its access log line. */
  function answered(request: FastifyRequest, reply: FastifyReply, ms: number): void {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.requestSeconds.observe({ route, status_code: String(reply.statusCode) }, ms / 1000);
    if (!opts.accessLog) return;
    // No URL: a query string could carry anything, and an undecodable path too. The route
    // pattern is enough.
    request.log.info({
      reqId: request.id,
      method: request.method,
      route,
      statusCode: reply.statusCode,
      ms: Math.round(ms * 100) / 100,
      batch: (request as { batch?: number }).batch,
      remote: request.ip,
    }, 'request');
  }

  app.setErrorHandler(onError);

  app.setNotFoundHandler((_request, reply) => {
    void reply.code(404).send(errorBody(404, 'not-found', 'no such route'));
  });

  app.post('/v1/verify', {
    onRequest: authenticate,
    schema: { body: verifyBodySchema(opts.maxBatch) },
  }, async (request, reply) => {
    const body = request.body as VerifyBody;
    const batch = 'items' in body;
    const items: Item[] = batch ? body.items : [body];
    // For the access log line only: a property added to every request costs an allocation.
    if (opts.accessLog) (request as { batch?: number }).batch = items.length;
    metrics.batchSize.observe(items.length);
    // A single item goes through verify(), which coalesces the single items of concurrent
    // requests into shared batches (one store round trip for all of them); a batch is one already.
    const results = batch
      ? await engine.verifier.verifyBatch(items as VerifyRequest[])
      : [await engine.verifier.verify(body as VerifyRequest)];
    countResults(results);
    // Results are matched to items by position (SECURITY.md R12). Nothing of the request is
    // echoed: not the secret or the code, and not the account either (it would double the
    // response for a client that already holds its batch in order). Serialised from fragments
    // made once (serialize.ts); what they do not cover, by fast-json-stringify from the
    // response schemas (compiled once per route, then cached), the reference for the same text.
    reply.type('application/json; charset=utf-8');
    const text = batch ? batchAnswer(results) : singleAnswer(results[0]!);
    if (text !== undefined) return text;
    const serialize = reply.compileSerializationSchema(batch ? batchResponseSchema : resultSchema) as (value: unknown) => string;
    return serialize(batch ? { results } : results[0]);
  });

  // One counter update per status present (each prom-client update builds its labels' key).
  const tally: Record<VerifyStatus, number> = { valid: 0, invalid: 0, replayed: 0, locked: 0, malformed: 0, error: 0 };
  const statuses = Object.keys(tally) as VerifyStatus[];
  function countResults(results: readonly VerifyResult[]): void {
    let storeErrors = 0;
    for (const r of results) {
      tally[r.status]++;
      if (r.status === 'error' && r.reason === 'store') storeErrors++;
    }
    for (const status of statuses) {
      const n = tally[status];
      if (n === 0) continue;
      tally[status] = 0;
      metrics.verifications.inc({ status }, n);
    }
    if (storeErrors > 0) {
      metrics.storeErrors.inc({ source: 'verify' }, storeErrors);
      // The store is probed at once, and readiness goes red only if the probe fails: items also
      // fail on a store that answers (a full in-memory store refuses new accounts and serves the
      // ones it holds), and red readiness would take the server out of its load balancer.
      void probeStore();
    }
  }

  app.get('/v1/clock', { onRequest: authenticate }, async (_request, reply) => {
    const clock = engine.clock();
    if (clock === undefined) {
      return reply.code(501).send(errorBody(501, 'not-available', 'this verifier keeps no clock-health estimate'));
    }
    return clock;
  });

  app.get('/metrics', { onRequest: authenticate }, async (_request, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  // One probe at a time: /healthz is open, so callers that come while one runs share it (no
  // store script per unauthenticated request), and an older probe cannot land after a newer one.
  let probing: Promise<boolean> | undefined;
  function probeStore(): Promise<boolean> {
    probing ??= runProbe().finally(() => { probing = undefined; });
    return probing;
  }

  async function runProbe(): Promise<boolean> {
    try {
      await withTimeout(engine.storeHealth(), probeTimeout);
      if (!storeUp) logger.info('store reachable again');
      storeUp = true;
    } catch (error) {
      storeDown((error as { code?: unknown } | null)?.code);
      metrics.storeErrors.inc({ source: 'probe' });
    }
    return storeUp;
  }

  function storeDown(errorCode: unknown): void {
    if (storeUp) logger.warn({ errorCode }, 'store unavailable');
    storeUp = false;
  }

  app.get('/healthz', async (_request, reply) => {
    let engineOk = true;
    try {
      engineSelfTest();
    } catch {
      engineOk = false;
    }
    const storeOk = await probeStore();
    const ok = engineOk && storeOk;
    return reply.code(ok ? 200 : 503).send({
      status: ok ? 'ok' : 'fail',
      engine: engineOk ? 'ok' : 'fail',
      store: storeOk ? 'ok' : 'fail',
    });
  });

  app.get('/readyz', async (_request, reply) => {
    const status = draining ? 'draining' : storeUp ? 'ready' : 'store-unavailable';
    return reply.code(status === 'ready' ? 200 : 503).send({ status });
  });

  const stopProbes = (): void => {
    clearInterval(probeTimer);
    probeTimer = undefined;
  };

  // What outlives a request is taken last, once nothing above can throw (fastify throws on an
  // unusable TLS key): a buildService that throws holds nothing. close() lets go of all of it.
  // Lines are flushed at least every second (pino's own destination only; a stream given in
  // the options is the caller's).
  const flushTimer = opts.logStream === undefined ? setInterval(() => logger.flush(), 1000).unref() : undefined;
  let onAudit: ((message: unknown) => void) | undefined;
  if (opts.auditLog) {
    // One line per stateful item: who, what outcome, which step offset. The audit event carries
    // no code and no secret (policy/audit.ts); the verifier publishes it after deciding.
    const audit = logger.child({ audit: true });
    onAudit = (message: unknown): void => {
      const e = message as AuditEvent;
      audit.info({ type: e.type, account: e.account, delta: e.delta, reason: e.reason, lockedNow: e.lockedNow, retryAfterMs: e.retryAfterMs }, 'audit');
    };
    diagnostics_channel.subscribe(AUDIT_CHANNEL, onAudit);
  }

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => closing ??= (async () => {
    try {
      await app.close();
    } finally {
      stopProbes();
      try {
        await engine.close();
      } finally {
        // After the engine: items still being decided when the connections were cut (drain
        // timeout) are answered by engine.close(), and their audit events still get their lines.
        if (onAudit !== undefined) diagnostics_channel.unsubscribe(AUDIT_CHANNEL, onAudit);
        clearInterval(flushTimer);
        logger.flush();
      }
    }
  })();

  return {
    app,
    engine,
    metrics,
    logger,
    ready: () => !draining && storeUp,
    startDraining: () => { draining = true; },
    waitForStore: async (ms) => {
      const deadline = Date.now() + ms;
      for (;;) {
        if (await probeStore()) return true;
        if (Date.now() >= deadline) return false;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    startProbes: () => {
      if (probeTimer !== undefined) return;
      probeTimer = setInterval(() => { void probeStore(); }, opts.healthIntervalMs);
      probeTimer.unref();
    },
    stopProbes,
    close,
  };
}
