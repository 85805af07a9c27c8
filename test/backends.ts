// The backends the conformance and differential suites run against. Each turns the same
// abstract operations (HOTP at a 64-bit counter, TOTP at a timestamp, TOTP verification)
// into calls on one implementation. A new backend is one more line in `backends` below.

import { base32, hotp, totp, TotpVerifier, type VerifierOptions, type VerifyRequest } from '../src/index.js';
import { BatchPacker, type KernelMode, packParams, runChunks } from '../src/batch.js';
import { type Core, instantiateCore } from '../src/wasm.js';
import { refStep } from './helpers/reference.js';
import type { Digits } from './helpers/vectors.js';

export interface HotpItem {
  key: Uint8Array;
  /** 0..2^64-1 */
  counter: bigint;
  digits: Digits;
}

export interface TimeSettings {
  digits: Digits;
  /** seconds */
  period: number;
  /** seconds */
  t0: number;
}

export interface TotpItem extends TimeSettings {
  key: Uint8Array;
  /** milliseconds since the epoch, at or after t0 */
  timestamp: number;
}

export interface VerifyItem extends TotpItem {
  code: string;
  past: number;
  future: number;
}

export type VerifyOutcome =
  | { status: 'valid'; delta: number; step: bigint }
  | { status: 'invalid' | 'replayed' | 'locked' | 'malformed' | 'error' };

/** One implementation under test. Every method answers one result per item, in item order. */
export interface Backend {
  readonly name: string;
  hotp(items: readonly HotpItem[]): Promise<string[]>;
  totp(items: readonly TotpItem[]): Promise<string[]>;
  verify(items: readonly VerifyItem[]): Promise<VerifyOutcome[]>;
  /** Releases workers and verifiers; the backend may be used again afterwards. */
  close(): Promise<void>;
}

const pad = (value: number, digits: number): string => String(value).padStart(digits, '0');

/** A counter as BatchPacker takes it: a number where one holds it exactly (exercises that path too). */
const packable = (c: bigint): number | bigint => (c <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(c) : c);

/**
 * A core driven through its ABI directly (BatchPacker + runChunks) with one verify kernel,
 * time steps computed by the bigint reference: nothing of the facade is involved.
 */
export function coreBackend(name: string, instantiate: () => Core, kernel: Exclude<KernelMode, 'generate'>): Backend {
  let core: Core | undefined;
  const get = (): Core => (core ??= instantiate());

  const generate = (items: readonly HotpItem[]): string[] => {
    const c = get();
    const packer = new BatchPacker(c.layout, items.length);
    for (const it of items) packer.addKey(it.key, packable(it.counter), 0, packParams(c.layout, it.digits, 0, 0));
    const raw = runChunks(c, packer.finish(), 'generate');
    return items.map((it, i) => pad(raw[i]!, it.digits));
  };

  const stepOf = (it: TotpItem): bigint => {
    const step = refStep(it.timestamp, it.period, it.t0);
    if (step === null) throw new RangeError(`${name}: timestamp before t0 in a conformance item`);
    return step;
  };

  return {
    name,
    async hotp(items) {
      return generate(items);
    },
    async totp(items) {
      return generate(items.map((it) => ({ key: it.key, counter: stepOf(it), digits: it.digits })));
    },
    async verify(items) {
      const c = get();
      const { resultNoMatch, resultMalformed } = c.layout;
      const steps = items.map(stepOf);
      const packer = new BatchPacker(c.layout, items.length);
      items.forEach((it, i) => {
        packer.addKey(it.key, packable(steps[i]!), Number(it.code), packParams(c.layout, it.digits, it.past, it.future));
      });
      const raw = runChunks(c, packer.finish(), kernel);
      return items.map((_, i): VerifyOutcome => {
        const r = raw[i]!;
        if (r === resultNoMatch) return { status: 'invalid' };
        if (r === resultMalformed) return { status: 'malformed' };
        return { status: 'valid', delta: r, step: steps[i]! + BigInt(r) };
      });
    },
    async close() {},
  };
}

