// The file piscina loads in each worker thread. It is CommonJS on purpose.
//
// piscina require()s its worker file first and import()s it only when that throws. On Node
// 20.19 and later, require() of an ES module goes through Node's require(esm) path, and a
// failure to instantiate the module there is a native assertion
// (ModuleWrap::CreateRequiredModuleFacade) that aborts the whole process, not just the worker:
// seen once in CI, in the pool tests that start and kill workers. A CommonJS entry is loaded
// by plain require(), and it import()s the real worker module (an ES module: the pool's
// dist/worker.js, or a test's fault-injecting one, named in workerData.workerModule) through the
// ES module loader, which reports a failure as an error.

import { workerData } from 'node:worker_threads';

type Handler = (task: unknown) => unknown;

const specifier = (workerData as { workerModule?: unknown } | null)?.workerModule;
const loaded: Promise<Handler> = typeof specifier === 'string'
  ? import(specifier).then((m: { default?: unknown }) => {
    if (typeof m.default !== 'function') throw new TypeError('the worker module has no default export function');
    return m.default as Handler;
  })
  : Promise.reject(new TypeError('workerData.workerModule expected the worker module\'s URL'));
// Reported by the first task (the pool answers its items as it answers a failed task), not as
// an unhandled rejection before any task has come.
loaded.catch(() => {});

export = async function runTask(task: unknown): Promise<unknown> {
  return (await loaded)(task);
};
