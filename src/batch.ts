// Packing canonical items into the core's struct-of-arrays layout, and running packed chunks.
//
// A chunk is one kernel call: at most `maxItems` items and `keyPoolSize` key bytes. It lives
// in two buffers (fixed-size fields; raw keys) so that a worker gets it without a clone: a pooled
// chunk's fields are packed in a SharedArrayBuffer the worker reads, its raw keys moved; or, for a batch run inline, the first chunk is packed straight into the inline
// core's own regions (no buffer to fill, copy in and wipe: one write per field instead of
// three, and half a megabyte less for the caches to hold). An item carries either its
// midstates (from the key cache; flagged PARAM_MID_READY) or its raw key (derived where the
// chunk runs). Items arrive here already
// validated (verify/prepare.ts); the core still refuses anything out of range on its own.

import { BASE32_PADDING, decodeInto, maxDecodedBytes } from './base32-into.js';
import { TotpFleetError } from './errors.js';
import { type SecretProblem, type SecretRules, secretBytes } from './secret.js';
import type { Core, CoreLayout } from './wasm.js';

/** What the kernel is asked to do with a chunk. */
export type KernelMode = 'verify' | 'verify-scalar' | 'generate';

/** One kernel call's worth of items, struct-of-arrays. */
export interface PackedChunk {
  readonly count: number;
  /** Slots in the fixed buffer (≥ count); fixes where each field starts. */
  readonly cap: number;
  /**
   * Midstate words per item: 10 (SHA-1 only), 16 (up to SHA-256) or 32 (any hash). The core
   * is told the matching slot (setMidStride) when the chunk is loaded.
   */
  readonly midWords: number;
  /**
   * Counters, codes, params, key slots and midstates. A SharedArrayBuffer for a chunk packed
   * for the pool's workers (BatchPacker's `shared`): they read it where it was packed.
   */
  readonly fixed: ArrayBuffer | SharedArrayBuffer;
  /** Raw keys of the items that carry no midstates, back to back. */
  readonly keyBuffer: ArrayBuffer;
  readonly keyBytes: number;
  /**
   * Set when the chunk was packed straight into this core's regions (its buffers are then
   * empty): it can run only there, and only before anything else uses that core; running it
   * (runChunk) or wiping it (wipeChunk) wipes the core.
   */
  readonly core?: Core;
  /**
   * Only with `core`: true when no item was added with a raw key (each carries its midstates,
   * flagged PARAM_MID_READY, which deriveKeys passes over), so runChunk skips deriveKeys' scan
   * of every item's params (1.4 ns per item). A chunk from elsewhere is always derived.
   */
  readonly midsReady?: boolean;
}

/** Typed views over a chunk's buffers. */
export interface ChunkViews {
  /** u64 counters as (low, high) u32 pairs. */
  readonly counter: Uint32Array;
  readonly code: Uint32Array;
  readonly params: Uint32Array;
  /** Lowest acceptable delta + `layout.floorBias`; 0 (the default) accepts every delta. */
  readonly floor: Uint32Array;
  readonly keyOff: Uint32Array;
  readonly keyLen: Uint32Array;
  /** `midWords` words per item. */
  readonly mid: Uint32Array;
  readonly keys: Uint8Array;
}

const TWO_32 = 2 ** 32;
const EMPTY_BUFFER = new ArrayBuffer(0);
const EMPTY_U32 = new Uint32Array(0);
const EMPTY_U8 = new Uint8Array(0);

/** Bytes per item in a chunk's fixed buffer. */
function fixedStride(midWords: number): number {
  return 28 + 4 * midWords;
}

/** Midstate words per item a core call can use (its setMidStride values, in words). */
const MID_SLOT_WORDS = [10, 16, 32] as const;

/** Views over `chunk`; `count` items from the start of each field. */
export function chunkViews(layout: CoreLayout, chunk: PackedChunk): ChunkViews {
  const { cap, count, fixed } = chunk;
  const midWords = chunk.midWords;
  return {
    counter: new Uint32Array(fixed, 0, count * 2),
    code: new Uint32Array(fixed, cap * 8, count),
    params: new Uint32Array(fixed, cap * 12, count),
    keyOff: new Uint32Array(fixed, cap * 16, count),
    keyLen: new Uint32Array(fixed, cap * 20, count),
    floor: new Uint32Array(fixed, cap * 24, count),
    mid: new Uint32Array(fixed, cap * 28, count * midWords),
    keys: new Uint8Array(chunk.keyBuffer, 0, chunk.keyBytes),
  };
}

