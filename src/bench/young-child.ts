// The batcher suite's scenario in a child process with a larger young generation (node
// --max-semi-space-size=N, a deployment setting for servers holding ~100k calls at once), run
// on request so that the suite times each call from its own rounds, beside the same calls in
// its own process (the IPC round trip, ~0.1 ms, is under 0.5 % of a 100k-call task).
//
// The parent (startYoungChild) sends the verifier options by key; the child makes the same
// requests from the fixtures (valid codes, base32 secrets), checks every answer once, and
// answers "ready". Then each message names a task (`verify/<config>/valid`, `floor/async`,
// `floor/coalescer`), which the child runs `repeat` times, one after the other, and it replies
// with the count (valid results, or answers of the floor), which the parent checks.

import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { TotpVerifier, type VerifierOptions } from '../index.js';
import { assertResults, countValid, makeRequests } from './facade.js';
import { fixtures } from './fixtures.js';
import { asyncFloor, coalescerFloor } from './floor.js';

interface Init {
  readonly n: number;
  /** Each task runs the n calls this many times, one after the other (see the suite). */
  readonly repeat: number;
  readonly configs: readonly { readonly key: string; readonly opts: VerifierOptions }[];
}

/** The child's side: make the verifiers and tasks, then answer task messages. */
async function serve(init: Init): Promise<void> {
  const fx = fixtures();
  const tasks = new Map<string, () => Promise<number>>();
  const items = makeRequests(fx, 'valid', 'base32', init.n);
  const verifiers: TotpVerifier[] = [];
  for (const { key, opts } of init.configs) {
    const v = await TotpVerifier.create(opts);
    verifiers.push(v);
    assertResults(`young/${key}`, await Promise.all(items.map((r) => v.verify(r))), 'valid', fx);
    tasks.set(`verify/${key}/valid`, async () => countValid(await Promise.all(items.map((r) => v.verify(r)))));
  }
  tasks.set('floor/async', () => asyncFloor(items));
  tasks.set('floor/coalescer', () => coalescerFloor(items));
  process.on('message', (task: string) => {
    const run = tasks.get(task);
    if (run === undefined) {
      process.send!({ error: `no task ${task}` });
      return;
    }
    const repeated = async (): Promise<number> => {
      let count = 0;
      for (let r = 0; r < init.repeat; r++) count += await run();
      return count;
    };
    repeated().then((count) => process.send!({ count }), (error: unknown) => process.send!({ error: String(error) }));
  });
  process.once('disconnect', () => {
    void Promise.all(verifiers.map((v) => v.close())).then(() => process.exit(0));
  });
  process.send!({ ready: true });
}

export interface YoungChild {
  /** Runs one task in the child; resolves with its count. */
  run(task: string): Promise<number>;
  close(): Promise<void>;
}

/** Starts the child with `--max-semi-space-size=<semiSpaceMb>` and waits until its tasks are ready. */
export async function startYoungChild(semiSpaceMb: number, init: Init): Promise<YoungChild> {
  const child = fork(fileURLToPath(import.meta.url), ['--young-child'], {
    // This process's flags (a loader such as tsx, when this file runs from source), but its
    // own young generation.
    execArgv: [...process.execArgv.filter((a) => !a.startsWith('--max-semi-space-size')), `--max-semi-space-size=${semiSpaceMb}`],
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = once(child, 'exit');
  const next = async (): Promise<{ count?: number; error?: string; ready?: boolean }> => {
    const [message] = await Promise.race([once(child, 'message'), exited.then(([code]) => {
      throw new Error(`young-generation child exited (code ${String(code)})`);
    })]);
    return message as { count?: number; error?: string; ready?: boolean };
  };
  child.send(init);
  const ready = await next();
  if (ready.ready !== true) throw new Error(`young-generation child: ${ready.error ?? 'did not start'}`);
  return {
    async run(task) {
      child.send(task);
      const reply = await next();
      if (reply.error !== undefined || reply.count === undefined) throw new Error(`young-generation child: ${reply.error ?? 'no count'}`);
      return reply.count;
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.disconnect();
      await exited;
    },
  };
}

if (process.argv[2] === '--young-child' && process.send !== undefined) {
  process.once('message', (init: Init) => {
    serve(init).catch((error: unknown) => {
      process.send!({ error: String(error) });
      process.exitCode = 1;
      process.disconnect();
    });
  });
}
