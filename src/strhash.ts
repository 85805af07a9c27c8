// A seeded 32-bit string hash and a batch-sized set of accounts, for the policy path's own hash
// tables (MemoryStore's credential table, the verifier's "seen in this round" check).
//
// Why not Map/Set: on the 2-core VM of the README's figures, a V8 Map of 2,000,000 string keys
// cost ~1 µs per miss-and-insert (its chains and rehashing miss the cache; an open-addressing
// table of integers: ~0.3 µs), a Set growing from empty to 10,000 accounts ~130 ns per add (a
// table sized once: ~50 ns), and a Map holds at most 2^24 entries (MemoryStore allows 10^8).
//
// The seed is random per process, so account names chosen to collide (hash flooding) cannot be
// prepared in advance. It is not a keyed PRF like SipHash: the defence is that the seed and the
// hashes are never shown.

import { randomBytes } from 'node:crypto';
import { charCodeAt } from './charcode.js';

/** The process's seed. */
const SEED = randomBytes(4).readInt32LE(0);

/**
 * FNV-1a over the UTF-16 code units, seeded, then murmur3's finaliser so that the low bits (the
 * table index) depend on every character.
 */
export function stringHash(s: string): number {
  let h = SEED ^ 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ charCodeAt(s, i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

/** Smallest power of two ≥ 2n (a load factor ≤ 1/2), at least 16. */
export function tableCapacity(n: number): number {
  let cap = 16;
  while (cap < 2 * n) cap *= 2;
  return cap;
}

/**
 * A set of at most `limit` strings, sized once (no rehashing): open addressing with linear
 * probing over an Int32Array of (insertion index + 1), 0 for empty; each string's hash is kept
 * by insertion order beside it, so a probe compares hashes before strings. (Pairs of [hash,
 * index] in the table doubled its size, and a batch's adds land at random in it.)
 */
export class StringSet {
  readonly #slots: Int32Array;
  readonly #mask: number;
  /**
   * The strings, by insertion order, in `limit` preallocated slots (growing an array by push
   * cost more than the rest of an add): a new array after each clear (see clear).
   */
  #keys: string[];
  #size = 0;
  /** stringHash of each string, by insertion order. */
  readonly #hashes: Int32Array;
  readonly #limit: number;

  constructor(limit: number) {
    const cap = tableCapacity(limit);
    this.#slots = new Int32Array(cap);
    this.#mask = cap - 1;
    this.#hashes = new Int32Array(limit);
    this.#keys = new Array<string>(limit);
    this.#limit = limit;
  }

  /** The most strings it holds. */
  get limit(): number {
    return this.#limit;
  }

  /**
   * Empties it, for reuse: zeroing its table costs far less than allocating one (a fresh 256 KB
   * typed array for 10,000 strings took ~0.5 ms on the README's VM).
   */
  clear(): void {
    if (this.#size === 0) return;
    this.#slots.fill(0);
    // A new array, not the old one emptied: the old one has been promoted to the old generation
    // by now, and storing each new (young) string into it costs a write barrier and a
    // remembered-set entry that every scavenge then walks.
    this.#keys = new Array<string>(this.#limit);
    this.#size = 0;
  }

  /** Adds `s`, whose stringHash is `h`; false if it was already there. Throws past `limit` (a programmer error). */
  add(s: string, h: number): boolean {
    const slots = this.#slots;
    const mask = this.#mask;
    const keys = this.#keys;
    const hashes = this.#hashes;
    let i = h & mask;
    for (let at = slots[i]!; at !== 0; i = (i + 1) & mask, at = slots[i]!) {
      if (hashes[at - 1] === h && keys[at - 1] === s) return false;
    }
    const n = this.#size;
    if (n >= this.#limit) throw new RangeError(`StringSet: more than ${this.#limit} strings`);
    hashes[n] = h;
    keys[n] = s;
    slots[i] = this.#size = n + 1;
    return true;
  }
}

/** Hashes computed by this package for arrays of strings it built and froze. */
const known = new WeakMap<readonly string[], Int32Array>();

/**
 * Notes that `hashes[i]` is `stringHash(strings[i])`, so that a store handed `strings` need not
 * hash them again. `strings` must be frozen (it cannot change after the hashes were taken).
 */
export function noteHashes(strings: readonly string[], hashes: Int32Array): void {
  if (!Object.isFrozen(strings) || hashes.length < strings.length) throw new TypeError('noteHashes expected a frozen array and its hashes');
  known.set(strings, hashes);
}

/** The hashes noted for `strings`, if any. */
export function notedHashes(strings: readonly string[]): Int32Array | undefined {
  return known.get(strings);
}
