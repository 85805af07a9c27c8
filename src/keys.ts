// Midstates kept between batches, so that a secret's HMAC key blocks are hashed once, not once
// per request. Two ways in:
//
// - KeyCache: a bounded cache keyed by the secret's base32 text, with CLOCK eviction (an LRU
//   approximation whose hit costs one store, not a reordering). Raw-byte secrets are not
//   cached: making a lookup key from their bytes costs more than deriving them in SIMD.
// - KeyRing: explicit handles (`verifier.importKey(secret)`) for callers that keep millions of
//   accounts: one small object per key and 40 bytes of midstates in a shared slab.
//
// Midstates are as sensitive as the secret (they are enough to compute codes), and the cache's
// lookup key is the secret as given; both are owned by one verifier and zeroed on close.

/** Midstate words per key (the core's MID_STRIDE / 4). */
export type MidWords = number;

/** A growable slab of midstates: slot s is words [s * w, (s + 1) * w). */
class Slab {
  readonly words: number;
  data: Uint32Array;

  constructor(words: number, slots: number) {
    this.words = words;
    this.data = new Uint32Array(Math.max(1, slots) * words);
  }

  get slots(): number {
    return this.data.length / this.words;
  }

  grow(slots: number): void {
    const data = new Uint32Array(slots * this.words);
    data.set(this.data);
    this.data.fill(0);
    this.data = data;
  }

  write(slot: number, src: Uint32Array, at: number): void {
    const w = this.words;
    this.data.set(src.subarray(at, at + w), slot * w);
  }

  clear(slot: number): void {
    this.data.fill(0, slot * this.words, (slot + 1) * this.words);
  }
}

/**
 * A bounded map from a secret's identity (a string) to its midstates.
 * `capacity` 0 disables it: every lookup misses and nothing is kept.
 */
export class KeyCache {
  readonly capacity: number;
  readonly #slab: Slab;
  readonly #index = new Map<string, number>();
  #ids: (string | undefined)[] = [];
  #referenced: Uint8Array;
  #hand = 0;
  #hits = 0;
  #misses = 0;
  #evictions = 0;

  constructor(words: MidWords, capacity: number) {
    this.capacity = capacity;
    // Grow on demand up to the capacity, so a large bound costs nothing until it is used.
    const initial = Math.min(capacity, 1024);
    this.#slab = new Slab(words, initial);
    this.#referenced = new Uint8Array(initial);
  }

  /** The slab and offset holding the midstates of `id`, or -1 when absent. */
  lookup(id: string): number {
    const slot = this.#index.get(id);
    if (slot === undefined) {
      this.#misses++;
      return -1;
    }
    this.#hits++;
    this.#referenced[slot] = 1;
    return slot * this.#slab.words;
  }

  /** The words behind `lookup`'s offsets. Valid until the next `insert`. */
  get data(): Uint32Array {
    return this.#slab.data;
  }