/** The params word of an item (see assembly/layout.ts); `alg` is the core's algorithm code (default SHA-1). */
export function packParams(layout: CoreLayout, digits: number, past: number, future: number, alg = layout.algSha1): number {
  return ((digits << layout.paramDigitsShift) |
    (past << layout.paramPastShift) |
    (future << layout.paramFutureShift) |
    (alg << layout.paramAlgShift)) >>> 0;
}

/** A packer's lists before its first chunk (never written: replaced by an array of one). */
const NO_CHUNKS: PackedChunk[] = [];
const NO_MIDS: { start: number; mid: Uint32Array }[] = [];

/** The first `cap` slots of a core's fields, as a packer writes them. */
interface CoreFields {
  readonly cap: number;
  readonly midWords: number;
  readonly counter: Uint32Array;
  readonly code: Uint32Array;
  readonly params: Uint32Array;
  readonly keyOff: Uint32Array;
  readonly keyLen: Uint32Array;
  readonly mid: Uint32Array;
}

/**
 * The last CoreFields made for each core: batches of one size in a row (single items) reuse
 * them rather than making six views per batch. (Views of the core's memory, which never
 * detaches; what they show is the core's, wiped after every run.)
 */
const lastCoreFields = new WeakMap<Core, CoreFields>();

function coreFields(core: Core, cap: number, midWords: number): CoreFields {
  let f = lastCoreFields.get(core);
  if (f === undefined || f.cap !== cap || f.midWords !== midWords) {
    const v = core.views;
    f = {
      cap, midWords,
      counter: v.counter.subarray(0, cap * 2),
      code: v.code.subarray(0, cap),
      params: v.params.subarray(0, cap),
      keyOff: v.keyOff.subarray(0, cap),
      keyLen: v.keyLen.subarray(0, cap),
      mid: v.mid.subarray(0, cap * midWords),
    };
    lastCoreFields.set(core, f);
  }
  return f;
}

/**
 * The packer whose open chunk is packed in a core's regions (BatchPacker's `core`), per core,
 * from the chunk's first item until the packer finishes or leaves the core. Code of the caller's
 * runs between two items (a request's getters are read while its batch is packed), and may use
 * the same core (totp.generate, importKey, a nested verifyBatch): that use moves the items packed
 * so far out first (vacate), instead of overwriting or wiping them.
 */
const occupants = new WeakMap<Core, BatchPacker>();

/** Before `core`'s regions are used for anything else: the chunk being packed there moves out. */
function vacate(core: Core): void {
  occupants.get(core)?.leaveCore();
}

/** Builds chunks item by item; `add*` return the item's index across all chunks. */
export class BatchPacker {
  readonly #layout: CoreLayout;
  /** Midstate words per item in the chunks: what the items' hashes use (10 for SHA-1). */
  readonly #midWords: number;
  /** The chunks closed (most batches: one; an array of one is made for it, not an empty one grown). */
  #chunks: PackedChunk[] = NO_CHUNKS;
  readonly #chunkItems: number;
  /** The core the first chunk is packed into, until it has been (see `leaveCore`). */
  #core: Core | undefined;
  /** Whether chunks are packed into SharedArrayBuffers (see the constructor). */
  readonly #shared: boolean;
  /** Midstate views of every chunk opened, and the index of each one's first item. */
  #mids: { start: number; mid: Uint32Array }[] = NO_MIDS;
  #remaining: number;
  #total = 0;
  // The chunk being filled.
  /** Whether it is in `#core`'s regions. */
  #inCore = false;
  /** Whether an item of it was added with a raw key (addKey). */
  #keyed = false;
  #cap = 0;
  #count = 0;
  #keyBytes = 0;
  // Views of the chunk being filled; empty until the first item opens a chunk.
  #fixed: ArrayBuffer | SharedArrayBuffer = EMPTY_BUFFER;
  #counter: Uint32Array = EMPTY_U32;
  #code: Uint32Array = EMPTY_U32;
  #params: Uint32Array = EMPTY_U32;
  #keyOff: Uint32Array = EMPTY_U32;
  #keyLen: Uint32Array = EMPTY_U32;
  #mid: Uint32Array = EMPTY_U32;
  #keys: Uint8Array = EMPTY_U8;

