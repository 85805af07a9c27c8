// Packing canonical items into the core's struct-of-arrays layout, and running packed chunks.
//
// A chunk is one kernel call: at most `maxItems` items and `keyPoolSize` key bytes, in two
// ArrayBuffers so that it can be moved to a worker rather than cloned. Items arrive here
// already validated (verifier.ts); the core still refuses anything out of range on its own.

import type { Core, CoreLayout } from './wasm.js';

/** What the kernel is asked to do with a chunk. */
export type KernelMode = 'verify' | 'generate';

/** One kernel call's worth of items, struct-of-arrays, in two ArrayBuffers (fixed-size fields, keys). */
export interface PackedChunk {
  readonly count: number;
  /** The buffers behind every view below: what a transfer to a worker moves. */
  readonly buffers: readonly ArrayBuffer[];
  /** u64 counters as (low, high) u32 pairs. */
  readonly counter: Uint32Array;
  readonly code: Uint32Array;
  readonly params: Uint32Array;
  readonly keyOff: Uint32Array;
  readonly keyLen: Uint32Array;
  /** Raw key bytes of every item, back to back. */
  readonly keys: Uint8Array;
}

const TWO_32 = 2 ** 32;

/** The params word of an item (see assembly/layout.ts). */
export function packParams(layout: CoreLayout, digits: number, past: number, future: number): number {
  return ((digits << layout.paramDigitsShift) |
    (past << layout.paramPastShift) |
    (future << layout.paramFutureShift) |
    (layout.algSha1 << layout.paramAlgShift)) >>> 0;
}

/** Builds chunks item by item; `add` returns the item's index across all chunks. */
export class BatchPacker {
  readonly #layout: CoreLayout;
  readonly #chunks: PackedChunk[] = [];
  #remaining: number;
  #total = 0;
  // The chunk being filled.
  #cap = 0;
  #count = 0;
  #keyBytes = 0;
  #keyCap = 0;
  #fixed!: ArrayBuffer;
  #counter!: Uint32Array;
  #code!: Uint32Array;
  #params!: Uint32Array;
  #keyOff!: Uint32Array;
  #keyLen!: Uint32Array;
  #keys!: Uint8Array;

  /** `expected`: how many items will be added (sizes the first chunk; more may follow). */
  constructor(layout: CoreLayout, expected: number) {
    this.#layout = layout;
    this.#remaining = Math.max(1, expected);
  }

  /**
   * Adds an item. `counter` is a non-negative integer below 2^64 (number or bigint), `key`
   * at most `layout.maxKeyBytes` long: the caller has checked both.
   */
  add(key: Uint8Array, counter: number | bigint, code: number, params: number): number {
    if (this.#count === this.#cap || this.#keyBytes + key.length > this.#layout.keyPoolSize) {
      this.#close();
      this.#open();
    }
    const i = this.#count++;
    if (typeof counter === 'bigint') {
      this.#counter[2 * i] = Number(counter & 0xffffffffn);
      this.#counter[2 * i + 1] = Number(counter >> 32n);
    } else {
      this.#counter[2 * i] = counter >>> 0;
      this.#counter[2 * i + 1] = Math.floor(counter / TWO_32);
    }
    this.#code[i] = code;
    this.#params[i] = params;
    if (this.#keyBytes + key.length > this.#keyCap) this.#growKeys(this.#keyBytes + key.length);
    this.#keys.set(key, this.#keyBytes);
    this.#keyOff[i] = this.#keyBytes;
    this.#keyLen[i] = key.length;
    this.#keyBytes += key.length;
    this.#remaining--;
    return this.#total++;
  }

  /** The packed chunks, in order. The packer must not be used afterwards. */
  finish(): PackedChunk[] {
    this.#close();
    return this.#chunks;
  }

  #open(): void {
    const cap = Math.min(Math.max(1, this.#remaining), this.#layout.maxItems);
    // One buffer: 2 u32 counter words + code + params + keyOff + keyLen per item.
    const fixed = new ArrayBuffer(cap * 24);
    this.#fixed = fixed;
    this.#counter = new Uint32Array(fixed, 0, cap * 2);
    this.#code = new Uint32Array(fixed, cap * 8, cap);
    this.#params = new Uint32Array(fixed, cap * 12, cap);
    this.#keyOff = new Uint32Array(fixed, cap * 16, cap);
    this.#keyLen = new Uint32Array(fixed, cap * 20, cap);
    this.#cap = cap;
    this.#count = 0;
    this.#keyBytes = 0;
    this.#keyCap = 0;
    this.#keys = new Uint8Array(0);
    this.#growKeys(Math.min(cap * 32, this.#layout.keyPoolSize));
  }

  #growKeys(atLeast: number): void {
    const size = Math.min(Math.max(atLeast, this.#keyCap * 2), this.#layout.keyPoolSize);
    const keys = new Uint8Array(size);
    keys.set(this.#keys.subarray(0, this.#keyBytes));
    this.#keys.fill(0); // the old buffer held secrets
    this.#keys = keys;
    this.#keyCap = size;
  }

  #close(): void {
    if (this.#count === 0) return;
    const n = this.#count;
    const cap = this.#cap;
    const fixed = this.#fixed;
    this.#chunks.push({
      count: n,
      buffers: [fixed, this.#keys.buffer as ArrayBuffer],
      counter: new Uint32Array(fixed, 0, n * 2),
      code: new Uint32Array(fixed, cap * 8, n),
      params: new Uint32Array(fixed, cap * 12, n),
      keyOff: new Uint32Array(fixed, cap * 16, n),
      keyLen: new Uint32Array(fixed, cap * 20, n),
      keys: this.#keys.subarray(0, this.#keyBytes),
    });
    this.#count = 0;
    this.#cap = 0;
  }
}

/**
 * Runs one chunk on `core` and writes its `count` results into `out` at `offset`.
 * Secret-bearing core regions, and the chunk's own key bytes, are wiped afterwards.
 */
export function runChunk(core: Core, chunk: PackedChunk, mode: KernelMode, out: Int32Array, offset: number): void {
  const v = core.views;
  const n = chunk.count;
  try {
    v.counter.set(chunk.counter);
    v.code.set(chunk.code);
    v.params.set(chunk.params);
    v.keyOff.set(chunk.keyOff);
    v.keyLen.set(chunk.keyLen);
    v.keyPool.set(chunk.keys);
    core.deriveKeys(n);
    if (mode === 'verify') core.verifyBatch(n);
    else core.generateBatch(n);
    out.set(v.result.subarray(0, n), offset);
  } finally {
    core.wipe(n);
    chunk.keys.fill(0);
    chunk.code.fill(0);
  }
}

/** Runs every chunk in order on `core`; returns one result per packed item. */
export function runChunks(core: Core, chunks: readonly PackedChunk[], mode: KernelMode): Int32Array {
  let total = 0;
  for (const c of chunks) total += c.count;
  const out = new Int32Array(total);
  let offset = 0;
  for (const c of chunks) {
    runChunk(core, c, mode, out, offset);
    offset += c.count;
  }
  return out;
}
