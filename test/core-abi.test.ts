// The core's batch ABI driven directly through its views: bad items are RESULT_MALFORMED,
// never a trap, and never disturb their neighbours; every kernel agrees; secrets are wiped.

import { describe, expect, it } from 'vitest';
import { BatchPacker, PackedEditor, chunkViews, packParams, runChunks } from '../src/batch.js';
import { instantiateCore } from '../src/wasm.js';
import { refHotp } from './helpers/reference.js';
import { ascii } from './helpers/vectors.js';

const core = instantiateCore();
const { layout, views } = core;
const KEY = ascii('12345678901234567890');
const T = 1000n;

interface RawItem {
  counter: bigint;
  code: number;
  params: number;
  /** Key slot override; by default the item's own copy of KEY. */
  off?: number;
  len?: number;
  /** Lowest acceptable delta (replay protection); by default none. */
  lowestDelta?: number;
}

/** Writes items straight into the core's regions, runs deriveKeys + `kernel`, returns RESULT. */
function runRaw(kernel: 'verifyBatch' | 'verifyBatchScalar' | 'generateBatch', items: RawItem[]): number[] {
  items.forEach((it, i) => {
    views.keyPool.set(KEY, i * KEY.length);
    views.keyOff[i] = it.off ?? i * KEY.length;
    views.keyLen[i] = it.len ?? KEY.length;
    views.counter[2 * i] = Number(it.counter & 0xffffffffn);
    views.counter[2 * i + 1] = Number(it.counter >> 32n);
    views.code[i] = it.code;
    views.params[i] = it.params;
    views.floor[i] = it.lowestDelta === undefined ? 0 : it.lowestDelta + layout.floorBias;
  });
  try {
    core.deriveKeys(items.length);
    core[kernel](items.length);
    return Array.from(views.result.subarray(0, items.length));
  } finally {
    core.wipe(items.length);
  }
}

const ok = packParams(layout, 6, 1, 1);
const withField = (shift: number, value: number): number => ((ok & ~(0xff << shift)) | (value << shift)) >>> 0;
const codeAt = (delta: bigint): number => Number(refHotp(KEY, T + delta, 6));

const badItems: [string, Partial<RawItem>][] = [
  ['digits 5', { params: withField(layout.paramDigitsShift, 5) }],
  ['digits 9', { params: withField(layout.paramDigitsShift, 9) }],
  ['digits 0', { params: withField(layout.paramDigitsShift, 0) }],
  ['digits 255', { params: withField(layout.paramDigitsShift, 255) }],
  ['window past 11', { params: withField(layout.paramPastShift, 11) }],
  ['window future 11', { params: withField(layout.paramFutureShift, 11) }],
  ['window past 255', { params: withField(layout.paramPastShift, 255) }],
  ['algorithm 3 (after SHA512)', { params: (ok | (3 << layout.paramAlgShift)) >>> 0 }],
  ['algorithm 15', { params: (ok | (15 << layout.paramAlgShift)) >>> 0 }],
  ['PARAM_KEY_BAD set by the caller', { params: (ok | layout.paramKeyBad) >>> 0 }],
  ['key length 0', { len: 0 }],
  ['key length 257', { len: 257 }],
  ['key length 2^32-1', { len: 0xffffffff }],
  ['key offset at the end of the pool', { off: layout.keyPoolSize, len: 1 }],
  ['key slot crossing the end of the pool', { off: layout.keyPoolSize - 10, len: 20 }],
  ['key offset 2^32-1', { off: 0xffffffff }],
];
const badCodes: [string, number][] = [['10^6 for 6 digits', 1_000_000], ['2^32-1', 0xffffffff]];

