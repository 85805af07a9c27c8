// Memory per key: 1,000,000 imported key handles, and 1,000,000 base32 secrets in the key
// cache. What is measured is what the verifier adds (heap + array buffers, after full GCs);
// the secrets themselves are made first and kept alive, as a caller would hold them.
//
// Issue 3: 1M keys must fit in 100 MB.
//
// Run: node --expose-gc --import tsx bench/key-memory.ts [handles|cache]
// (each mode in its own process, so that one does not inherit the other's garbage)

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { base32, TotpVerifier } from '../dist/index.js';
import { formatMachine, machineInfo } from '../dist/bench/machine.js';
import { table } from '../dist/bench/report.js';

const N = 1_000_000;
const gc = (globalThis as { gc?: () => void }).gc;

async function measure(mode: 'handles' | 'cache'): Promise<void> {
  if (gc === undefined) throw new Error('run with node --expose-gc');
  const v = await TotpVerifier.create({ threads: 0, keyCacheSize: mode === 'cache' ? N : 0 });
  const raw = randomBytes(20 * N);
  const secrets = Array.from({ length: N }, (_, i) => raw.subarray(20 * i, 20 * i + 20));
  const texts = mode === 'cache' ? secrets.map((s) => base32.encode(s)) : [];
  gc(); gc();
  const before = process.memoryUsage();
  const started = performance.now();
  let keep: unknown;
  if (mode === 'handles') {
    keep = v.importKeys(secrets);
  } else {
    for (let i = 0; i < N; i += 10_000) {
      await v.verifyBatch(texts.slice(i, i + 10_000).map((secret) => ({ secret, code: '000000', timestamp: 1_700_000_000_000 })));
    }
  }
  const seconds = (performance.now() - started) / 1000;
  gc(); gc();
  const after = process.memoryUsage();
  const heap = after.heapUsed - before.heapUsed;
  const buffers = after.arrayBuffers - before.arrayBuffers;
  const stats = v.stats();
  const held = mode === 'handles' ? stats.keyHandles : stats.keyCache.size;
  if (held !== N) throw new Error(`${mode}: ${held} keys held, expected ${N}`);
  process.stdout.write(JSON.stringify({ mode, keys: N, heap, buffers, seconds }) + '\n');
  void keep;
  await v.close();
}

const mode = process.argv[2];
if (mode === 'handles' || mode === 'cache') {
  await measure(mode);
} else {
  const self = fileURLToPath(import.meta.url);
  const rows: string[][] = [];
  for (const m of ['handles', 'cache']) {
    const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', self, m], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${m}: ${r.stderr}`);
    const { heap, buffers, seconds } = JSON.parse(r.stdout.trim()) as { heap: number; buffers: number; seconds: number };
    const total = heap + buffers;
    rows.push([m, (total / 1e6).toFixed(1) + ' MB', (total / N).toFixed(1), (heap / N).toFixed(1), (buffers / N).toFixed(1),
      seconds.toFixed(1) + ' s', total <= 100e6 ? 'PASS' : 'MISS']);
  }
  process.stdout.write(formatMachine(machineInfo()) + '\n\n');
  process.stdout.write(table(['1,000,000 keys', 'added', 'bytes/key', 'heap/key', 'buffers/key', 'time', '≤ 100 MB'], rows, [1, 2, 3, 4, 5]) + '\n');
  process.stdout.write('handles: the caller keeps the array of handles (counted). cache: the base32 texts are the caller\'s\n' +
    '(not counted); a cache that outlives them also keeps each text, about 48 bytes for 32 characters.\n');
}