  /**
   * `expected`: how many items will be added (sizes the chunks; more may follow).
   * `chunkItems`: items per chunk at most (default and upper bound: `layout.maxItems`).
   * `midWords`: midstate words per item, 10 (every item SHA-1), 16 (SHA-1 or SHA-256) or 32
   * (any hash; the default). What `addMid` / `fillMid` copy, and the slot the core is told.
   * `core`: pack the first chunk straight into this core's regions. Only for chunks run on it
   * (runChunk) right after packing, with nothing else using the core in between: the caller
   * calls `leaveCore` before anything else may use it (deriving keys, awaiting), and
   * `wipeCore` if it gives up on the chunks. While items are being added, a use of the core
   * by anything else (loadChunk, deriveMidstates, another packer) moves them out first (vacate).
   * `shared`: pack into SharedArrayBuffers, for chunks run on the pool's workers (they read
   * each chunk where it was packed: no copy to move; see pool.ts). Not with `core`.
   */
  constructor(
    layout: CoreLayout, expected: number, chunkItems = layout.maxItems, midWords = layout.midStride / 4, core?: Core, shared = false,
  ) {
    if (!(MID_SLOT_WORDS as readonly number[]).includes(midWords)) throw new RangeError('BatchPacker: midWords expected 10, 16 or 32');
    if (core !== undefined && core.layout !== layout) throw new RangeError('BatchPacker: the core has another layout');
    if (core !== undefined && shared) throw new RangeError('BatchPacker: a chunk in the core is not shared');
    this.#core = core;
    this.#shared = shared;
    this.#layout = layout;
    this.#midWords = midWords;
    this.#remaining = Math.max(1, expected);
    this.#chunkItems = Math.max(1, Math.min(chunkItems, layout.maxItems));
  }