describe.each(['verifyBatch', 'verifyBatchScalar'] as const)('%s', (kernel) => {
  it('answers RESULT_MALFORMED for every bad item, and valid neighbours still match', () => {
    const rows: RawItem[] = [];
    const want: number[] = [];
    const valid = (delta: bigint): void => {
      rows.push({ counter: T, code: codeAt(delta), params: ok });
      want.push(Number(delta));
    };
    for (const [, bad] of badItems) {
      valid(-1n);
      rows.push({ counter: T, code: codeAt(0n), params: ok, ...bad });
      want.push(layout.resultMalformed);
    }
    for (const [, code] of badCodes) {
      valid(1n);
      rows.push({ counter: T, code, params: ok });
      want.push(layout.resultMalformed);
    }
    valid(0n);
    expect(runRaw(kernel, rows)).toEqual(want);
  });

  it('gives each item its own answer whether the items of a four-lane round share a counter or not', () => {
    // Items 0..15 share T (the SIMD kernel reads one precomputed schedule for such rounds),
    // 16..31 sit at three steps (rounds of mixed counters), 32..39 share a step above 2^32.
    const counterOf = (i: number): bigint => (i < 16 ? T : i < 32 ? T + BigInt(i % 3) : T + (1n << 32n) + 7n);
    const items: RawItem[] = [];
    const want: number[] = [];
    for (let i = 0; i < 40; i++) {
      const counter = counterOf(i);
      // Deltas -1, 0, +1 in turn, and every fifth item a code from outside the window.
      const typed = i % 5 === 4 ? counter + 5n : counter + BigInt((i % 3) - 1);
      const code = Number(refHotp(KEY, typed, 6));
      items.push({ counter, code, params: ok });
      const match = [0n, -1n, 1n].find((d) => Number(refHotp(KEY, counter + d, 6)) === code);
      want.push(match === undefined ? layout.resultNoMatch : Number(match));
    }
    expect(runRaw(kernel, items)).toEqual(want);
  });

  it('skips candidates outside 0..2^64-1 rather than wrapping', () => {
    const max = (1n << 64n) - 1n;
    const code = (c: bigint): number => Number(refHotp(KEY, c, 6));
    // Preconditions: the wrapped neighbours' codes differ from the real candidates' codes.
    expect(code(max)).not.toBe(code(0n));
    expect(code(0n)).not.toBe(code(max));
    const params = packParams(layout, 6, 10, 10);
    expect(runRaw(kernel, [
      { counter: 0n, code: code(max), params }, // T-1 would wrap to 2^64-1
      { counter: max, code: code(0n), params }, // T+1 would wrap to 0
      { counter: 0n, code: code(10n), params },
      { counter: max, code: code(max - 10n), params },
    ])).toEqual([layout.resultNoMatch, layout.resultNoMatch, 10, -10]);
  });

  // Two steps of the RFC secret with the same 6-digit code (found by exhaustive search with
  // node:crypto): HOTP(910737) = HOTP(910738) = 911617. R5: a used step must not hide an
  // unused one with the same code, and a code that matches only used steps is REPLAYED.
  const TWIN = 910737n;
  const TWIN_CODE = 911617;
  it('test data: the twin steps really share a code', () => {
    expect(Number(refHotp(KEY, TWIN, 6))).toBe(TWIN_CODE);
    expect(Number(refHotp(KEY, TWIN + 1n, 6))).toBe(TWIN_CODE);
  });

  it('takes the first match at or above the floor; a match only below it is REPLAYED', () => {
    const item = (counter: bigint, lowestDelta?: number): RawItem => ({ counter, code: TWIN_CODE, params: ok, lowestDelta });
    expect(runRaw(kernel, [
      item(TWIN), // no floor: delta 0 (first in the order 0, -1, +1)
      item(TWIN, 1), // step TWIN used: the unused TWIN+1 (delta +1) is found behind it
      item(TWIN + 1n), // no floor: delta 0
      item(TWIN + 1n, 0), // TWIN used (delta -1 below the floor): delta 0 still accepted
      item(TWIN + 1n, 1), // both used: REPLAYED, not NO_MATCH
      item(TWIN + 1n, 2), // floor above the window: REPLAYED
      { counter: T, code: codeAt(-1n), params: ok, lowestDelta: 0 }, // an ordinary used step
      { counter: T, code: codeAt(1n), params: ok, lowestDelta: -5 }, // floor below the window: no effect
    ])).toEqual([0, 1, 0, 0, layout.resultReplayed, layout.resultReplayed, layout.resultReplayed, 1]);
  });

  it('does not evaluate an item flagged PARAM_SKIP (a locked account)', () => {
    expect(runRaw(kernel, [
      { counter: T, code: codeAt(0n), params: (ok | layout.paramSkip) >>> 0 },
      { counter: T, code: codeAt(0n), params: ok },
    ])).toEqual([layout.resultMalformed, 0]);
  });

  it('clamps a count above maxItems instead of trapping, and accepts 0', () => {
    expect(() => core.deriveKeys(layout.maxItems + 1)).not.toThrow();
    expect(() => core[kernel](layout.maxItems + 1)).not.toThrow();
    expect(() => core[kernel](0)).not.toThrow();
    core.wipe(layout.maxItems);
    views.params.fill(0);
  });
});

