// The one data set every scenario and every peer verifies: 10,000 distinct seeded-random
// 20-byte secrets, one fixed time mid-period, and for each secret a valid code (delta 0) and an
// invalid code that matches no step of the ±1 window. Both are checked against an independent
// node:crypto reference here, so a bench can never time a verifier that answers wrongly.

import { createHmac } from 'node:crypto';
import { base32, totp } from '../index.js';

/** Distinct secrets (issue 3). */
export const SECRET_COUNT = 10_000;
/** RFC 6238 step length, seconds. */
export const PERIOD = 30;
/** Steps accepted on each side of the current one. */
export const WINDOW = 1;
/** The current time step T: early 2026. */
export const STEP = 59_000_000;
/** Mid-period, so that ±1 step is exactly steps T−1 and T+1 for every peer's arithmetic. */
export const TIMESTAMP_MS = STEP * PERIOD * 1000 + (PERIOD * 1000) / 2;
/** Fixed seed: the same secrets and codes in every run. */
export const SEED = 0x5eed_2026;

export interface Fixtures {
  readonly count: number;
  readonly step: number;
  /** Milliseconds (our facade, otpauth, node:crypto baseline). */
  readonly timestamp: number;
  /** Seconds (otplib's `epoch`). */
  readonly epochSeconds: number;
  readonly secrets: readonly Uint8Array[];
  /** The same secrets as unpadded base32 text. */
  readonly base32: readonly string[];
  /** valid[i]: the code of secrets[i] at step T. */
  readonly valid: readonly string[];
  /** invalid[i]: a code of secrets[i] at none of T−1, T, T+1. */
  readonly invalid: readonly string[];
}

/** sfc32: small, fast, seedable; enough for fixtures (not for keys). */
function prng(seed: number): () => number {
  let a = 0x9e3779b9, b = 0x243f6a88, c = 0xb7e15162, d = seed >>> 0;
  const next = (): number => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    const t = (a + b + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t;
  };
  for (let i = 0; i < 16; i++) next();
  return next;
}

/** Reference HOTP (RFC 4226) on node:crypto with an exact 64-bit counter; shares nothing with src/. */
export function referenceHotp(key: Uint8Array, counter: number, digits = 6): string {
  const block = Buffer.alloc(8);
  block.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', key).update(block).digest();
  const o = mac[mac.length - 1]! & 0x0f;
  const bin = ((mac[o]! & 0x7f) << 24) | (mac[o + 1]! << 16) | (mac[o + 2]! << 8) | mac[o + 3]!;
  return String(bin % 10 ** digits).padStart(digits, '0');
}

let cached: Fixtures | undefined;

/** The fixtures (built once per process, deterministic). Throws if any check fails. */
export function fixtures(): Fixtures {
  if (cached !== undefined) return cached;
  const rand = prng(SEED);
  const secrets: Uint8Array[] = [];
  const seen = new Set<string>();
  while (secrets.length < SECRET_COUNT) {
    const key = new Uint8Array(20);
    for (let i = 0; i < 20; i += 4) new DataView(key.buffer).setUint32(i, rand());
    const hex = Buffer.from(key).toString('hex');
    if (seen.has(hex)) continue;
    seen.add(hex);
    secrets.push(key);
  }
  const valid: string[] = [];
  const invalid: string[] = [];
  for (const key of secrets) {
    const window = [STEP - 1, STEP, STEP + 1].map((s) => referenceHotp(key, s));
    const code = totp.generate(key, { timestamp: TIMESTAMP_MS });
    if (code !== window[1]) throw new Error('fixtures: totp.generate disagrees with the node:crypto reference');
    valid.push(code);
    let wrong: string;
    do wrong = String(rand() % 1_000_000).padStart(6, '0');
    while (window.includes(wrong));
    invalid.push(wrong);
  }
  cached = Object.freeze({
    count: SECRET_COUNT,
    step: STEP,
    timestamp: TIMESTAMP_MS,
    epochSeconds: TIMESTAMP_MS / 1000,
    secrets: Object.freeze(secrets),
    base32: Object.freeze(secrets.map((s) => base32.encode(s))),
    valid: Object.freeze(valid),
    invalid: Object.freeze(invalid),
  });
  return cached;
}

/** Item j of a batch of any size: secret j mod 10,000, so every secret recurs evenly. */
export function secretIndex(j: number): number {
  return j % SECRET_COUNT;
}
