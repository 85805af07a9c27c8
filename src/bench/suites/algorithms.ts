// Suite: the cost of SHA-256 and SHA-512 against SHA-1, through the facade and in the
// node:crypto baseline. 10,000 secrets of each algorithm's generated length (20, 32, 64 bytes),
// key handles (midstates ready), window ±1, one thread; valid codes (delta 0) and invalid codes
// (no step of the window) measured separately, all six facade tasks and their six baselines
// interleaved so that ratios compare figures taken under the same conditions.
//
// What to expect: a SHA-1 item runs four to a SIMD compression; SHA-256 runs scalar (64 rounds
// per compression, two per candidate) and SHA-512 scalar in i64 (80 rounds on 64-bit words,
// two per candidate).

import { createHash, createHmac } from 'node:crypto';
import { type Algorithm, TotpVerifier, type VerifyRequest } from '../../index.js';
import { countValid } from '../facade.js';
import { fixtures, STEP } from '../fixtures.js';
import type { TaskSpec } from '../measure.js';
import { expectCount } from '../peers/peer.js';
import type { Suite, SuiteContext } from '../suite.js';

const ID = 'algorithms';
const BYTES: Record<Algorithm, number> = { SHA1: 20, SHA256: 32, SHA512: 64 };
const ALGORITHMS: readonly Algorithm[] = ['SHA1', 'SHA256', 'SHA512'];

/** HOTP on node:crypto: one createHmac per candidate, as the baseline of issue 3 does for SHA-1. */
function hotp(hash: string, key: Uint8Array, counter: number): number {
  const block = Buffer.alloc(8);
  block.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac(hash, key).update(block).digest();
  const o = mac[mac.length - 1]! & 0x0f;
  return (((mac[o]! & 0x7f) << 24) | (mac[o + 1]! << 16) | (mac[o + 2]! << 8) | mac[o + 3]!) % 1_000_000;
}

interface AlgFixtures {
  readonly secrets: Uint8Array[];
  readonly valid: string[];
  readonly invalid: string[];
}

/** Each fixture secret stretched to the algorithm's length (SHA-512 of it, cut), with its codes. */
function algFixtures(algorithm: Algorithm): AlgFixtures {
  const fx = fixtures();
  const hash = algorithm.toLowerCase();
  const secrets = fx.secrets.map((s) => new Uint8Array(createHash('sha512').update(s).update(algorithm).digest().subarray(0, BYTES[algorithm])));
  const valid: string[] = [];
  const invalid: string[] = [];
  secrets.forEach((key, i) => {
    const window = [STEP - 1, STEP, STEP + 1].map((t) => hotp(hash, key, t));
    valid.push(String(window[1]).padStart(6, '0'));
    let wrong = (Number(fx.invalid[i]) + 0) % 1_000_000;
    while (window.includes(wrong)) wrong = (wrong + 1) % 1_000_000;
    invalid.push(String(wrong).padStart(6, '0'));
  });
  return { secrets, valid, invalid };
}

async function run(ctx: SuiteContext): Promise<void> {
  const { report } = ctx;
  const fx = fixtures();
  const verifiers: TotpVerifier[] = [];
  try {
    const tasks: TaskSpec[] = [];
    for (const algorithm of ALGORITHMS) {
      const a = algFixtures(algorithm);
      const verifier = await TotpVerifier.create({ threads: 0, window: 1, algorithm });
      verifiers.push(verifier);
      const handles = verifier.importKeys(a.secrets);
      for (const kind of ['valid', 'invalid'] as const) {
        const codes = kind === 'valid' ? a.valid : a.invalid;
        const want = kind === 'valid' ? fx.count : 0;
        const reqs: VerifyRequest[] = handles.map((secret, i) => ({ secret, code: codes[i]!, timestamp: fx.timestamp }));
        // Checked once, untimed, before any timing: a wrong verifier is never timed.
        expectCount(`${algorithm} facade`, countValid(await verifier.verifyBatch(reqs)), want);
        const hash = algorithm.toLowerCase();
        const baseline = (): number => {
          let n = 0;
          for (let i = 0; i < fx.count; i++) {
            const code = Number(codes[i]);
            const key = a.secrets[i]!;
            if (hotp(hash, key, STEP) === code || hotp(hash, key, STEP - 1) === code || hotp(hash, key, STEP + 1) === code) n++;
          }
          return n;
        };
        expectCount(`${algorithm} node:crypto`, baseline(), want);
        tasks.push(
          {
            id: `${ID}/node-crypto-${algorithm}/${kind}`, scenario: ID, items: fx.count, async: false,
            label: `node:crypto createHmac('${hash}') per candidate, ${kind}`,
            fn: () => expectCount('node:crypto', baseline(), want),
          },
          {
            id: `${ID}/facade-${algorithm}/${kind}`, scenario: ID, items: fx.count, async: true,
            label: `facade verifyBatch(10k), ${algorithm}, KeyHandle, threads 0, ${kind}`,
            fn: async () => expectCount('facade', countValid(await verifier.verifyBatch(reqs)), want),
          },
        );
      }
    }
    const figs = await ctx.measure(tasks);
    const at = (algorithm: Algorithm, kind: string, who: 'facade' | 'node-crypto') =>
      figs.find((f) => f.id === `${ID}/${who}-${algorithm}/${kind}`)!;
    for (const kind of ['valid', 'invalid'] as const) {
      for (const algorithm of ALGORITHMS) {
        report.ratio(ID, `facade ÷ node:crypto, ${algorithm}, ${kind}`, at(algorithm, kind, 'facade'), at(algorithm, kind, 'node-crypto'));
      }
      for (const algorithm of ['SHA256', 'SHA512'] as const) {
        report.ratio(ID, `facade ${algorithm} ÷ facade SHA1, ${kind}`, at(algorithm, kind, 'facade'), at('SHA1', kind, 'facade'), undefined, 'fraction');
      }
    }
  } finally {
    await Promise.all(verifiers.map((v) => v.close()));
  }
}

export const suite: Suite = { id: ID, title: 'SHA-1 vs SHA-256 vs SHA-512 (facade and node:crypto, one thread)', run };
