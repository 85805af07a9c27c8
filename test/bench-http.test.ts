// The "http" suite of `totp-fleet bench` end to end, on a tiny budget: it starts `serve` (and
// the empty-route baseline) as child processes, loads them with autocannon, records figures,
// ratios and latency levels the report, compare and the chart read, stops the servers, and
// leaves no Redis keys behind. It measures nothing worth quoting; --plan must not plan from it.

import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { generateToken, pacedLoad, requestBodies, serverFaults, startServe } from '../src/bench/http-load.js';
import type { LoadFigure } from '../src/bench/load.js';
import { machineInfo } from '../src/bench/machine.js';
import { planCapacity } from '../src/bench/plan.js';
import { PROFILES } from '../src/bench/profiles.js';
import { createProgress } from '../src/bench/progress.js';
import { parseReport } from '../src/bench/report-file.js';
import { Report } from '../src/bench/report.js';
import { runSuites } from '../src/bench/run.js';
import { floorChecks, P99_TARGET } from '../src/bench/suites/http.js';
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
    // The empty route under the same paced load before the servers at each rate, and again right
    // after the in-memory server at 5,000/s: the floor printed beside serve's p99 there.
    const empty = "HTTP single item, empty fastify route (reference: the machine's floor)";
    const served = (s: string): string => `HTTP single item, serve, ${s === 'memory' ? 'in-memory store' : 'RedisStore (local Redis)'}`;
    expect(report.loads.map((l) => `${l.config} ${l.offered}`)).toEqual([1000, 5000].flatMap((r) => [
      `${empty} ${r}`, ...servers.flatMap((s) => [`${served(s)} ${r}`, ...(s === 'memory' && r === 5000 ? [`${empty}, again right after serve ${r}`] : [])]),
    ]));
    for (const l of report.loads) expect(l.p99).toBeGreaterThan(0);
    expect(new Set(report.loads.map((l) => l.seconds)).size).toBe(1);
    const floor = report.checks.find((c) => c.label.startsWith('floor: empty fastify route, p99 at 5,000/s'))!;
    expect(floor.from).toEqual(['http/baseline/5000', 'http/baseline/5000/after']);
    expect(report.checksTable('http')).toMatch(/floor: empty fastify route, p99 at 5,000\/s .*≤ 10\.00 ms\s+(within reach|OUT OF REACH)$/m);
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

  it("prints beside serve's p99 at 5,000/s the empty route's in the same run, before and after it, as a floor not counted", () => {
    const at = (id: string, offered: number, p99ms: number): LoadFigure => ({
      id, scenario: 'http', config: id, threads: 0, offered, achieved: offered, requests: offered, seconds: 2, invalidShare: 0,
      p50: 1500, p90: 3000, p99: p99ms * 1000, max: p99ms * 2000, saturated: false,
    });
    const run = (floor: [number, number]): Report => {
      const report = new Report(machineInfo(), 'test', PROFILES.quick!.budget);
      // The suite's order; the other rates' and the other server's p99s must not be taken.
      floorChecks(report, [
        at('http/baseline/1000', 1000, 3), at('http/memory/1000', 1000, 30), at('http/redis/1000', 1000, 40),
        at('http/baseline/5000', 5000, floor[0]), at('http/memory/5000', 5000, 12), at('http/baseline/5000/after', 5000, floor[1]),
        at('http/redis/5000', 5000, 50),
      ]);
      return report;
    };
    const near = run([7, 12]);
    const [serve, floor] = near.checks;
    expect(serve).toMatchObject({ unit: 'latency', measured: 12_000, target: P99_TARGET, pass: false, from: ['http/memory/5000'] });
    expect(serve!.bound).toBeUndefined();
    expect(floor).toMatchObject({ unit: 'latency', measured: 9_500, low: 7_000, high: 12_000, target: P99_TARGET, bound: true, pass: undefined });
    expect(floor!.from).toEqual(['http/baseline/5000', 'http/baseline/5000/after']);
    const lines = near.checksTable('http').split('\n');
    expect(lines[2]).toMatch(/^serve, in-memory store: p99 of single items at 5,000\/s offered\s+12\.00 ms.*≤ 10\.00 ms\s+MISS$/);
    expect(lines[3]).toMatch(/^floor: empty fastify route, p99 at 5,000\/s in the same run \(median of 2 loads, before and after serve\)\s+9\.50 ms\s+7\.00 ms – 12\.00 ms\s+≤ 10\.00 ms\s+within reach$/);
    expect(near.summary()).toContain('0 of 1 targets met');
    expect(run([9, 13]).checksTable('http')).toMatch(/floor: .*11\.00 ms\s+9\.00 ms – 13\.00 ms\s+≤ 10\.00 ms\s+OUT OF REACH$/m);
    // Nothing to set a floor beside without both (a run cut short): no line rather than a wrong one.
    const none = new Report(machineInfo(), 'test', PROFILES.quick!.budget);
    floorChecks(none, [at('http/baseline/1000', 1000, 3), at('http/memory/1000', 1000, 5), at('http/baseline/5000', 5000, 5)]);
    expect(none.checks).toEqual([]);
  });

  it('refuses a load whose items the server answered malformed (bodies older than its timestamp bound), and not a fresh one', async () => {
    const token = generateToken();
    const server = await startServe({ token });
    try {
      const load = (made: number) => pacedLoad({
        url: server.url, token, bodies: requestBodies('stale', 1, 20, made), batch: 1, connections: 2, seconds: 0.2, rate: 50,
        warmupSeconds: 0, counters: true, pid: server.pid,
      });
      const fresh = await load(Date.now());
      expect(fresh.statuses.valid).toBeGreaterThan(0);
      expect(fresh.statuses.malformed).toBeUndefined();
      // Made 6 minutes ago: past serve's default --timestamp-skew-ms (5 minutes).
      await expect(load(Date.now() - 6 * 60_000)).rejects.toThrow(/answered \d+ items of the load 'malformed'/);
    } finally {
      await server.stop();
    }
  });

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
