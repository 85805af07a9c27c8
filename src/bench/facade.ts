// Building request batches for the facade from the shared fixtures, and checking its answers.
// Requests are built outside the timed region (as the peers' arguments are); the timed call
// counts valid results, as the peers count theirs.

import type { KeyHandle, TotpVerifier, VerifyRequest, VerifyResult } from '../index.js';
import { type Fixtures, secretIndex } from './fixtures.js';
import type { Budget, FigureParams, TaskSpec } from './measure.js';

export type Kind = 'valid' | 'invalid';
export type SecretForm = 'bytes' | 'base32' | 'handle';

/** `n` requests; item j uses secret j mod 10,000 in the given form, and its valid or invalid code. */
export function makeRequests(
  fx: Fixtures, kind: Kind, form: SecretForm, n: number = fx.count, handles?: readonly KeyHandle[],
): VerifyRequest[] {
  const codes = kind === 'valid' ? fx.valid : fx.invalid;
  const out = new Array<VerifyRequest>(n);
  for (let j = 0; j < n; j++) {
    const i = secretIndex(j);
    const secret = form === 'bytes' ? fx.secrets[i]! : form === 'base32' ? fx.base32[i]! : handles![i]!;
    out[j] = { secret, code: codes[i]!, timestamp: fx.timestamp };
  }
  return out;
}

/** Every result exactly as the fixtures say: valid at delta 0 (step T), or invalid. Throws otherwise. */
export function assertResults(name: string, results: readonly VerifyResult[], kind: Kind, fx: Fixtures): void {
  for (let j = 0; j < results.length; j++) {
    const r = results[j]!;
    const ok = kind === 'valid' ? r.status === 'valid' && r.delta === 0 && r.step === fx.step : r.status === 'invalid';
    if (!ok) throw new Error(`${name}: item ${j} answered ${JSON.stringify(r)}, expected ${kind}`);
  }
}

/** How many results are valid; the timed calls check this count (cheap, like the peers' own). */
export function countValid(results: readonly VerifyResult[]): number {
  let n = 0;
  for (let j = 0; j < results.length; j++) if (results[j]!.status === 'valid') n++;
  return n;
}

/**
 * A task timing `verifier.verifyBatch(reqs)`, after one untimed call whose every answer is
 * checked (which also fills the key cache, for base32 secrets).
 */
export async function batchTask(
  spec: { id: string; scenario: string; label: string; params?: FigureParams; budget?: Partial<Budget> },
  verifier: TotpVerifier, reqs: readonly VerifyRequest[], kind: Kind, fx: Fixtures,
): Promise<TaskSpec> {
  assertResults(spec.id, await verifier.verifyBatch(reqs), kind, fx);
  const want = kind === 'valid' ? reqs.length : 0;
  return {
    ...spec,
    items: reqs.length,
    async: true,
    fn: async () => {
      const n = countValid(await verifier.verifyBatch(reqs));
      if (n !== want) throw new Error(`${spec.id}: ${n} valid, expected ${want}`);
    },
  };
}
