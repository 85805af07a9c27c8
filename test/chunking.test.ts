// Batches larger than one kernel call: more items than the core's maxItems (8192) and more key
// bytes than its keyPoolSize (512 KiB) are split into chunks, and results stay in request order.

import { afterAll, describe, expect, it } from 'vitest';
import { base32, TotpVerifier, type VerifyRequest } from '../src/index.js';
import {
  BatchPacker, deriveMidstates, packParams, type PackedChunk, releaseChunk, runChunks, type KernelMode, wipeCore,
} from '../src/batch.js';
import { type Core, inlineCore, instantiateCore } from '../src/wasm.js';
import { Prng } from './helpers/prng.js';
import { refHotp, refVerify } from './helpers/reference.js';

const core = instantiateCore();
const { layout } = core;
const TS = 1_800_000_000_000;
const STEP = BigInt(Math.floor(TS / 30_000));

it('the core has the limits these tests are sized for', () => {
  expect(layout.maxItems).toBe(8192);
  expect(layout.keyPoolSize).toBe(512 * 1024);
  expect(layout.maxKeyBytes).toBe(256);
});

/** Packs `n` keys of `keyBytes` each; returns the chunk sizes (items, key bytes). */
function chunkSizes(n: number, keyBytes: number): { count: number; keyBytes: number }[] {
  const packer = new BatchPacker(layout, n);
  const key = new Uint8Array(keyBytes);
  const params = packParams(layout, 6, 1, 1);
  for (let i = 0; i < n; i++) packer.addKey(key, i, 0, params);
  return packer.finish().map((c) => ({ count: c.count, keyBytes: c.keyBytes }));
}

describe('BatchPacker splits at the core limits, not before', () => {
  it.each([
    ['8192 items of 20 bytes: one chunk', 8192, 20, [[8192, 8192 * 20]]],
    ['8193 items: 8192 + 1', 8193, 20, [[8192, 8192 * 20], [1, 20]]],
    ['20000 items: 8192 + 8192 + 3616', 20_000, 16, [[8192, 8192 * 16], [8192, 8192 * 16], [3616, 3616 * 16]]],
    ['2048 keys of 256 bytes fill the pool exactly: one chunk', 2048, 256, [[2048, 524_288]]],
    ['2049 keys of 256 bytes: 2048 + 1', 2049, 256, [[2048, 524_288], [1, 256]]],
    ['3000 keys of 256 bytes: 2048 + 952', 3000, 256, [[2048, 524_288], [952, 952 * 256]]],
  ] as const)('%s', (_, n, bytes, want) => {
    expect(chunkSizes(n, bytes)).toEqual(want.map(([count, keyBytes]) => ({ count, keyBytes })));
  });
});

/** n requests with distinct keys of `keyBytes`, codes from steps at delta (i % 7) - 3. */
function requests(n: number, keyBytes: number, seed: number) {
  const rng = new Prng(seed);
  return Array.from({ length: n }, (_, i) => {
    const key = rng.bytes(keyBytes);
    const code = refHotp(key, STEP + BigInt((i % 7) - 3), 6);
    return { key, code, expected: refVerify(key, STEP, code, 6, 1, 1) };
  });
}

const SETS = [
  { name: '20000 items (3 chunks by item count)', items: requests(20_000, 20, 1) },
  { name: '3000 items with 256-byte keys (2 chunks by key bytes)', items: requests(3000, 256, 2) },
];

describe('the core runs chunked batches in order', () => {
  for (const kernel of ['verify', 'verify-scalar'] as KernelMode[]) {
    for (const set of SETS) {
      it(`${kernel}: ${set.name}`, () => {
        const packer = new BatchPacker(layout, set.items.length);
        const params = packParams(layout, 6, 1, 1);
        for (const item of set.items) packer.addKey(item.key, STEP, Number(item.code), params);
        const chunks = packer.finish();
        expect(chunks.length).toBeGreaterThan(1);
        const raw = runChunks(core, chunks, kernel);
        expect(Array.from(raw, (r) => (r === layout.resultNoMatch ? null : r))).toEqual(set.items.map((item) => item.expected));
      });
    }
  }
});

describe('the verifier answers chunked batches in request order', () => {
  const verifiers = {
    inline: TotpVerifier.create({ threads: 0 }),
    'worker pool': TotpVerifier.create({ threads: 2, inlineThreshold: 0 }),
  };
  afterAll(async () => {
    await Promise.all(Object.values(verifiers).map(async (v) => (await v).close()));
  });
  const expectedOf = (e: number | null) =>
    e === null ? { status: 'invalid' } : { status: 'valid', delta: e, step: Number(STEP) + e };

  for (const [name, pending] of Object.entries(verifiers)) {
    for (const set of SETS) {
      it(`${name}: ${set.name}, raw-byte secrets`, async () => {
        const v = await pending;
        const results = await v.verifyBatch(set.items.map((it) => ({ secret: it.key, code: it.code, timestamp: TS })));
        expect(results).toEqual(set.items.map((it) => expectedOf(it.expected)));
      });
    }

    it(`${name}: 20000 items mixing raw keys, base32 (cache misses, then hits) and key handles`, async () => {
      const v = await pending;
      const items = SETS[0]!.items;
      const handles = v.importKeys(items.filter((_, i) => i % 3 === 2).map((it) => it.key));
      const reqs: VerifyRequest[] = items.map((it, i) => ({
        secret: i % 3 === 0 ? it.key : i % 3 === 1 ? base32.encode(it.key) : handles[(i - 2) / 3]!,
        code: it.code,
        timestamp: TS,
      }));
      const want = items.map((it) => expectedOf(it.expected));
      expect(await v.verifyBatch(reqs)).toEqual(want);
      expect(await v.verifyBatch(reqs)).toEqual(want);
      for (const h of handles) v.releaseKey(h);
    });
  }
});

