// The "http" suite of `totp-fleet bench` end to end, on a tiny budget: it starts `serve` (and
// the empty-route baseline) as child processes, loads them with autocannon, records figures,
// ratios and latency levels the report, compare and the chart read, stops the servers, and
// leaves no Redis keys behind. It measures nothing worth quoting; --plan must not plan from it.

import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { serverFaults } from '../src/bench/http-load.js';
import { planCapacity } from '../src/bench/plan.js';
import { PROFILES } from '../src/bench/profiles.js';
import { createProgress } from '../src/bench/progress.js';
import { parseReport } from '../src/bench/report-file.js';
import { runSuites } from '../src/bench/run.js';
import { haveRedis, REDIS_URL } from './helpers/redis.js';

describe('bench suite "http"', () => {
  it('measures serve over loopback: throughput in rounds beside its baseline, latency at offered rates', async () => {
    const redis = await haveRedis('bench suite "http" with RedisStore');
    const profile = {
      ...PROFILES.quick!, name: 'test', seconds: { http: 4 }, loadSeconds: 0.25,
      budget: { ...PROFILES.quick!.budget, rounds: 2, minRounds: 2 },
    };
    const report = await runSuites({ profile, only: ['http'], progress: createProgress(process.stderr, true) });
    const ids = report.figures.map((f) => f.id);
    const servers = redis ? ['memory', 'redis'] : ['memory'];
    expect(ids).toEqual(['http/baseline/single', 'http/baseline/batch1000', ...servers.flatMap((s) => ['single', 'batch100', 'batch1000'].map((k) => `http/${s}/${k}`))]);
    for (const f of report.figures) {
      expect(f.roundIndex).toEqual([0, 1]);
      expect(f.median).toBeGreaterThan(0);
      expect(f.reference).toBe(f.id.startsWith('http/baseline/'));
    }
    expect(report.figures.find((f) => f.id === 'http/memory/batch1000')!.items).toBe(1000);
    expect(report.checks.map((c) => c.label)).toContain('serve, in-memory store: single item ÷ empty fastify route');
    expect(report.checks.map((c) => c.label)).toContain('serve, in-memory store: batches of 1,000 ÷ empty fastify route with the same bodies');
    expect(report.loads.map((l) => `${l.config} ${l.offered}`)).toEqual(servers.flatMap((s) => [1000, 5000].map((r) =>
      `HTTP single item, serve, ${s === 'memory' ? 'in-memory store' : 'RedisStore (local Redis)'} ${r}`)));
    for (const l of report.loads) expect(l.p99).toBeGreaterThan(0);
    expect(report.notes.some((n) => /server CPU [\d.]+ µs per item, median of 2 rounds \(rounds [\d.]+-[\d.]+\)/.test(n.text))).toBe(true);
    // Linux: the server's page faults beside its CPU time (how much the store's growth took).
    if (process.platform === 'linux') expect(report.notes.some((n) => /[\d.]+ page faults per item/.test(n.text))).toBe(true);
    if (!redis) expect(report.notes.some((n) => /RedisStore skipped/.test(n.text))).toBe(true);
    // The HTTP loads are for reading, not for --plan, which plans the in-process verifier.
    const data = parseReport(JSON.parse(JSON.stringify(report)), 'http');
    expect(() => planCapacity(data, { rate: 1000, p99: 5000, headroom: 0.3 })).toThrow(/no latency-under-load figures/);
    if (redis) {
      const client = new Redis(REDIS_URL);
      try {
        expect(await client.keys(`totp-fleet-bench-http:${process.pid}:*`)).toEqual([]);
      } finally {
        client.disconnect();
      }
    }
  }, 120_000);

  it("reads a process's page faults from /proc, NaN where it cannot", () => {
    if (process.platform === 'linux') {
      const before = serverFaults(process.pid);
      expect(before).toBeGreaterThan(0);
      // 64 MiB (above malloc's largest mmap threshold: fresh pages from the kernel) touched page
      // by page: each 4 KiB page a fault, or each 2 MiB one where transparent huge pages are on.
      const touched = Buffer.allocUnsafeSlow(64 << 20);
      for (let i = 0; i < touched.length; i += 4096) touched[i] = 1;
      expect(serverFaults(process.pid) - before).toBeGreaterThanOrEqual(32);
    }
    expect(serverFaults(undefined)).toBeNaN();
    expect(serverFaults(2 ** 30)).toBeNaN(); // no such process
  });
});