describe('generateBatch', () => {
  it('ignores the code and the window, refuses bad params and key slots', () => {
    const rows: RawItem[] = badItems.map(([, bad]) => ({ counter: T, code: 0, params: ok, ...bad }));
    const results = runRaw('generateBatch', [
      { counter: T, code: 0xffffffff, params: withField(layout.paramPastShift, 10) },
      ...rows,
    ]);
    expect(results[0]).toBe(codeAt(0n));
    // A window over 10 is refused even though generation does not use it.
    const malformed = badItems.map(() => layout.resultMalformed);
    expect(results.slice(1)).toEqual(malformed);
  });
});

describe('BatchPacker counters', () => {
  it('packs a counter given as a number or a bigint into the same u64 words', () => {
    const values = [0, 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 52 + 3, Number.MAX_SAFE_INTEGER];
    const words = (form: 'number' | 'bigint'): number[] => {
      const packer = new BatchPacker(layout, values.length);
      for (const v of values) packer.addKey(KEY, form === 'number' ? v : BigInt(v), 0, ok);
      const [chunk] = packer.finish();
      return Array.from(chunkViews(layout, chunk!).counter);
    };
    expect(words('number')).toEqual(words('bigint'));
    expect(words('bigint').slice(-2)).toEqual([0xffffffff, 0x1fffff]);
  });
});

describe('PackedEditor', () => {
  it('sets floors, moves steps and skips items across chunk boundaries', () => {
    const packer = new BatchPacker(layout, 10, 3); // chunks of 3: items 0-2, 3-5, 6-8, 9
    for (let i = 0; i < 10; i++) packer.addKey(KEY, T, codeAt(0n), ok);
    const chunks = packer.finish();
    expect(chunks.map((c) => c.count)).toEqual([3, 3, 3, 1]);
    const editor = new PackedEditor(layout, chunks);
    editor.setLowestDelta(2, 1); // delta 0 used: REPLAYED
    editor.setLowestDelta(3, -20); // clamped to "no floor"
    editor.setLowestDelta(4, 50); // clamped to "everything used"
    editor.setCounter(6, Number(T) + 1); // step moved: the code is now at delta -1
    editor.skip(9);
    const raw = Array.from(runChunks(core, chunks, 'verify'));
    expect(raw).toEqual([0, 0, layout.resultReplayed, 0, layout.resultReplayed, 0, -1, 0, 0, layout.resultMalformed]);
  });
});

describe('wiping', () => {
  it('after runChunks, no key byte, midstate or code is left in the core or the chunk', () => {
    const packer = new BatchPacker(layout, 100);
    for (let i = 0; i < 100; i++) packer.addKey(new Uint8Array(20 + (i % 200)).fill(0xa5), T, 123456, ok);
    const chunks = packer.finish();
    const before = chunks.map((c) => chunkViews(layout, c).keys.slice());
    expect(before.every((k) => k.some((b) => b !== 0))).toBe(true);
    runChunks(core, chunks, 'verify');
    for (const c of chunks) {
      const v = chunkViews(layout, c);
      expect(v.keys.every((b) => b === 0)).toBe(true);
      expect(v.mid.every((w) => w === 0)).toBe(true);
      expect(v.code.every((w) => w === 0)).toBe(true);
    }
    expect(views.keyPool.every((b) => b === 0)).toBe(true);
    expect(views.mid.every((w) => w === 0)).toBe(true);
    expect(views.code.subarray(0, 100).every((w) => w === 0)).toBe(true);
    expect(views.floor.subarray(0, 100).every((w) => w === 0)).toBe(true);
  });
});

