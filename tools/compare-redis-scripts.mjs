// Compares the RedisStore scripts of two builds of this package on one Redis: per call, 1,000
// accounts never seen before are begun and then finished (all successes, or all failures), with
// build A's scripts and build B's in turn; prints the medians of Redis's own time per account
// (INFO commandstats, evalsha usec, read around each call) and of the round trip as the client
// sees it. The Redis is shared: other clients' EVALSHA calls in between would be counted, so run
// it under the bench lock and read medians, not means.
//
//   npm run build && flock /work/bench.lock node tools/compare-redis-scripts.mjs A B
//
// A and B are package roots with dist/ (another worktree of this repository, built); this
// package's own dist/ is used too (deleteKeys). CALLS
// (default 40) per build and outcome; REDIS_URL (default redis://127.0.0.1:6379). Keys go under
// a prefix of this process's own and are deleted at the end.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import { deleteKeys } from '../dist/bench/redis.js';

if (process.argv.length !== 4) {
  console.error('usage: node tools/compare-redis-scripts.mjs A B   (package roots, built)');
  process.exit(2);
}
const N = 1000;
const CALLS = Number(process.env.CALLS ?? 40);
const prefix = `totp-fleet-scripts:${process.pid}:`;
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const redis = new Redis(url);
// begin: maxFailures, reservationMs, lockoutMs, replayMs (a build that takes three ignores the
// fourth); finish: maxFailures, lockoutMs, failureMemoryMs, replayMs, driftMemoryMs, then the ops.
const BEGIN_ARGS = ['10', '60000', '900000', '420000'];
const FINISH_ARGS = ['10', '900000', '420000', '420000', '2592000000'];
const evalshaUsec = async () => Number(/cmdstat_evalsha:calls=\d+,usec=(\d+)/.exec(await redis.info('commandstats'))?.[1] ?? 0);
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];

const builds = [];
for (const [name, root] of [['A', process.argv[2]], ['B', process.argv[3]]]) {
  const { BEGIN, FINISH } = await import(`${pathToFileURL(resolve(root)).href}/dist/store/scripts.js`);
  builds.push({ name, begin: await redis.script('LOAD', BEGIN), finish: await redis.script('LOAD', FINISH), t: {} });
}
let generation = 0;
/** Runs one script call; records Redis's time and the round trip per account under `label`. */
async function timed(b, label, sha, keys, args) {
  const u0 = await evalshaUsec();
  const t0 = performance.now();
  const answer = await redis.evalshaBuffer(sha, keys.length, ...keys, ...args);
  const rt = ((performance.now() - t0) * 1000) / keys.length;
  const server = ((await evalshaUsec()) - u0) / keys.length;
  (b.t[label] ??= { server: [], rt: [] }).server.push(server);
  b.t[label].rt.push(rt);
  return answer;
}
try {
  for (let c = 0; c < CALLS; c++) {
    for (const op of [0, 1]) {
      for (const b of builds) {
        const keys = Array.from({ length: N }, (_, i) => `${prefix}{cred:${++generation}:${i}}`);
        await timed(b, 'begin', b.begin, keys, BEGIN_ARGS);
        const ops = Buffer.alloc(17 * N);
        for (let i = 0; i < N; i++) {
          ops[17 * i] = op;
          ops.writeDoubleLE(1000 + i, 17 * i + 1);
          ops.writeDoubleLE(Number.NaN, 17 * i + 9);
        }
        const done = await timed(b, op === 0 ? 'finish, success' : 'finish, failure', b.finish, keys, [...FINISH_ARGS, ops]);
        if (done[0] !== (op === 0 ? 0 : 2)) throw new Error(`build ${b.name}: finish answered ${done[0]}`);
      }
    }
  }
  for (const label of ['begin', 'finish, success', 'finish, failure']) {
    const line = builds.map((b) => `${b.name} ${median(b.t[label].server).toFixed(2)} µs (round trip ${median(b.t[label].rt).toFixed(2)})`);
    console.log(`${label.padEnd(16)} Redis time per account: ${line.join(', ')}`);
  }
} finally {
  redis.disconnect();
  await deleteKeys(prefix, url);
}
