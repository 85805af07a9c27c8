// Preparing a slice of a batch (the hottest JS loop of the project): each request validated and
// canonicalised (a bad one answered 'malformed' at once), its secret resolved to midstates (key
// handle, key cache, or derived with the slice's other misses in one batched core call) or
// packed as a key, and packed into chunks for the kernel. Stateful requests (with an account,
// and a store) are checked against the round's accounts and collected for the policy.

import { BatchPacker, deriveMidstates } from '../batch.js';
import { type KeyCache, type KeyRing, NOT_A_HANDLE } from '../keys.js';
import { parseCode } from '../otp.js';
import { auditChannel } from '../policy/audit.js';
import { isAccount } from '../policy/options.js';
import type { PolicyRunner, StatefulItems } from '../policy/runner.js';
import { base32ByteLength, DEFAULT_MIN_SECRET_BYTES, secretBytes } from '../secret.js';
import { stringHash } from '../strhash.js';
import { timeStep } from '../time.js';
import type { Core } from '../wasm.js';
import type { RoundState, SeenSets } from './round.js';
import type { Settings } from './settings.js';
import { type Prepared, takeScratch } from './slice.js';
import type { MalformedReason, VerifyRequest, VerifyResult } from './types.js';

/** One frozen result per malformed reason: results are read-only and may be shared. */
const MALFORMED: Readonly<Record<MalformedReason, VerifyResult>> = Object.freeze(Object.fromEntries(
  (['request', 'code', 'timestamp', 'account', 'secret-handle', 'secret-type', 'secret-encoding', 'secret-length'] as const)
    .map((reason) => [reason, Object.freeze({ status: 'malformed', reason })]),
) as Record<MalformedReason, VerifyResult>);

/** What a SlicePreparer reads of its verifier, fixed at the verifier's construction. */
export interface PreparerParts {
  readonly settings: Settings;
  readonly core: Core;
  /** packParams of the settings. */
  readonly params: number;
  /** The core's code of the verifier's hash. */
  readonly alg: number;
  /** Midstate words the verifier's hash uses (MID_WORDS). */
  readonly midWords: number;
  readonly cache: KeyCache;
  readonly ring: KeyRing;
  /** Replay protection and failure limits; undefined with `store: null`. */
  readonly policy: PolicyRunner | undefined;
  /** HOTP: counters from the store, not from the time. */
  readonly counting: boolean;
  readonly seen: SeenSets;
  /** How far (ms) a request with an account may put its `timestamp` from the batch's time. */
  readonly timestampSkewMs: number;
}

/**
 * A verifier's slice preparer: made once per verifier (its fields are the verifier's settings
 * and parts), so `prepare` reads them from one object of one shape, call after call.
 */
export class SlicePreparer {
  readonly #settings: Settings;
  readonly #core: Core;
  readonly #params: number;
  readonly #alg: number;
  readonly #midWords: number;
  readonly #cache: KeyCache;
  readonly #ring: KeyRing;
  readonly #policy: PolicyRunner | undefined;
  readonly #counting: boolean;
  readonly #seen: SeenSets;
  readonly #timestampSkewMs: number;

  constructor(parts: PreparerParts) {
    this.#settings = parts.settings;
    this.#core = parts.core;
    this.#params = parts.params;
    this.#alg = parts.alg;
    this.#midWords = parts.midWords;
    this.#cache = parts.cache;
    this.#ring = parts.ring;
    this.#policy = parts.policy;
    this.#counting = parts.counting;
    this.#seen = parts.seen;
    this.#timestampSkewMs = parts.timestampSkewMs;
  }

