// A batch that names one account N times (verifier.ts: each repeat runs in a later round): the
// time of one verifyBatch of N requests of one account (its right code at the 11th, then wrong
// codes and repeats of the right one), on a MemoryStore, inline and on 2 workers
// (inlineThreshold 0). Each measurement runs in a child process of its own, so that a build that
// overflows its stack or its heap is reported as such, not the end of the run.
//
//   npm run build && flock /work/bench.lock node --import tsx bench/rounds.ts [--sizes 1000,4000,20000] [--repeat 3] [ROOT ...]
//
// ROOT: a package root with dist/ built (default: this one); several are measured side by side,
// alternately, e.g. `bench/rounds.ts /work/main .`. A figure is the median of --repeat runs.

import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  options: {
    sizes: { type: 'string' }, repeat: { type: 'string' }, child: { type: 'string' }, timeout: { type: 'string' },
  },
  allowPositionals: true,
});

/** One measurement, in this (child) process: prints its time in ms, or what went wrong. */
async function child(root: string, n: number, threads: number): Promise<void> {
  const dist = `${pathToFileURL(resolve(root)).href}/dist`;
  const { MemoryStore, TotpVerifier, totp } = await import(`${dist}/index.js`);
  const key = new Uint8Array(20).map((_, i) => i * 7 + 1);
  const now = 1_700_000_010_000;
  const right = totp.generate(key, { timestamp: now });
  const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, '0');
  const requests = Array.from({ length: n }, (_, i) => ({
    account: 'solo', secret: key, timestamp: now, code: i === 10 || i % 7 === 3 ? right : wrong,
  }));
  const store = new MemoryStore({ now: () => now });
  const v = await TotpVerifier.create({ threads, inlineThreshold: 0, store, now: () => now, policy: { maxFailures: 100 } });
  // Warm-up: the JIT and the workers.
  await v.verifyBatch(requests.slice(0, 100).map((r) => ({ ...r, account: 'warm' })));
  const t0 = performance.now();
  try {
    const results = await v.verifyBatch(requests);
    const ms = performance.now() - t0;
    const valid = results.filter((r: { status: string }) => r.status === 'valid').length;
    console.log(JSON.stringify({ ms, valid }));
  } catch (error) {
    console.log(JSON.stringify({ ms: performance.now() - t0, error: (error as Error).name + ': ' + (error as Error).message }));
  }
  await v.close();
}

if (values.child !== undefined) {
  const [root, n, threads] = values.child.split(',');
  await child(root!, Number(n), Number(threads));
} else {
  const sizes = (values.sizes ?? '1000,4000,20000').split(',').map(Number);
  const repeat = Number(values.repeat ?? 3);
  const timeoutMs = Number(values.timeout ?? 120_000);
  const roots = positionals.length > 0 ? positionals : ['.'];
  const self = fileURLToPath(import.meta.url);
  const median = (a: number[]): number => [...a].sort((p, q) => p - q)[a.length >> 1]!;
  for (const threads of [0, 2]) {
    for (const n of sizes) {
      const figures = new Map<string, { ms: number[]; fault?: string }>(roots.map((r) => [r, { ms: [] }]));
      for (let k = 0; k < repeat; k++) {
        for (const root of roots) {
          const f = figures.get(root)!;
          if (f.fault !== undefined) continue;
          try {
            const out = execFileSync(process.execPath, ['--import', 'tsx', self, '--child', `${root},${n},${threads}`], {
              timeout: timeoutMs, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
            });
            const line = JSON.parse(out.trim().split('\n').at(-1)!) as { ms: number; valid?: number; error?: string };
            if (line.error !== undefined) f.fault = `${line.error} (after ${line.ms.toFixed(0)} ms)`;
            else f.ms.push(line.ms);
          } catch (error) {
            const e = error as { signal?: string; stderr?: string; status?: number };
            const why = e.signal === 'SIGTERM' ? `no answer in ${timeoutMs} ms`
              : /heap out of memory/.test(e.stderr ?? '') ? 'the process ran out of heap' : `exit ${e.status ?? e.signal}`;
            f.fault = why;
          }
        }
      }
      for (const root of roots) {
        const f = figures.get(root)!;
        const what = f.fault ?? `${median(f.ms).toFixed(1)} ms (median of ${f.ms.length}: ${f.ms.map((m) => m.toFixed(1)).join(', ')})`;
        console.log(`${threads === 0 ? 'inline ' : 'pool(2)'}  N=${String(n).padEnd(6)} ${root.padEnd(22)} ${what}`);
      }
    }
  }
}
