// Running the service: listen, probe the store, and on SIGTERM/SIGINT drain. Draining means:
// /readyz turns red (and every response carries `Connection: close`); after `drainDelayMs`
// (default 0; time for a load balancer to notice), new connections are refused, requests in
// flight are answered, then the verifier's pool and the store are closed.
// Connections still busy after `drainTimeoutMs` are cut, so a stuck client cannot hold the
// process forever.

import type { AddressInfo } from 'node:net';
import { buildService, type Service } from './app.js';
import { createEngine } from './engine.js';
import { type ResolvedServerOptions, resolveServerOptions, type ServerOptions } from './options.js';

export interface RunningServer {
  readonly service: Service;
  /** e.g. http://127.0.0.1:8740 */
  readonly url: string;
  readonly port: number;
  /** Drains and closes (idempotent); resolves when everything is closed. */
  close(): Promise<void>;
}

/** The verifier's pool is only used for batches of `inlineThreshold` items or more (16,384 by default). */
function verifierOptions(opts: ResolvedServerOptions): ResolvedServerOptions['verifier'] {
  const v = opts.verifier;
  if (v.threads !== undefined) return v;
  // Below the threshold every batch runs on the event loop thread: idle workers would only cost memory.
  const threshold = v.inlineThreshold ?? 16_384;
  return opts.maxBatch < threshold ? { ...v, threads: 0 } : v;
}

/** Validates the options, starts the engine and listens. */
export async function startServer(input: ServerOptions): Promise<RunningServer> {
  const opts = resolveServerOptions(input);
  const engine = await createEngine({
    redisUrl: opts.redisUrl, redisPrefix: opts.redisPrefix, maxCredentials: opts.maxCredentials, preTouch: opts.preTouch,
    verifier: verifierOptions(opts), policy: opts.policy,
  });
  let service: Service;
  try {
    service = buildService(opts, engine);
  } catch (error) {
    await engine.close(); // buildService holds nothing when it throws
    throw error;
  }
  try {
    // A store that is down at start is not fatal (the server recovers by itself), but give a
    // Redis connection a moment to open so that the first requests do not fail for nothing.
    await service.waitForStore(Math.min(2000, opts.healthIntervalMs * 2));
    await service.app.listen({ host: opts.host, port: opts.port });
  } catch (error) {
    // The way a running service ends, so that nothing it took (engine, audit subscription,
    // timers) outlives the failed start. The start's error is the one to report.
    await service.close().catch((closeError: unknown) => {
      service.logger.error({ errorType: (closeError as Error | null)?.name }, 'close after a failed start failed');
    });
    throw error;
  }
  const { app, logger } = service;
  app.server.maxConnections = opts.maxConnections;
  service.startProbes();
  const address = app.server.address() as AddressInfo;
  const scheme = opts.tls === undefined ? 'http' : 'https';
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      service.startDraining();
      logger.info({ drainDelayMs: opts.drainDelayMs, drainTimeoutMs: opts.drainTimeoutMs }, 'draining');
      // Still listening and answering meanwhile, /readyz red: a load balancer that probes it
      // stops sending new connections before they would be refused.
      if (opts.drainDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, opts.drainDelayMs));
      const cut = setTimeout(() => {
        logger.warn('drain timeout: closing the remaining connections');
        app.server.closeAllConnections();
      }, opts.drainTimeoutMs);
      // The drain is over when the last connection has gone (the engine closes after that).
      app.server.once('close', () => clearTimeout(cut));
      try {
        await service.close();
      } finally {
        clearTimeout(cut);
        logger.info('closed');
        logger.flush();
      }
    })();
    return closing;
  };
  return { service, url: `${scheme}://${host}:${address.port}`, port: address.port, close };
}