/** How a facade backend hands secrets to the verifier. */
export type SecretForm =
  | 'bytes' // Uint8Array
  | 'base32' // base32 text: decoded, derived and cached (each batch is run twice: miss, then hit)
  | 'handle'; // verifier.importKeys(), then handles

/**
 * The public API: hotp.generate / totp.generate per item, TotpVerifier.verifyBatch per group
 * of items sharing settings, with `options` (threads, ...) on every verifier.
 */
export function facadeBackend(name: string, options: VerifierOptions, form: SecretForm = 'bytes'): Backend {
  // Every key length the tests use is allowed: the length policy is tested elsewhere.
  const common = { minSecretBytes: 1 } as const;
  const verifiers = new Map<string, Promise<TotpVerifier>>();
  const verifierFor = (it: VerifyItem): Promise<TotpVerifier> => {
    const k = `${it.digits}/${it.period}/${it.t0}/${it.past}/${it.future}`;
    let v = verifiers.get(k);
    if (v === undefined) {
      v = TotpVerifier.create({
        ...options, ...common, digits: it.digits, period: it.period, t0: it.t0,
        window: { past: it.past, future: it.future },
      });
      verifiers.set(k, v);
    }
    return v;
  };
  const secretOf = (key: Uint8Array): Uint8Array | string => (form === 'base32' ? base32.encode(key) : key);

  const run = async (verifier: TotpVerifier, items: VerifyItem[]) => {
    const secrets = form === 'handle' ? verifier.importKeys(items.map((it) => it.key)) : items.map((it) => secretOf(it.key));
    const requests: VerifyRequest[] = items.map((it, j) => ({ secret: secrets[j]!, code: it.code, timestamp: it.timestamp }));
    try {
      const first = await verifier.verifyBatch(requests);
      if (form !== 'base32') return first;
      const again = await verifier.verifyBatch(requests); // now from the key cache
      if (JSON.stringify(again) !== JSON.stringify(first)) throw new Error(`${name}: key cache hit and miss disagree`);
      return first;
    } finally {
      if (form === 'handle') for (const h of secrets) verifier.releaseKey(h as Parameters<TotpVerifier['releaseKey']>[0]);
    }
  };

  return {
    name,
    async hotp(items) {
      return items.map((it) => hotp.generate(secretOf(it.key), packable(it.counter), { ...common, digits: it.digits }));
    },
    async totp(items) {
      return items.map((it) =>
        totp.generate(secretOf(it.key), { ...common, digits: it.digits, period: it.period, t0: it.t0, timestamp: it.timestamp }));
    },
    async verify(items) {
      const groups = new Map<Promise<TotpVerifier>, number[]>();
      items.forEach((it, i) => {
        const v = verifierFor(it);
        const g = groups.get(v);
        if (g) g.push(i);
        else groups.set(v, [i]);
      });
      const out = new Array<VerifyOutcome>(items.length);
      for (const [verifier, indices] of groups) {
        const results = await run(await verifier, indices.map((i) => items[i]!));
        results.forEach((r, j) => {
          out[indices[j]!] = r.status === 'valid'
            ? { status: 'valid', delta: r.delta!, step: BigInt(r.step!) }
            : { status: r.status };
        });
      }
      return out;
    },
    async close() {
      const all = [...verifiers.values()];
      verifiers.clear();
      await Promise.all(all.map(async (v) => (await v).close()));
    },
  };
}

/** Every backend that exists. */
export const backends: readonly Backend[] = [
  coreBackend('core: SIMD verifyBatch', () => instantiateCore(), 'verify'),
  coreBackend('core: scalar verifyBatchScalar', () => instantiateCore(), 'verify-scalar'),
  facadeBackend('facade: inline', { threads: 0, keyCacheSize: 0 }),
  facadeBackend('facade: base32 secrets, key cache', { threads: 0 }, 'base32'),
  facadeBackend('facade: key handles', { threads: 0 }, 'handle'),
  facadeBackend('facade: worker pool (2 threads, dist/worker.js)', { threads: 2, inlineThreshold: 0 }),
];
