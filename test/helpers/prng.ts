// A small seeded PRNG (sfc32) so that random tests reproduce. The seed is printed in the test
// name; rerun a failure with TOTP_TEST_SEED=<seed> npx vitest run.

export const DEFAULT_SEED = 0x7f1ee7;

/** The seed from TOTP_TEST_SEED, or the default. */
export function testSeed(): number {
  const env = process.env['TOTP_TEST_SEED'];
  return env === undefined || env === '' ? DEFAULT_SEED : Number.parseInt(env, 10) >>> 0;
}

export class Prng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    this.#a = 0x9e3779b9;
    this.#b = 0x243f6a88;
    this.#c = 0xb7e15162;
    this.#d = seed >>> 0;
    for (let i = 0; i < 16; i++) this.u32();
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0;
    this.#d = (this.#d + 1) >>> 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) >>> 0;
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0;
    this.#c = (this.#c + t) >>> 0;
    return t;
  }

  /** A uniform integer in min..max (inclusive), for ranges up to 2^53. */
  int(min: number, max: number): number {
    const span = max - min + 1;
    const r = this.u32() * 2 ** 21 + (this.u32() >>> 11); // 53 random bits
    return min + (r % span);
  }

  /** A uniform bigint in 0..2^bits-1. */
  bits(bits: number): bigint {
    let v = 0n;
    for (let i = 0; i < bits; i += 32) v = (v << 32n) | BigInt(this.u32());
    return v & ((1n << BigInt(bits)) - 1n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!;
  }

  bytes(length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}