  /** Stores the midstates at `src[at ..]` for `id`, evicting an entry if full. */
  insert(id: string, src: Uint32Array, at: number): void {
    if (this.capacity === 0 || this.#index.has(id)) return;
    const slot = this.#freeSlot();
    this.#slab.write(slot, src, at);
    this.#ids[slot] = id;
    this.#referenced[slot] = 0;
    this.#index.set(id, slot);
  }

  /** Counters since creation. */
  stats(): { size: number; capacity: number; hits: number; misses: number; evictions: number } {
    return { size: this.#index.size, capacity: this.capacity, hits: this.#hits, misses: this.#misses, evictions: this.#evictions };
  }

  /** Forgets everything (including the secret texts it was keyed by) and zeroes the midstates. */
  clear(): void {
    this.#index.clear();
    this.#ids = [];
    this.#slab.data.fill(0);
    this.#referenced.fill(0);
    this.#hand = 0;
  }

  #freeSlot(): number {
    const used = this.#index.size;
    if (used < this.capacity) {
      if (used >= this.#slab.slots) {
        const slots = Math.min(this.capacity, this.#slab.slots * 2);
        this.#slab.grow(slots);
        const referenced = new Uint8Array(slots);
        referenced.set(this.#referenced);
        this.#referenced = referenced;
      }
      return used;
    }
    // CLOCK: sweep, giving referenced entries a second chance, until an unreferenced one.
    const n = this.capacity;
    while (this.#referenced[this.#hand] === 1) {
      this.#referenced[this.#hand] = 0;
      this.#hand = (this.#hand + 1) % n;
    }
    const slot = this.#hand;
    this.#hand = (this.#hand + 1) % n;
    this.#index.delete(this.#ids[slot]!);
    this.#slab.clear(slot);
    this.#evictions++;
    return slot;
  }
}

/** What KeyHandle.slotOf answers for a value that is not a handle at all. */
export const NOT_A_HANDLE = -2;

/** Marks a handle released (KeyRing.release, once it has zeroed and freed the handle's slot). */
let detach: (handle: KeyHandle) => void;

/** An imported key: opaque, usable as `secret` in requests to the verifier that made it. */
export class KeyHandle {
  /** The ring that issued the handle: handles are not interchangeable between verifiers. */
  readonly #ring: KeyRing;
  #slot: number;

  constructor(ring: KeyRing, slot: number) {
    this.#ring = ring;
    this.#slot = slot;
  }

  static {
    detach = (handle) => {
      handle.#slot = -1;
    };
  }

  /**
   * Releases `handle` as its verifier's `releaseKey` does: its midstates are zeroed, its slot is
   * freed, and requests using it are malformed ('secret-handle'). Idempotent; anything but a
   * KeyHandle is ignored. Public on the exported class, so it does the whole release.
   */
  static release(handle: KeyHandle): void {
    if (KeyHandle.is(handle)) handle.#ring.release(handle);
  }

  /** True for a KeyHandle, without trusting a forgeable `instanceof`. */
  static is(value: unknown): value is KeyHandle {
    return typeof value === 'object' && value !== null && #ring in value;
  }

  /**
   * @internal In one check for the hot path: NOT_A_HANDLE for anything but a KeyHandle, -1 for a
   * handle released or issued by another ring, else its slot in `ring`.
   */
  static slotOf(value: unknown, ring: KeyRing): number {
    // A typed array (raw key bytes) is never a handle (a handle is an ordinary object made by
    // this class's constructor), and ArrayBuffer.isView answers that for a few instructions
    // where the brand check on a typed array took four times as long (the raw-byte path).
    if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value) || !(#ring in value)) return NOT_A_HANDLE;
    return (value as KeyHandle).#ring === ring ? (value as KeyHandle).#slot : -1;
  }

  toJSON(): string {
    return '[KeyHandle]';
  }
}

/** The midstates behind KeyHandles, in a slab that grows as keys are imported. */
export class KeyRing {
  readonly #slab: Slab;
  readonly #free: number[] = [];
  /** Per slot: 1 when the key is a legacy secret (under 16 bytes) to be rotated. */
  #legacy = new Uint8Array(1024);
  #next = 0;

  constructor(words: MidWords) {
    this.#slab = new Slab(words, 1024);
  }

  /** A handle for the midstates at `src[at ..]`; `legacy` marks a short secret to be rotated. */
  issue(src: Uint32Array, at: number, legacy = false): KeyHandle {
    let slot = this.#free.pop();
    if (slot === undefined) {
      slot = this.#next++;
      if (slot >= this.#slab.slots) this.#slab.grow(this.#slab.slots * 2);
      if (slot >= this.#legacy.length) {
        const flags = new Uint8Array(this.#slab.slots);
        flags.set(this.#legacy);
        this.#legacy = flags;
      }
    }
    this.#slab.write(slot, src, at);
    this.#legacy[slot] = legacy ? 1 : 0;
    return new KeyHandle(this, slot);
  }

  /** Whether the handle at `offset` (from `offsetOf`) holds a legacy secret to be rotated. */
  isLegacy(offset: number): boolean {
    return this.#legacy[offset / this.#slab.words] === 1;
  }

  /**
   * For any value: NOT_A_HANDLE, -1 (a handle released or from another ring), or the offset
   * into `data` of the handle's midstates. One brand check instead of two on the hot path.
   */
  offsetOf(value: unknown): number {
    const slot = KeyHandle.slotOf(value, this);
    return slot < 0 ? slot : slot * this.#slab.words;
  }

  get data(): Uint32Array {
    return this.#slab.data;
  }

  /** Zeroes a handle's midstates and makes it unusable. Idempotent. */
  release(handle: KeyHandle): void {
    const slot = KeyHandle.slotOf(handle, this);
    if (slot < 0) return;
    this.#slab.clear(slot);
    detach(handle);
    this.#free.push(slot);
  }

  /** Live handles. */
  get size(): number {
    return this.#next - this.#free.length;
  }

  /** Zeroes every midstate (on close). Handles stay allocated but point at zeros. */
  wipe(): void {
    this.#slab.data.fill(0);
  }
}