describe('released chunk buffers', () => {
  const params = packParams(layout, 6, 1, 1);
  const mids = new Uint32Array(10).fill(0xdeadbeef);
  const pack = (n: number, shared = false): PackedChunk => {
    const packer = new BatchPacker(layout, n, layout.maxItems, 10, undefined, shared);
    for (let i = 0; i < n; i++) packer.addMid(mids, 0, 1000 + i, 123456, params);
    const chunks = packer.finish();
    expect(chunks).toHaveLength(1);
    return chunks[0]!;
  };

  it('are reused zeroed by a later packer: nothing of the earlier batch is left', () => {
    const first = pack(777);
    const buffer = first.fixed;
    releaseChunk(first);
    expect(new Uint8Array(buffer).every((b) => b === 0)).toBe(true);
    const second = pack(777);
    expect(second.fixed).toBe(buffer);
    // It holds only what the second packer wrote: the same bytes as a fresh buffer would.
    const fresh = pack(777);
    expect(fresh.fixed).not.toBe(buffer);
    expect(Buffer.from(second.fixed).equals(Buffer.from(fresh.fixed))).toBe(true);
    releaseChunk(second);
    releaseChunk(fresh);
  });

  it('are kept sixteen at most, the latest released (a pooled batch has up to 16 slices in flight)', () => {
    const chunks = Array.from({ length: 17 }, (_, k) => pack(201 + k));
    const buffers = chunks.map((c) => c.fixed);
    for (const c of chunks) releaseChunk(c);
    expect(pack(201).fixed).not.toBe(buffers[0]);
    expect(pack(217).fixed).toBe(buffers[16]);
    expect(pack(202).fixed).toBe(buffers[1]);
  });

  it('shared ones (packed for the pool) go back only to shared packers, and plain ones to plain packers; sixteen of each kept', () => {
    const shared = pack(444, true);
    const plain = pack(444);
    expect(shared.fixed).toBeInstanceOf(SharedArrayBuffer);
    expect(plain.fixed).toBeInstanceOf(ArrayBuffer);
    const sharedBuffer = shared.fixed;
    const plainBuffer = plain.fixed;
    releaseChunk(shared);
    expect(new Uint8Array(sharedBuffer).every((b) => b === 0)).toBe(true);
    releaseChunk(plain);
    // Sixteen plain ones released after it do not push the shared one out.
    const others = Array.from({ length: 16 }, (_, k) => pack(601 + k));
    for (const c of others) releaseChunk(c);
    expect(pack(444, true).fixed).toBe(sharedBuffer);
    expect(pack(444).fixed).not.toBe(plainBuffer);
  });

  it('a packer in the core is never shared', () => {
    expect(() => new BatchPacker(layout, 1, layout.maxItems, 10, instantiateCore(), true)).toThrow(RangeError);
  });

  it('released twice are handed out once', () => {
    const chunk = pack(555);
    releaseChunk(chunk);
    releaseChunk(chunk);
    const a = pack(555);
    const b = pack(555);
    expect(a.fixed).not.toBe(b.fixed);
  });

  it('moved to a worker (detached) are not kept', () => {
    const chunk = pack(333);
    structuredClone(chunk.fixed, { transfer: [chunk.fixed as ArrayBuffer] });
    releaseChunk(chunk);
    expect(pack(333).fixed.byteLength).toBeGreaterThan(0);
  });
});