  /**
   * Validates and canonicalises requests[start..end), answering bad ones in `results`, and
   * packs the rest. Synchronous: nothing else runs between reading a request and packing it.
   */
  prepare(
    requests: readonly VerifyRequest[], start: number, end: number, now: number, results: VerifyResult[], pooled: boolean,
    round?: RoundState,
  ): Prepared {
    const s = this.#settings;
    const n = end - start;
    const scratch = takeScratch(n);
    const { packed, steps, times } = scratch;
    const counting = this.#counting;
    const ring = this.#ring;
    const params = this.#params;
    const digits = s.digits;
    // Made at the first request with an account: most batches of most fleets have none.
    let stateful: StatefulItems | undefined;
    // Inline, the first chunk is packed straight into the core, where the kernel reads it
    // (`leaveCore` below moves it out when the core is needed before it runs).
    const packer = pooled ? new BatchPacker(this.#core.layout, n, n, this.#midWords, undefined, true)
      : new BatchPacker(this.#core.layout, n, this.#core.layout.maxItems, this.#midWords, this.#core);
    // Legacy secrets exist only where the caller lowered minSecretBytes; otherwise no flags.
    const legacy = s.minSecretBytes < DEFAULT_MIN_SECRET_BYTES ? new Uint8Array(n) : undefined;
    const cache = this.#cache.capacity > 0 ? this.#cache : undefined;
    // Cache misses: distinct secrets to derive, and the packed items waiting for each (made at
    // the first miss: a warm cache has none).
    let missKeys: Uint8Array[] | undefined;
    let missIds: string[] | undefined;
    let missById: Map<string, number> | undefined;
    let waiting: number[] | undefined; // pairs: packed index, miss number
    // The step of the last time seen: the requests of a batch mostly share one time.
    let lastTime = Number.NaN;
    let lastStep = -1;
    // Whether the last time seen is further from `now` than a request with an account may be.
    let lastFar = false;
    const skew = this.#timestampSkewMs;
    for (let j = 0; j < n; j++) {
      const i = start + j;
      packed[j] = -1;
      // Each field is read exactly once, here: a getter or Proxy that throws (or answers
      // differently on a second read) makes this item malformed, not the batch rejected.
      let account: unknown, codeText: unknown, timestamp: unknown, secret: unknown;
      try {
        const req: unknown = requests[i];
        if (req === null || typeof req !== 'object' || Array.isArray(req)) {
          results[i] = MALFORMED.request;
          continue;
        }
        ({ account, code: codeText, timestamp, secret } = req as Partial<Record<keyof VerifyRequest, unknown>>);
      } catch {
        results[i] = MALFORMED.request;
        continue;
      }
      // A HOTP request needs its account: the counter is the account's.
      if (account !== undefined && !isAccount(account) || account === undefined && counting) {
        results[i] = MALFORMED.account;
        continue;
      }
      let hash = 0;
      if (round !== undefined && account !== undefined) {
        hash = stringHash(account);
        if (!round.distinct && !(round.seen ??= this.#seen.take(round.size)).add(account, hash)) {
          (round.later ??= []).push({ index: i, request: { account, code: codeText, timestamp, secret } as VerifyRequest });
          continue;
        }
      }
      const code = parseCode(codeText, digits);
      if (code < 0) {
        results[i] = MALFORMED.code;
        continue;
      }
      // HOTP: the time plays no part; the counter is set from the store in the policy's begin.
      const time = timestamp === undefined || counting ? now : timestamp;
      let step: number;
      if (time === lastTime) step = lastStep;
      else {
        step = counting ? 0 : timeStep(time, s);
        if (step < 0) {
          results[i] = MALFORMED.timestamp;
          continue;
        }
        lastTime = time as number;
        lastStep = step;
        lastFar = Math.abs((time as number) - now) > skew;
      }
      // With an account, a time far from the verifier's would reach steps whose marks have
      // expired (policy/options.ts): refused before its code is evaluated or counted.
      if (lastFar && account !== undefined) {
        results[i] = MALFORMED.timestamp;
        continue;
      }
      // A secret that is not what it claims (a typed array whose getters throw) is malformed.
      let rawBytes = 0; // a raw secret's real length (secretBytes': not the secret's own getter)
      try {
        const handleAt = ring.offsetOf(secret);
        if (handleAt >= 0) {
          packed[j] = packer.addMid(ring.data, handleAt, step, code, params);
        } else if (handleAt !== NOT_A_HANDLE) {
          results[i] = MALFORMED['secret-handle'];
          continue;
        } else if (cache !== undefined && typeof secret === 'string') {
          // Base32 text: a cache hit saves decoding and deriving. (Raw bytes skip the cache:
          // turning them into a lookup key costs more than the SIMD derivation it would save.)
          const at = cache.lookup(secret);
          if (at >= 0) {
            packed[j] = packer.addMid(cache.data, at, step, code, params);
          } else {
            let miss = missById?.get(secret);
            if (miss === undefined) {
              const key = secretBytes(secret, s);
              if (typeof key === 'string') {
                results[i] = MALFORMED[key];
                continue;
              }
              miss = (missKeys ??= []).push(key) - 1;
              (missIds ??= []).push(secret);
              (missById ??= new Map()).set(secret, miss);
            }
            packed[j] = packer.addPending(step, code, params);
            (waiting ??= []).push(packed[j]!, miss);
          }
        } else if (typeof secret === 'string') {
          // Base32 text, no cache: decoded straight into the chunk.
          const at = packer.addBase32(secret, s, step, code, params);
          if (typeof at === 'string') {
            results[i] = MALFORMED[at];
            continue;
          }
          packed[j] = at;
        } else {
          const key = secretBytes(secret, s);
          if (typeof key === 'string') {
            results[i] = MALFORMED[key];
            continue;
          }
          rawBytes = key.length;
          packed[j] = packer.addKey(key, step, code, params);
        }
        if (legacy !== undefined) {
          // The secret is valid by now (a handle, a cache hit, or checked above).
          const bytes = handleAt >= 0 ? (ring.isLegacy(handleAt) ? 0 : DEFAULT_MIN_SECRET_BYTES)
            : typeof secret === 'string' ? base32ByteLength(secret) : rawBytes;
          if (bytes < DEFAULT_MIN_SECRET_BYTES) legacy[j] = 1;
        }
      } catch {
        results[i] = MALFORMED['secret-type'];
        continue;
      }
      steps[j] = step;
      times[j] = time as number;
      if (round !== undefined && account !== undefined) {
        (stateful ??= this.#policy!.items(n, now)).add(account, hash, i, packed[j]!, step, time as number);
      }
    }
    // Deriving misses uses the core; stateful items wait for the store (and the core may run
    // other batches meanwhile): either way the packed chunk leaves the core first. Unless the
    // store answers now (#keepsCore): then nothing runs between packing and the kernel call.
    if (missKeys !== undefined || (stateful !== undefined && !this.#keepsCore(pooled))) packer.leaveCore();
    if (missKeys !== undefined) this.#deriveMisses(packer, missKeys, missIds!, waiting!);
    const chunks = packer.finish();
    let total = 0;
    for (const c of chunks) total += c.count;
    return { start, count: n, scratch, chunks, total, pooled, legacy, stateful: stateful?.size ? stateful : undefined };
  }

  /**
   * Whether an inline slice's stateful items may stay packed in the core through the store's
   * begin: the store answers now (so nothing else can use the core before the kernel call), and
   * nobody listens for audit events (begin publishes 'locked' and 'error' events, and a
   * subscriber could use the shared inline core, e.g. through totp.generate).
   */
  #keepsCore(pooled: boolean): boolean {
    return !pooled && this.#policy !== undefined && this.#policy.answersNow && !auditChannel.hasSubscribers;
  }

  /** Derives every missed secret in one batched core call, fills the waiting items, caches them. */
  #deriveMisses(packer: BatchPacker, keys: Uint8Array[], ids: string[], waiting: number[]): void {
    const w = this.#midWords;
    const mids = new Uint32Array(keys.length * w);
    try {
      deriveMidstates(this.#core, keys, mids, this.#alg, w);
      for (let k = 0; k < waiting.length; k += 2) packer.fillMid(waiting[k]!, mids, waiting[k + 1]! * w);
      for (let m = 0; m < keys.length; m++) this.#cache.insert(ids[m]!, mids, m * w);
    } finally {
      mids.fill(0);
      for (const key of keys) key.fill(0); // decoded from base32 here: our copies
    }
  }
}
