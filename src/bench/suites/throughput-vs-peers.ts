// Suite: the facade's verifyBatch on one thread against node:crypto, otplib, otpauth and
// speakeasy, each fed the same 10,000 secrets and codes; the result is a ratio table.
//
// Issue 3's targets: facade verifyBatch, key cache warm, one thread ≥ 30× the node:crypto
// baseline, ≥ 500× otplib, ≥ 60× otpauth. "One thread" is `threads: 0`: every batch runs
// inline on the calling thread. Secrets are base32 text (what the key cache is keyed by), the
// cache warmed by one untimed batch; the KeyHandle variant (`importKeys`) is shown beside it.
// All tasks are measured interleaved, so the ratios compare figures taken under the same
// conditions. A peer that is not installed is noted and left out; the rest still runs.
//
// The raw kernel (core.verifyBatch over 8192 pre-packed items, midstates ready: no request is
// read and no result made) runs in the same rounds: raw kernel ÷ peer is the most any facade
// over this kernel can reach against that peer, printed beside each target as a ceiling.

import { TotpVerifier } from '../../index.js';
import { warmCore } from '../../batch.js';
import { instantiateCore } from '../../wasm.js';
import { batchTask, type Kind, makeRequests, type SecretForm } from '../facade.js';
import { fixtures } from '../fixtures.js';
import { kernelTask, packChunk } from '../kernel.js';
import type { TaskSpec } from '../measure.js';
import { PEERS, peerTasks } from '../peer-tasks.js';
import type { Suite, SuiteContext } from '../suite.js';

const ID = 'throughput-vs-peers';

/** The targets for facade (cache warm) ÷ peer; undefined: shown for information. */
const TARGETS: Readonly<Record<string, number>> = { 'node-crypto': 30, otplib: 500, otpauth: 60 };

async function run(ctx: SuiteContext): Promise<void> {
  const { report } = ctx;
  const fx = fixtures();
  const verifier = await TotpVerifier.create({ threads: 0, window: 1 });
  const core = instantiateCore();
  warmCore(core);
  const n = core.layout.maxItems;
  try {
    const handles = verifier.importKeys(fx.secrets);
    const facade = (form: SecretForm, kind: Kind): Promise<TaskSpec> => batchTask({
      id: `${ID}/facade-${form}/${kind}`,
      scenario: ID,
      label: `facade verifyBatch(10k), ${form === 'base32' ? 'base32, cache warm' : 'KeyHandle'}, threads 0, ${kind}`,
      params: { kind, threads: 0, batch: fx.count },
    }, verifier, makeRequests(fx, kind, form, fx.count, handles), kind, fx);
    const peers: { key: string; name: string; tasks: [TaskSpec, TaskSpec] }[] = [];
    for (const p of PEERS) {
      const tasks = await peerTasks(report, ID, p.key);
      if (tasks !== null) peers.push({ key: p.key, name: p.name, tasks });
    }
    for (const [k, kind] of (['valid', 'invalid'] as const).entries()) {
      // Partners of a ratio next to each other: each round measures them seconds apart.
      const chunk = packChunk(core, fx.secrets.slice(0, n), (kind === 'valid' ? fx.valid : fx.invalid).slice(0, n), fx.step);
      const group = [
        await facade('base32', kind), await facade('handle', kind),
        kernelTask(core, chunk, kind, `${ID}/kernel/${kind}`, ID, `raw kernel core.verifyBatch(8192), pre-packed, ${kind} (for the ceilings)`),
        ...peers.map((p) => p.tasks[k]!),
      ];
      const [warm, handle, kernel, ...peerFigs] = await ctx.measure(group, { groupsLeft: 2 - k });
      core.wipe(n);
      peers.forEach((p, i) => {
        report.ratio(ID, `facade (cache warm) ÷ ${p.name}, ${kind}`, warm!, peerFigs[i]!, TARGETS[p.key]);
        if (TARGETS[p.key] !== undefined) {
          report.ratio(ID, `ceiling: raw kernel ÷ ${p.name}, ${kind}`, kernel!, peerFigs[i]!, TARGETS[p.key], 'ratio', true);
        }
        if (p.key === 'node-crypto') report.ratio(ID, `facade (KeyHandle) ÷ node:crypto, ${kind}`, handle!, peerFigs[i]!);
      });
      report.ratio(ID, `facade (cache warm) ÷ raw kernel, ${kind}`, warm!, kernel!, undefined, 'fraction');
    }
    const cache = verifier.stats().keyCache;
    report.note(ID, `key cache after the run: ${cache.size} entries, ${cache.hits} hits, ${cache.misses} misses (the misses are the one untimed warming batch)`);
    if (cache.misses !== fx.count) throw new Error(`${ID}: the key cache missed ${cache.misses} times; it was not warm`);
  } finally {
    await verifier.close();
  }
}

export const suite: Suite = { id: ID, title: 'facade vs node:crypto, otplib, otpauth, speakeasy (one thread, same 10,000 secrets)', run };