  /**
   * Adds an item with its raw key (at most `layout.maxKeyBytes`, checked by the caller).
   * `counter` is a non-negative integer below 2^64 (number or bigint).
   */
  addKey(key: Uint8Array, counter: number | bigint, code: number, params: number): number {
    const i = this.#slot(key.length);
    this.#keyed = true;
    if (this.#keyBytes + key.length > this.#keys.length) this.#growKeys(this.#keyBytes + key.length);
    this.#keys.set(key, this.#keyBytes);
    this.#keyOff[i] = this.#keyBytes;
    this.#keyLen[i] = key.length;
    this.#keyBytes += key.length;
    return this.#fill(i, counter, code, params);
  }

  /**
   * Adds an item whose key is base32 `text`, decoded straight into the chunk's key area (no
   * decoded copy to allocate, copy in and wipe), or answers why the text is not an acceptable
   * secret under `rules` (exactly as `secretBytes`), after wiping what it wrote; such an item is
   * not added. Text that could hold more than `layout.maxKeyBytes` (spaces and hyphens, or too
   * long a secret) is decoded apart, by `secretBytes`.
   */
  addBase32(
    text: string, rules: SecretRules, counter: number | bigint, code: number, params: number,
  ): number | SecretProblem {
    const room = maxDecodedBytes(text.length);
    if (room > this.#layout.maxKeyBytes) {
      const key = secretBytes(text, rules);
      if (typeof key === 'string') return key;
      const i = this.addKey(key, counter, code, params);
      key.fill(0); // our own decoded copy, now packed
      return i;
    }
    this.#room(room);
    const at = this.#keyBytes;
    if (at + room > this.#keys.length) this.#growKeys(at + room);
    const keys = this.#keys;
    const n = decodeInto(text, keys, at, rules.allowBase32TrailingBits);
    if (n <= BASE32_PADDING) return 'secret-encoding'; // decodeInto wiped what it wrote
    if (n < rules.minSecretBytes || n > rules.maxSecretBytes) {
      keys.fill(0, at, at + n);
      return 'secret-length';
    }
    const i = this.#count++;
    this.#keyed = true;
    this.#keyOff[i] = at;
    this.#keyLen[i] = n;
    this.#keyBytes = at + n;
    return this.#fill(i, counter, code, params);
  }

  /** Adds an item whose midstates are `mids[at .. at + midWords]` (from a key cache). */
  addMid(mids: Uint32Array, at: number, counter: number | bigint, code: number, params: number): number {
    const i = this.#slot(0);
    const w = this.#midWords;
    const dst = this.#mid;
    const base = i * w;
    if (w === 10) {
      // SHA-1, the common case, unrolled: the hottest line of a batch of key handles.
      dst[base] = mids[at]!;
      dst[base + 1] = mids[at + 1]!;
      dst[base + 2] = mids[at + 2]!;
      dst[base + 3] = mids[at + 3]!;
      dst[base + 4] = mids[at + 4]!;
      dst[base + 5] = mids[at + 5]!;
      dst[base + 6] = mids[at + 6]!;
      dst[base + 7] = mids[at + 7]!;
      dst[base + 8] = mids[at + 8]!;
      dst[base + 9] = mids[at + 9]!;
    } else {
      for (let k = 0; k < w; k++) dst[base + k] = mids[at + k]!;
    }
    return this.#fill(i, counter, code, (params | this.#layout.paramMidReady) >>> 0);
  }

  /** Adds an item whose midstates will be supplied later with `fillMid` (derived in a batch). */
  addPending(counter: number | bigint, code: number, params: number): number {
    const i = this.#slot(0);
    return this.#fill(i, counter, code, (params | this.#layout.paramMidReady) >>> 0);
  }

  /** Supplies the midstates of the item at `index` (from `add*`): `src[at ..]`. */
  fillMid(index: number, src: Uint32Array, at: number): void {
    let k = this.#mids.length - 1;
    while (this.#mids[k]!.start > index) k--;
    const { start, mid } = this.#mids[k]!;
    const w = this.#midWords;
    mid.set(src.subarray(at, at + w), (index - start) * w);
  }

  /** The packed chunks, in order. The packer must not be used afterwards. */
  finish(): PackedChunk[] {
    this.#close();
    if (this.#core !== undefined && occupants.get(this.#core) === this) occupants.delete(this.#core);
    this.#core = undefined;
    // No chunk: a new empty array (the caller's to keep), not the shared one.
    return this.#chunks === NO_CHUNKS ? [] : this.#chunks;
  }

  /**
   * Moves the chunk packed in the core (if any) into buffers of its own and wipes the core, so
   * that the core may be used for something else before the chunks run; later chunks go to
   * buffers too. Idempotent.
   */
  leaveCore(): void {
    const core = this.#core;
    if (core === undefined) return;
    this.#core = undefined;
    if (occupants.get(core) === this) occupants.delete(core);
    const k = this.#chunks.findIndex((c) => c.core !== undefined);
    if (k >= 0) {
      const moved = moveOut(this.#chunks[k]!);
      this.#chunks[k] = moved;
      this.#mids[k]!.mid = chunkViews(this.#layout, moved).mid; // every chunk opened holds an item
    } else if (this.#inCore) {
      // The chunk being filled: its items so far move out, and it goes on in the new buffers.
      const moved = moveOut(this.#current(core));
      this.#inCore = false;
      this.#views(moved.fixed, moved.cap);
      this.#keys = new Uint8Array(moved.keyBuffer);
      this.#mids[this.#mids.length - 1]!.mid = this.#mid;
    }
  }

  #slot(keyLength: number): number {
    this.#room(keyLength);
    return this.#count++;
  }

  /** Makes room for an item with a key of `keyLength` bytes: a new chunk if this one is full. */
  #room(keyLength: number): void {
    if (this.#count === this.#cap || this.#keyBytes + keyLength > this.#layout.keyPoolSize) {
      this.#close();
      this.#open();
    }
  }

  #fill(i: number, counter: number | bigint, code: number, params: number): number {
    writeCounter(this.#counter, i, counter);
    this.#code[i] = code;
    this.#params[i] = params;
    this.#remaining--;
    return this.#total++;
  }

  #open(): void {
    const cap = Math.min(Math.max(1, this.#remaining), this.#chunkItems);
    const core = this.#core;
    if (core !== undefined && this.#chunks.length === 0) {
      // The first chunk, in the core: the kernel reads what is written here, where it is.
      vacate(core);
      occupants.set(core, this);
      const v = core.views;
      const f = coreFields(core, cap, this.#midWords);
      this.#inCore = true;
      this.#fixed = EMPTY_BUFFER;
      this.#counter = f.counter;
      this.#code = f.code;
      this.#params = f.params;
      this.#keyOff = f.keyOff;
      this.#keyLen = f.keyLen;
      this.#mid = f.mid;
      this.#keys = v.keyPool;
      // What a fresh buffer holds: every delta accepted, no raw key. (A wipe leaves these zero
      // already; this does not rely on it.)
      v.floor.fill(0, 0, cap);
      this.#keyOff.fill(0);
      this.#keyLen.fill(0);
    } else {
      this.#inCore = false;
      this.#views(takeBuffer(cap * fixedStride(this.#midWords), this.#shared), cap);
      this.#keys = EMPTY_U8;
    }
    const mids = { start: this.#total, mid: this.#mid };
    if (this.#mids === NO_MIDS) this.#mids = [mids];
    else this.#mids.push(mids);
    this.#cap = cap;
    this.#count = 0;
    this.#keyBytes = 0;
    this.#keyed = false;
  }

  /** Points the packer's views at the fields of `fixed`, a chunk buffer of `cap` slots. */
  #views(fixed: ArrayBuffer | SharedArrayBuffer, cap: number): void {
    this.#fixed = fixed;
    this.#counter = new Uint32Array(fixed, 0, cap * 2);
    this.#code = new Uint32Array(fixed, cap * 8, cap);
    this.#params = new Uint32Array(fixed, cap * 12, cap);
    this.#keyOff = new Uint32Array(fixed, cap * 16, cap);
    this.#keyLen = new Uint32Array(fixed, cap * 20, cap);
    this.#mid = new Uint32Array(fixed, cap * 28, cap * this.#midWords);
  }

  /** The chunk being filled, as it stands. */
  #current(core?: Core): PackedChunk {
    const keyBuffer = this.#inCore ? EMPTY_BUFFER : this.#keys.buffer as ArrayBuffer;
    // Written out twice rather than spreading `{ core }` in: a spread makes an object per chunk.
    return core !== undefined
      ? { count: this.#count, cap: this.#cap, midWords: this.#midWords, fixed: this.#fixed, keyBuffer, keyBytes: this.#keyBytes, core, midsReady: !this.#keyed }
      : { count: this.#count, cap: this.#cap, midWords: this.#midWords, fixed: this.#fixed, keyBuffer, keyBytes: this.#keyBytes };
  }

  #growKeys(atLeast: number): void {
    const size = Math.min(Math.max(atLeast, this.#keys.length * 2, 1024), this.#layout.keyPoolSize);
    const keys = new Uint8Array(size);
    keys.set(this.#keys.subarray(0, this.#keyBytes));
    this.#keys.fill(0); // the old buffer held secrets
    this.#keys = keys;
  }

  #close(): void {
    if (this.#count === 0) return;
    const chunk = this.#current(this.#inCore ? this.#core : undefined);
    if (this.#chunks === NO_CHUNKS) this.#chunks = [chunk];
    else this.#chunks.push(chunk);
    this.#inCore = false;
    this.#count = 0;
    this.#cap = 0;
  }
}

/** Writes a non-negative integer below 2^64 as the (low, high) u32 pair of slot `i`. */
function writeCounter(counter: Uint32Array, i: number, value: number | bigint): void {
  if (typeof value === 'bigint') {
    counter[2 * i] = Number(value & 0xffffffffn);
    counter[2 * i + 1] = Number(value >> 32n);
  } else {
    counter[2 * i] = value >>> 0;
    counter[2 * i + 1] = value < TWO_32 ? 0 : Math.floor(value / TWO_32);
  }
}

/**
 * A chunk packed in its core, copied into buffers of its own (as if it had been packed there);
 * the core is wiped.
 */
function moveOut(chunk: PackedChunk): PackedChunk {
  const core = chunk.core!;
  const { count, cap, midWords, keyBytes } = chunk;
  const out: PackedChunk = {
    count, cap, midWords, fixed: takeBuffer(cap * fixedStride(midWords)), keyBuffer: new ArrayBuffer(keyBytes), keyBytes,
  };
  try {
    const c = chunkViews(core.layout, out);
    const v = core.views;
    c.counter.set(v.counter.subarray(0, 2 * count));
    c.code.set(v.code.subarray(0, count));
    c.params.set(v.params.subarray(0, count));
    c.floor.set(v.floor.subarray(0, count));
    c.keyOff.set(v.keyOff.subarray(0, count));
    c.keyLen.set(v.keyLen.subarray(0, count));
    c.mid.set(v.mid.subarray(0, count * midWords));
    c.keys.set(v.keyPool.subarray(0, keyBytes));
  } finally {
    wipeChunk(chunk);
  }
  return out;
}

/** Each core's editor of a single chunk packed in it (PackedEditor.of). */
const coreEditors = new WeakMap<Core, PackedEditor>();

/** The core's regions as ChunkViews (every slot), made once per core. */
const coreViews = new WeakMap<Core, ChunkViews>();

function coreChunkViews(core: Core): ChunkViews {
  let views = coreViews.get(core);
  if (views === undefined) {
    const v = core.views;
    views = {
      counter: v.counter, code: v.code, params: v.params, floor: v.floor, keyOff: v.keyOff, keyLen: v.keyLen, mid: v.mid, keys: v.keyPool,
    };
    coreViews.set(core, views);
  }
  return views;
}

/**
 * Edits packed items by their index across all chunks, after packing and before running:
 * the policy layer sets each stateful item's floor and drifted step, or skips it (a locked
 * account, whose code must not be evaluated).
 */
export class PackedEditor {
  readonly #layout: CoreLayout;
  readonly #views: ChunkViews[];
  readonly #starts: number[] = [];

  constructor(layout: CoreLayout, chunks: readonly PackedChunk[]) {
    this.#layout = layout;
    // A chunk packed in its core is edited there, in place.
    this.#views = chunks.map((c) => (c.core !== undefined ? coreChunkViews(c.core) : chunkViews(layout, c)));
    let start = 0;
    for (const c of chunks) {
      this.#starts.push(start);
      start += c.count;
    }
  }

  /**
   * An editor of `chunks`: a new one, or, for a single chunk packed in its core, the core's
   * own (made once: it holds nothing but views of the core).
   */
  static of(layout: CoreLayout, chunks: readonly PackedChunk[]): PackedEditor {
    const core = chunks.length === 1 ? chunks[0]!.core : undefined;
    if (core === undefined || core.layout !== layout) return new PackedEditor(layout, chunks);
    let editor = coreEditors.get(core);
    if (editor === undefined) {
      editor = new PackedEditor(layout, chunks);
      coreEditors.set(core, editor);
    }
    return editor;
  }

  /** Only deltas at or above `lowestDelta` may be accepted (steps below were used). */
  setLowestDelta(index: number, lowestDelta: number): void {
    const bias = this.#layout.floorBias;
    const [v, k] = this.#locate(index);
    v.floor[k] = Math.min(2 * bias, Math.max(0, lowestDelta + bias));
  }

  /** Moves the item's current step (learned drift). */
  setCounter(index: number, counter: number): void {
    const [v, k] = this.#locate(index);
    writeCounter(v.counter, k, counter);
  }

  /** The core will not evaluate the item; its raw result is to be ignored. */
  skip(index: number): void {
    const [v, k] = this.#locate(index);
    v.params[k] = (v.params[k]! | this.#layout.paramSkip) >>> 0;
  }

  #locate(index: number): [ChunkViews, number] {
    const starts = this.#starts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= index) lo = mid;
      else hi = mid - 1;
    }
    return [this.#views[lo]!, index - starts[lo]!];
  }
}

/**
 * Zeroed chunk buffers kept for the next packer. A fresh ArrayBuffer of a full chunk (8192
 * items: 557 KB for SHA-1) costs more than the kernel takes for its items (the allocator
 * hands out new zeroed pages, and the garbage collector has to give them back); a batch of the
 * same size next time reuses one. Of each kind (plain, for inline batches; shared, for pooled
 * ones: a process may run both, and neither should push out the other's), the SPARE_LIMIT most
 * recently released are kept: as many as a pooled batch has slices in flight at once (pool.ts
 * SLICES_IN_FLIGHT; each slice's buffer comes back only when its worker has answered).
 */
const spares: ArrayBuffer[] = [];
const sharedSpares: SharedArrayBuffer[] = [];
const SPARE_LIMIT = 16;

/** A zeroed buffer of `bytes` bytes, shared or not: a spare one when there is one. */
function takeBuffer(bytes: number, shared = false): ArrayBuffer | SharedArrayBuffer {
  const kept = shared ? sharedSpares : spares;
  for (let k = kept.length - 1; k >= 0; k--) {
    if (kept[k]!.byteLength === bytes) return kept.splice(k, 1)[0]!;
  }
  return shared ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes);
}

/**
 * Wipes a chunk that has been run and will not be read again, and keeps its fixed buffer
 * (zeroed) for a later packer. Only for chunks whose every view is gone with them: a view kept
 * past this would see a later batch's items.
 */
export function releaseChunk(chunk: PackedChunk): void {
  wipeChunk(chunk);
  if (chunk.core !== undefined) return;
  const buffer = chunk.fixed;
  const kept: (ArrayBuffer | SharedArrayBuffer)[] = buffer instanceof SharedArrayBuffer ? sharedSpares : spares;
  // Detached (a plain chunk's buffer moved away by its caller; the pool shares its chunks and
  // moves only raw keys): nothing to keep. Released twice: it must not be handed out twice.
  if (buffer.byteLength === 0 || kept.includes(buffer)) return;
  kept.push(buffer);
  if (kept.length > SPARE_LIMIT) kept.shift();
}

/** Zeroes a chunk: its raw keys, midstates and codes are secret or tied to a secret. */
export function wipeChunk(chunk: PackedChunk): void {
  if (chunk.core !== undefined) {
    // Packed in the core: wipe its slots there, at the chunk's own midstate stride.
    if (chunk.core.setMidStride(chunk.midWords * 4) === 0) chunk.core.setMidStride(chunk.core.layout.midStride);
    chunk.core.wipe(chunk.count);
    return;
  }
  // A buffer moved away (detached: byteLength 0) has nothing to wipe, and no view can be made on it.
  if (chunk.fixed.byteLength > 0) new Uint8Array(chunk.fixed).fill(0);
  wipeKeys(chunk);
}

/**
 * Zeroes a chunk's raw keys only (a moved copy of them is detached here: nothing to wipe), for
 * the pool and its workers, which share the chunk's other fields and leave them to wipeChunk.
 */
export function wipeKeys(chunk: PackedChunk): void {
  if (chunk.keyBuffer.byteLength > 0) new Uint8Array(chunk.keyBuffer).fill(0);
}

/**
 * Wipes every slot of the core, at the widest midstate stride: for a caller that packed a chunk
 * in it (BatchPacker's `core`) and gives up before running it.
 */
export function wipeCore(core: Core): void {
  occupants.delete(core);
  core.setMidStride(core.layout.midStride);
  core.wipe(core.layout.maxItems);
}

/** Copies a chunk's fields into the core's regions (the first step of running it). */
export function loadChunk(core: Core, chunk: PackedChunk): void {
  vacate(core);
  const v = core.views;
  const c = chunkViews(core.layout, chunk);
  // The core reads each item's midstates at the chunk's own stride; a chunk naming any other
  // (corrupt, or from another version) is refused before anything is copied.
  if (core.setMidStride(chunk.midWords * 4) === 0) {
    throw new TotpFleetError('ERR_CORE_FAILED', 'a chunk names a midstate stride the core does not take');
  }
  v.counter.set(c.counter);
  v.code.set(c.code);
  v.params.set(c.params);
  v.floor.set(c.floor);
  v.keyOff.set(c.keyOff);
  v.keyLen.set(c.keyLen);
  v.mid.set(c.mid);
  v.keyPool.set(c.keys);
}

/**
 * Runs one chunk on `core` and writes its `count` results into `out` at `offset`.
 * The core's secret-bearing regions are wiped afterwards, whatever happens.
 */
export function runChunk(core: Core, chunk: PackedChunk, mode: KernelMode, out: Int32Array, offset: number): void {
  const n = chunk.count;
  if (chunk.core !== undefined && chunk.core !== core) {
    wipeChunk(chunk);
    throw new TotpFleetError('ERR_CORE_FAILED', 'a chunk packed in one core was run on another');
  }
  try {
    // A chunk packed in this core is in place already; only its midstate stride is to be set.
    if (chunk.core === undefined) loadChunk(core, chunk);
    else if (core.setMidStride(chunk.midWords * 4) === 0) {
      throw new TotpFleetError('ERR_CORE_FAILED', 'a chunk names a midstate stride the core does not take');
    }
    // Packed here with midstates only: nothing to derive (see PackedChunk.midsReady).
    if (chunk.core === undefined || chunk.midsReady !== true) core.deriveKeys(n);
    if (mode === 'verify') core.verifyBatch(n);
    else if (mode === 'verify-scalar') core.verifyBatchScalar(n);
    else core.generateBatch(n);
    const result = core.views.result;
    // A few results are copied one by one: a subarray to copy them from costs more.
    if (n <= 16) for (let k = 0; k < n; k++) out[offset + k] = result[k]!;
    else out.set(result.subarray(0, n), offset);
  } finally {
    core.wipe(n);
  }
}

/** Runs every chunk in order on `core`, then wipes them; one result per packed item. */
export function runChunks(core: Core, chunks: readonly PackedChunk[], mode: KernelMode): Int32Array {
  let total = 0;
  for (const c of chunks) total += c.count;
  const out = new Int32Array(total);
  let offset = 0;
  try {
    for (const c of chunks) {
      runChunk(core, c, mode, out, offset);
      offset += c.count;
    }
  } finally {
    for (const c of chunks) wipeChunk(c);
  }
  return out;
}

/**
 * Derives the midstates of `keys` for the algorithm `alg` (the core's code; default SHA-1) on
 * `core`, in as many kernel calls as they need, into `out`: `words` per key, in order (default
 * the whole slot, `layout.midStride / 4`). Core regions are wiped afterwards.
 */
export function deriveMidstates(
  core: Core, keys: readonly Uint8Array[], out: Uint32Array, alg = core.layout.algSha1, words = core.layout.midStride / 4,
): void {
  vacate(core);
  const { layout, views: v } = core;
  // The narrowest slot that holds `words` (a call of their own: the next chunk sets its own).
  const stride = MID_SLOT_WORDS.find((s) => s >= words) ?? layout.midStride / 4;
  if (core.setMidStride(stride * 4) === 0) throw new TotpFleetError('ERR_CORE_FAILED', 'the core refused a midstate stride');
  const params = (alg << layout.paramAlgShift) >>> 0;
  let i = 0;
  while (i < keys.length) {
    let n = 0;
    let bytes = 0;
    try {
      while (i + n < keys.length && n < layout.maxItems && bytes + keys[i + n]!.length <= layout.keyPoolSize) {
        const key = keys[i + n]!;
        v.keyPool.set(key, bytes);
        v.keyOff[n] = bytes;
        v.keyLen[n] = key.length;
        v.params[n] = params;
        bytes += key.length;
        n++;
      }
      // Every key was checked before; one the core refused would leave zero midstates, which
      // anyone can compute codes for, so that is a failure, not a result.
      if (core.deriveKeys(n) !== n) throw new TotpFleetError('ERR_CORE_FAILED', 'the core refused a key it was given');
      if (words === stride) out.set(v.mid.subarray(0, n * words), i * words);
      else for (let k = 0; k < n; k++) out.set(v.mid.subarray(k * stride, k * stride + words), (i + k) * words);
    } finally {
      core.wipe(n);
    }
    i += n;
  }
}

/** Cores already warmed: the inline core is shared by every verifier on a thread. */
const warmed = new WeakSet<Core>();

/**
 * Runs a throw-away batch through `core` a few times so that the engine compiles the hot
 * kernels with its optimising tier now rather than during the first real batches (V8 starts
 * WebAssembly in a baseline tier and optimises functions once they are hot). Zero keys; the
 * core is wiped afterwards.
 */
export function warmCore(core: Core, rounds = 3): void {
  if (warmed.has(core)) return;
  warmed.add(core);
  const { layout, views: v } = core;
  const n = layout.maxItems;
  const params = packParams(layout, 6, 1, 1) | layout.paramMidReady;
  core.setMidStride(40); // the SHA-1 slot real batches use
  try {
    for (let r = 0; r < rounds; r++) {
      v.params.fill(params, 0, n);
      v.floor.fill(0, 0, n);
      v.counter.fill(0, 0, 2 * n);
      v.counter.fill(r + 1, 0, 1);
      core.verifyBatch(n);
    }
  } finally {
    core.wipe(n);
    v.params.fill(0, 0, n);
  }
}