describe('setMidStride: the midstate slot per item of a call', () => {
  const alg = (name: 'SHA256' | 'SHA512'): number => (name === 'SHA256' ? layout.algSha256 : layout.algSha512);
  const sha2 = (name: 'SHA256' | 'SHA512'): number => packParams(layout, 6, 1, 1, alg(name));
  const codeOf = (name: 'sha1' | 'sha256' | 'sha512', delta: bigint): number => Number(refHotp(KEY, T + delta, 6, name));

  it('takes 40, 64 and 128 bytes and refuses anything else, keeping the stride in force', () => {
    for (const bad of [0, 20, 39, 41, 96, 129, 256, 0xffffffff]) expect(core.setMidStride(bad)).toBe(0);
    for (const good of [40, 64, 128]) expect(core.setMidStride(good)).toBe(good);
  });

  it.each([
    [40, ['malformed', 'malformed']],
    [64, ['valid', 'malformed']],
    [128, ['valid', 'valid']],
  ] as const)('with %i bytes, an item whose hash needs more is malformed and its neighbours unharmed', (stride, want) => {
    for (const kernel of ['verifyBatch', 'verifyBatchScalar'] as const) {
      core.setMidStride(stride);
      const rows: RawItem[] = [
        { counter: T, code: codeOf('sha1', -1n), params: ok },
        { counter: T, code: codeOf('sha256', 1n), params: sha2('SHA256') },
        { counter: T, code: codeOf('sha1', 0n), params: ok },
        { counter: T, code: codeOf('sha512', -1n), params: sha2('SHA512') },
        { counter: T, code: codeOf('sha1', 1n), params: ok },
      ];
      const as = (w: string, delta: number): number => (w === 'valid' ? delta : layout.resultMalformed);
      expect(runRaw(kernel, rows)).toEqual([-1, as(want[0], 1), 0, as(want[1], -1), 1]);
    }
    core.setMidStride(128);
  });
});

describe.each(['verifyBatch', 'verifyBatchScalar'] as const)('%s: the floor holds for every hash', (kernel) => {
  it.each(['SHA256', 'SHA512'] as const)('%s: a code of a used step is REPLAYED, of an unused one valid', (name) => {
    const hash = name.toLowerCase() as 'sha256' | 'sha512';
    const params = packParams(layout, 6, 1, 1, name === 'SHA256' ? layout.algSha256 : layout.algSha512);
    const code = (delta: bigint): number => Number(refHotp(KEY, T + delta, 6, hash));
    core.setMidStride(128);
    // Nine items so that the SIMD lanes refill several times.
    const rows: RawItem[] = [];
    const want: number[] = [];
    for (let k = 0; k < 3; k++) {
      rows.push({ counter: T, code: code(0n), params, lowestDelta: 1 }); want.push(layout.resultReplayed);
      rows.push({ counter: T, code: code(1n), params, lowestDelta: 1 }); want.push(1);
      rows.push({ counter: T, code: code(-1n), params, lowestDelta: 0 }); want.push(layout.resultReplayed);
    }
    expect(runRaw(kernel, rows)).toEqual(want);
  });
});

describe('wipe: the key pool', () => {
  // wipe finds the furthest key byte any of its n items names (four items at a time, then the
  // rest): whichever item names it, in a group of four or in the tail, the pool is zeroed up to
  // there, and no further.
  it.each([1, 2, 3, 4, 5, 7, 8, 9])('zeroes up to the furthest slot named, wherever the item is among %i', (n) => {
    const pool = views.keyPool;
    try {
      for (let at = 0; at < n; at++) {
        pool.fill(0xaa, 0, 4096);
        for (let i = 0; i < n; i++) {
          views.keyOff[i] = i === at ? 1000 : 8 * i;
          views.keyLen[i] = i === at ? 20 : 8;
        }
        core.wipe(n);
        expect(pool.subarray(0, 1020).every((b) => b === 0)).toBe(true);
        expect(pool[1020]).toBe(0xaa);
        expect(Array.from(views.keyOff.subarray(0, n))).toEqual(new Array(n).fill(0));
        expect(Array.from(views.keyLen.subarray(0, n))).toEqual(new Array(n).fill(0));
      }
    } finally {
      pool.fill(0, 0, 4096);
    }
  });

  it.each([2, 4])('takes offsets as unsigned: a slot at 2^31 (item %i of 6) zeroes the whole pool', (at) => {
    const pool = views.keyPool;
    pool.fill(0xaa);
    for (let i = 0; i < 6; i++) {
      views.keyOff[i] = i === at ? 0x80000000 : 8 * i;
      views.keyLen[i] = 8;
    }
    core.wipe(6);
    expect(pool.every((b) => b === 0)).toBe(true);
  });
});
