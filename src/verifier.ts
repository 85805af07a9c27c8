// The verifier: validates and canonicalises every request, packs the good ones into chunks,
// runs them through the core and answers one result per request, in request order.
//
// A bad request is a result with status 'malformed' and a reason; it never throws and never
// disturbs its neighbours. Options are validated once, in `create`.

import { BatchPacker, packParams, runChunks } from './batch.js';
import { intOption, optionsObject, TotpFleetError } from './errors.js';
import { type CommonOptions, type Digits, type ResolvedCommon, parseCode, resolveCommon } from './otp.js';
import { type Secret, type SecretProblem, secretBytes } from './secret.js';
import { type TimeOptions, resolveTime } from './totp.js';
import { timeStep } from './time.js';
import { type Core, inlineCore } from './wasm.js';

/** A window in time steps on each side of the current step. */
export interface WindowOptions {
  /** Steps before the current one that are accepted (0..10). */
  past?: number;
  /** Steps after the current one that are accepted (0..10). */
  future?: number;
}

export interface VerifierOptions extends CommonOptions, TimeOptions {
  /** Steps accepted on each side of the current step: a number for both, or `{ past, future }`; default 1. */
  window?: number | WindowOptions;
}

/** One code to check. */
export interface VerifyRequest {
  /** Raw key bytes or base32 text. */
  secret: Secret;
  /** What the user typed: exactly `digits` ASCII digits. */
  code: string;
  /** Milliseconds since the Unix epoch; default the time the batch was received. */
  timestamp?: number;
  /** The credential's identifier (used by replay protection and rate limits when those are on). */
  account?: string;
}

/** Why a request was malformed. */
export type MalformedReason =
  | 'request'
  | 'code'
  | 'timestamp'
  | 'account'
  | SecretProblem;

export type VerifyStatus = 'valid' | 'invalid' | 'malformed';

/** The answer to one request. */
export interface VerifyResult {
  status: VerifyStatus;
  /** For 'valid': the matched step minus the current step (negative: the code was older). */
  delta?: number;
  /** For 'valid': the matched time step (the RFC 6238 counter). */
  step?: number;
  /** For 'malformed': what was wrong (never the value itself). */
  reason?: MalformedReason;
}

interface Settings extends ResolvedCommon {
  readonly period: number;
  readonly t0: number;
  readonly past: number;
  readonly future: number;
}

const MAX_ACCOUNT_LENGTH = 512;

function resolveWindow(value: unknown, max: number): { past: number; future: number } {
  if (value === undefined || typeof value === 'number') {
    const both = intOption('window', value, 0, max, 1);
    return { past: both, future: both };
  }
  const w = optionsObject<WindowOptions>('window', value);
  return {
    past: intOption('window.past', w.past, 0, max, 1),
    future: intOption('window.future', w.future, 0, max, 1),
  };
}

function malformed(reason: MalformedReason): VerifyResult {
  return { status: 'malformed', reason };
}

/**
 * Verifies TOTP codes in batches on the WebAssembly core.
 *
 * @example
 * const verifier = await TotpVerifier.create({ window: 1 });
 * const [result] = await verifier.verifyBatch([{ secret, code: '287082', timestamp: Date.now() }]);
 * if (result.status === 'valid') { ... }
 * await verifier.close();
 */
export class TotpVerifier {
  readonly #settings: Settings;
  readonly #core: Core;
  readonly #params: number;
  #closed = false;

  private constructor(settings: Settings, core: Core) {
    this.#settings = settings;
    this.#core = core;
    this.#params = packParams(core.layout, settings.digits, settings.past, settings.future);
  }

  /** Validates `opts` (TypeError / RangeError naming the option) and makes a verifier. */
  static async create(opts?: VerifierOptions): Promise<TotpVerifier> {
    const o = optionsObject<VerifierOptions>('opts', opts);
    const core = inlineCore();
    const settings: Settings = Object.freeze({
      ...resolveCommon(o),
      ...resolveTime(o),
      ...resolveWindow(o.window, core.layout.maxWindow),
    });
    return new TotpVerifier(settings, core);
  }

  /** The options in force, with defaults filled in. */
  get options(): Readonly<{ digits: Digits; period: number; t0: number; window: { past: number; future: number }; minSecretBytes: number }> {
    const s = this.#settings;
    return { digits: s.digits, period: s.period, t0: s.t0, window: { past: s.past, future: s.future }, minSecretBytes: s.minSecretBytes };
  }

  /** Verifies one request; a batch of one. */
  async verify(request: VerifyRequest): Promise<VerifyResult> {
    const [result] = await this.verifyBatch([request]);
    return result!;
  }

  /**
   * Verifies every request; the i-th result answers the i-th request. Rejects only when
   * `requests` is not an array or the verifier is closed.
   */
  async verifyBatch(requests: readonly VerifyRequest[]): Promise<VerifyResult[]> {
    if (this.#closed) throw new TotpFleetError('ERR_CLOSED', 'the verifier is closed');
    if (!Array.isArray(requests)) throw new TypeError('"requests" expected an array');
    const s = this.#settings;
    const now = Date.now();
    const n = requests.length;
    const results = new Array<VerifyResult>(n);
    const packed = new Int32Array(n).fill(-1);
    const steps = new Float64Array(n);
    const packer = new BatchPacker(this.#core.layout, n);
    for (let i = 0; i < n; i++) {
      const req: unknown = requests[i];
      if (req === null || typeof req !== 'object' || Array.isArray(req)) {
        results[i] = malformed('request');
        continue;
      }
      const r = req as Partial<Record<keyof VerifyRequest, unknown>>;
      if (r.account !== undefined &&
          (typeof r.account !== 'string' || r.account.length === 0 || r.account.length > MAX_ACCOUNT_LENGTH)) {
        results[i] = malformed('account');
        continue;
      }
      const code = parseCode(r.code, s.digits);
      if (code < 0) {
        results[i] = malformed('code');
        continue;
      }
      const step = timeStep(r.timestamp === undefined ? now : r.timestamp, s);
      if (step < 0) {
        results[i] = malformed('timestamp');
        continue;
      }
      const key = secretBytes(r.secret, s);
      if (typeof key === 'string') {
        results[i] = malformed(key);
        continue;
      }
      steps[i] = step;
      packed[i] = packer.add(key, step, code, this.#params);
    }
    const raw = runChunks(this.#core, packer.finish(), 'verify');
    const { resultNoMatch, resultMalformed } = this.#core.layout;
    for (let i = 0; i < n; i++) {
      const slot = packed[i]!;
      if (slot < 0) continue;
      const r = raw[slot]!;
      if (r === resultNoMatch) results[i] = { status: 'invalid' };
      else if (r === resultMalformed) results[i] = malformed('request');
      else results[i] = { status: 'valid', delta: r, step: steps[i]! + r };
    }
    return results;
  }

  /** Closes the verifier; later calls reject with ERR_CLOSED. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