describe('a batch packed straight into the core (the inline path)', () => {
  const params = packParams(layout, 6, 1, 1);
  const expected = (items: readonly { expected: number | null }[]) => items.map((it) => it.expected);
  const answers = (raw: Int32Array) => Array.from(raw, (r) => (r === layout.resultNoMatch ? null : r));
  const coreIsClean = (c: Core) => {
    const v = c.views;
    return v.keyPool.every((b) => b === 0) && v.mid.every((w) => w === 0) && v.code.every((w) => w === 0) &&
      v.keyOff.every((w) => w === 0) && v.keyLen.every((w) => w === 0) && v.floor.every((w) => w === 0);
  };
  /** Midstates of every item's key (10 words each), derived on a core of their own. */
  const midsOf = (items: readonly { key: Uint8Array }[]) => {
    const mids = new Uint32Array(items.length * 10);
    deriveMidstates(instantiateCore(), items.map((it) => it.key), mids, layout.algSha1, 10);
    return mids;
  };

  for (const kernel of ['verify', 'verify-scalar'] as KernelMode[]) {
    for (const set of SETS) {
      it(`${kernel}: ${set.name}: the first chunk in the core, the rest in buffers; the same results; the core wiped`, () => {
        const packer = new BatchPacker(layout, set.items.length, layout.maxItems, 32, core);
        for (const item of set.items) packer.addKey(item.key, STEP, Number(item.code), params);
        const chunks = packer.finish();
        expect(chunks.length).toBeGreaterThan(1);
        expect(chunks[0]!.core).toBe(core);
        expect(chunks[0]!.fixed.byteLength).toBe(0);
        expect(chunks.slice(1).every((c) => c.core === undefined && c.fixed.byteLength > 0)).toBe(true);
        expect(answers(runChunks(core, chunks, kernel))).toEqual(expected(set.items));
        expect(coreIsClean(core)).toBe(true);
      });
    }
  }

  it.each([
    ['while the first chunk is filling (5000 of 8192)', 5000],
    ['after the first chunk was closed (10000 items)', 10_000],
  ])('leaveCore %s moves it to a buffer and wipes the core; items added later and fillMid still land', (_, at) => {
    const items = SETS[0]!.items.slice(0, 12_000);
    const mids = midsOf(items);
    // SHA-1 items in 16-word slots: the core's stride in force (40 after the last test's run)
    // is narrower than the packed one, and the wipe must still reach every word.
    core.setMidStride(40);
    const packer = new BatchPacker(layout, items.length, layout.maxItems, 16, core);
    const pending: number[] = [];
    items.forEach((item, i) => {
      if (i === at) {
        packer.leaveCore();
        expect(coreIsClean(core)).toBe(true);
        for (const k of pending) packer.fillMid(k, mids, k * 10);
      }
      // Every third item's midstates come later (as a cache miss's do), the rest now.
      if (i % 3 === 0) pending.push(packer.addPending(STEP, Number(item.code), params));
      else packer.addMid(mids, i * 10, STEP, Number(item.code), params);
    });
    for (const k of pending) packer.fillMid(k, mids, k * 10);
    const chunks = packer.finish();
    expect(chunks.every((c) => c.core === undefined)).toBe(true);
    expect(coreIsClean(core)).toBe(true);
    expect(answers(runChunks(core, chunks, 'verify'))).toEqual(expected(items));
  });

  it('a chunk packed in one core and run on another is refused, and both cores are wiped', () => {
    const other = instantiateCore();
    const items = SETS[0]!.items.slice(0, 100);
    const packer = new BatchPacker(layout, items.length, layout.maxItems, 10, core);
    for (const item of items) packer.addKey(item.key, STEP, Number(item.code), params);
    const chunks = packer.finish();
    expect(() => runChunks(other, chunks, 'verify')).toThrow(expect.objectContaining({ code: 'ERR_CORE_FAILED' }));
    expect(coreIsClean(core)).toBe(true);
    expect(coreIsClean(other)).toBe(true);
  });

  it('wipeCore clears a chunk that will not be run', () => {
    const items = SETS[1]!.items.slice(0, 50); // 256-byte keys
    const packer = new BatchPacker(layout, items.length, layout.maxItems, 32, core);
    for (const item of items) packer.addKey(item.key, STEP, Number(item.code), params);
    packer.finish();
    expect(coreIsClean(core)).toBe(false);
    wipeCore(core);
    expect(coreIsClean(core)).toBe(true);
  });
});

describe('the inline core holds nothing of a batch once it is answered', () => {
  const clean = () => {
    const v = inlineCore().views;
    return v.keyPool.every((b) => b === 0) && v.mid.every((w) => w === 0) && v.code.every((w) => w === 0);
  };
  const items = SETS[0]!.items.slice(0, 9000); // two chunks: the first packed in the core
  const expectedOf = (e: number | null) =>
    e === null ? { status: 'invalid' } : { status: 'valid', delta: e, step: Number(STEP) + e };

  it.each([
    ['key handles', 'handle', false],
    ['raw bytes', 'bytes', false],
    ['base32, cache misses then hits', 'base32', false],
    ['every other request with an account (stateful: the chunk leaves the core for the store)', 'handle', true],
  ] as const)('%s', async (_, form, accounts) => {
    const v = await TotpVerifier.create({ threads: 0, now: () => TS });
    try {
      const handles = form === 'handle' ? v.importKeys(items.map((it) => it.key)) : [];
      const reqs: VerifyRequest[] = items.map((it, i) => ({
        secret: form === 'handle' ? handles[i]! : form === 'bytes' ? it.key : base32.encode(it.key),
        code: it.code,
        timestamp: TS,
        ...(accounts && i % 2 === 0 ? { account: `user-${i}` } : {}),
      }));
      for (let round = 0; round < 2; round++) {
        const results = await v.verifyBatch(reqs);
        // Accounts: the second round replays every code the first accepted.
        expect(results).toEqual(items.map((it, i) =>
          accounts && i % 2 === 0 && round === 1 && it.expected !== null ? { status: 'replayed' } : expectedOf(it.expected)));
        expect(clean()).toBe(true);
      }
    } finally {
      await v.close();
    }
  });
});
