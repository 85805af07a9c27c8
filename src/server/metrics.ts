// Prometheus metrics (prom-client) on a registry of this server's own (not the global one, so
// two servers in one process, or a host application's metrics, do not collide). Labels are
// bounded sets (status, route, outcome): never an account, a secret or a code.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { VerifierStats } from '../verifier.js';

/** What the collectors read when Prometheus scrapes. */
export interface MetricsSources {
  stats(): VerifierStats;
  storeUp(): boolean;
  clock(): { status: string; offsetSeconds: number; stderrSeconds: number; samples: number } | undefined;
}

const CLOCK_STATUSES = ['ok', 'insufficient-data', 'server-ahead', 'server-behind'] as const;

export class ServerMetrics {
  readonly registry = new Registry();
  readonly verifications: Counter<'status'>;
  readonly batchSize: Histogram;
  readonly requestSeconds: Histogram<'route' | 'status_code'>;
  readonly authFailures: Counter<'reason'>;
  readonly clientErrors: Counter<'status_code'>;
  readonly storeErrors: Counter<'source'>;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'totp_fleet_' });
    this.verifications = new Counter({
      name: 'totp_fleet_verifications_total',
      help: 'Verified items by result status',
      labelNames: ['status'],
      registers,
    });
    this.batchSize = new Histogram({
      name: 'totp_fleet_verify_batch_size',
      help: 'Items per POST /v1/verify request',
      buckets: [1, 2, 5, 10, 50, 100, 500, 1000, 5000, 10_000, 100_000],
      registers,
    });
    this.requestSeconds = new Histogram({
      name: 'totp_fleet_http_request_duration_seconds',
      help: 'HTTP request latency, from the request being read to the response being written',
      labelNames: ['route', 'status_code'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    });
    this.authFailures = new Counter({
      name: 'totp_fleet_http_auth_failures_total',
      help: 'Requests refused for a missing or wrong bearer token',
      labelNames: ['reason'],
      registers,
    });
    this.clientErrors = new Counter({
      name: 'totp_fleet_http_client_errors_total',
      help: 'Requests answered before they reached a route: refused by the HTTP parser (400, 431) or not sent whole in time (408)',
      labelNames: ['status_code'],
      registers,
    });
    this.storeErrors = new Counter({
      name: 'totp_fleet_store_errors_total',
      help: "Store failures: items answered 'error' (reason 'store') and failed health probes",
      labelNames: ['source'],
      registers,
    });
    new Gauge({
      name: 'totp_fleet_store_up',
      help: '1 when the last store health probe (a store script) succeeded',
      registers,
      collect() { this.set(sources.storeUp() ? 1 : 0); },
    });
    new Gauge({
      name: 'totp_fleet_pool_queue_depth',
      help: 'Items admitted to the verifier and not yet answered, plus single calls waiting to be batched',
      registers,
      collect() {
        const s = sources.stats();
        this.set(s.pool.inFlight + s.batcher.queued);
      },
    });
    new Gauge({
      name: 'totp_fleet_pool_threads',
      help: 'Worker threads of the verifier (0: everything on the event loop thread)',
      registers,
      collect() { this.set(sources.stats().pool.threads); },
    });
    // Counters kept by the verifier: exposed as counters that follow its totals.
    const followed: [string, string, (s: VerifierStats) => number][] = [
      ['totp_fleet_worker_restarts_total', 'Worker threads that died or missed a deadline and were replaced', (s) => s.pool.workerFailures],
      ['totp_fleet_pool_chunks_retried_total', 'Chunks re-run after their worker failed', (s) => s.pool.chunksRetried],
      ['totp_fleet_pool_chunks_failed_total', "Chunks that failed twice (their items answered 'error')", (s) => s.pool.chunksFailed],
      ['totp_fleet_batcher_batches_total', 'Batches formed from single-item requests (fewer than those requests: they were coalesced)', (s) => s.batcher.batches],
      ['totp_fleet_lockouts_total', 'Failures that reached the limit and locked an account', (s) => s.policy.lockouts],
      ['totp_fleet_key_cache_hits_total', 'Base32 secrets found in the key cache', (s) => s.keyCache.hits],
      ['totp_fleet_key_cache_misses_total', 'Base32 secrets derived because they were not cached', (s) => s.keyCache.misses],
    ];
    for (const [name, help, read] of followed) {
      let seen = 0;
      new Counter({
        name, help, registers,
        collect() {
          const now = read(sources.stats());
          if (now > seen) this.inc(now - seen);
          seen = now;
        },
      });
    }
    new Gauge({
      name: 'totp_fleet_clock_offset_seconds',
      help: "Mean of (users' phones - this server's clock) over recent matches; negative: the server is ahead",
      registers,
      collect() { this.set(sources.clock()?.offsetSeconds ?? 0); },
    });
    new Gauge({
      name: 'totp_fleet_clock_offset_stderr_seconds',
      help: 'Standard error of the clock offset estimate',
      registers,
      collect() { this.set(sources.clock()?.stderrSeconds ?? 0); },
    });
    new Gauge({
      name: 'totp_fleet_clock_samples',
      help: 'Accepted codes the clock estimate is based on',
      registers,
      collect() { this.set(sources.clock()?.samples ?? 0); },
    });
    new Gauge({
      name: 'totp_fleet_clock_status',
      help: 'Clock health: 1 for the current status',
      labelNames: ['status'],
      registers,
      collect() {
        const status = sources.clock()?.status;
        for (const s of CLOCK_STATUSES) this.set({ status: s }, s === status ? 1 : 0);
      },
    });
  }
}
