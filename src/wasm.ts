// The only file that touches the WebAssembly core's exports.
//
// It compiles the module once per thread (synchronously, so that `totp.generate` can stay
// synchronous), checks the layout version, and hands out `Core` objects: typed views over the
// core's regions, created once per instance, plus the kernels. What the regions mean is the
// business of batch.ts; this file only knows where they are.

import { readFileSync } from 'node:fs';
import { instantiateSync } from '@assemblyscript/loader';
import { TotpFleetError } from './errors.js';

/** The layout version this file was written for (assembly/layout.ts LAYOUT_VERSION). */
const EXPECTED_LAYOUT_VERSION = 3;

/** Where the build puts the core: <package>/build/core.wasm, one level above src/ and dist/. */
const WASM_URL = new URL('../build/core.wasm', import.meta.url);

/** Raw exports of assembly/index.ts, as WebAssembly gives them. */
interface CoreExports {
  readonly memory: WebAssembly.Memory;
  readonly [global: string]: unknown;
  layoutOk(): number;
  deriveKeys(n: number): number;
  verifyBatch(n: number): number;
  verifyBatchScalar(n: number): number;
  generateBatch(n: number): void;
  wipe(n: number): void;
}

/** The core's constants, read from its exported globals. */
export interface CoreLayout {
  readonly version: number;
  readonly maxItems: number;
  readonly midStride: number;
  readonly maxKeyBytes: number;
  readonly keyPoolSize: number;
  readonly maxWindow: number;
  readonly algSha1: number;
  readonly paramDigitsShift: number;
  readonly paramPastShift: number;
  readonly paramFutureShift: number;
  readonly paramAlgShift: number;
  readonly paramMidReady: number;
  readonly paramKeyBad: number;
  readonly paramSkip: number;
  readonly resultNoMatch: number;
  readonly resultMalformed: number;
  readonly resultReplayed: number;
  readonly floorBias: number;
}

/** Views over one instance's regions; each holds `layout.maxItems` slots. */
export interface CoreViews {
  /** Midstates, `layout.midStride / 4` words per item. */
  readonly mid: Uint32Array;
  /** u64 counters as (low, high) u32 pairs: slot i is [2i, 2i + 1]. */
  readonly counter: Uint32Array;
  readonly code: Uint32Array;
  readonly params: Uint32Array;
  readonly result: Int32Array;
  /** Lowest acceptable delta + floorBias per item; 0 accepts every delta. */
  readonly floor: Uint32Array;
  readonly keyOff: Uint32Array;
  readonly keyLen: Uint32Array;
  readonly keyPool: Uint8Array;
}

/** One instance of the core: its layout, its views, and its kernels. */
export interface Core {
  readonly layout: CoreLayout;
  readonly views: CoreViews;
  deriveKeys(n: number): number;
  /** Four SIMD lanes; the kernel to use. */
  verifyBatch(n: number): number;
  /** The scalar reference, same contract. */
  verifyBatchScalar(n: number): number;
  generateBatch(n: number): void;
  wipe(n: number): void;
}

let compiled: WebAssembly.Module | undefined;

/** The compiled core, compiled on first use and shared by every instance on this thread. */
export function coreModule(): WebAssembly.Module {
  if (compiled === undefined) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(WASM_URL);
    } catch (cause) {
      throw new TotpFleetError('ERR_CORE_MISSING',
        `the WebAssembly core is missing at ${WASM_URL.pathname}; run "npm run build"`, { cause });
    }
    compiled = new WebAssembly.Module(bytes);
  }
  return compiled;
}

function globalValue(exports: CoreExports, name: string): number {
  const g = exports[name];
  if (!(g instanceof WebAssembly.Global)) {
    throw new TotpFleetError('ERR_CORE_LAYOUT', `the core does not export "${name}"`);
  }
  return Number(g.value);
}

/**
 * Instantiates the core synchronously. `module` lets a worker reuse a module compiled
 * elsewhere; by default this thread's shared module is used.
 */
export function instantiateCore(module: WebAssembly.Module = coreModule()): Core {
  // The loader supplies `env.abort`, which turns an abort in the core into a readable error.
  const { exports } = instantiateSync<Record<string, unknown>>(module, {});
  const raw = exports as unknown as CoreExports;
  const g = (name: string): number => globalValue(raw, name);
  const version = g('LAYOUT_VERSION');
  if (version !== EXPECTED_LAYOUT_VERSION) {
    throw new TotpFleetError('ERR_CORE_LAYOUT',
      `core layout version ${version} does not match the facade's ${EXPECTED_LAYOUT_VERSION}; rebuild`);
  }
  if (!raw.layoutOk()) {
    throw new TotpFleetError('ERR_CORE_LAYOUT', 'core memory does not hold its layout');
  }
  const layout: CoreLayout = Object.freeze({
    version,
    maxItems: g('MAX_ITEMS'),
    midStride: g('MID_STRIDE'),
    maxKeyBytes: g('MAX_KEY_BYTES'),
    keyPoolSize: g('KEY_POOL_SIZE'),
    maxWindow: g('MAX_WINDOW'),
    algSha1: g('ALG_SHA1'),
    paramDigitsShift: g('PARAM_DIGITS_SHIFT'),
    paramPastShift: g('PARAM_PAST_SHIFT'),
    paramFutureShift: g('PARAM_FUTURE_SHIFT'),
    paramAlgShift: g('PARAM_ALG_SHIFT'),
    paramMidReady: g('PARAM_MID_READY') >>> 0,
    paramKeyBad: g('PARAM_KEY_BAD') >>> 0,
    paramSkip: g('PARAM_SKIP') >>> 0,
    resultNoMatch: g('RESULT_NO_MATCH'),
    resultMalformed: g('RESULT_MALFORMED'),
    resultReplayed: g('RESULT_REPLAYED'),
    floorBias: g('FLOOR_BIAS'),
  });
  // Fixed memory (initial = maximum): the buffer never grows, so these views stay valid.
  const buffer = raw.memory.buffer;
  const n = layout.maxItems;
  const views: CoreViews = Object.freeze({
    mid: new Uint32Array(buffer, g('MID_PTR'), (n * layout.midStride) / 4),
    counter: new Uint32Array(buffer, g('COUNTER_PTR'), n * 2),
    code: new Uint32Array(buffer, g('CODE_PTR'), n),
    params: new Uint32Array(buffer, g('PARAMS_PTR'), n),
    result: new Int32Array(buffer, g('RESULT_PTR'), n),
    floor: new Uint32Array(buffer, g('FLOOR_PTR'), n),
    keyOff: new Uint32Array(buffer, g('KEY_OFF_PTR'), n),
    keyLen: new Uint32Array(buffer, g('KEY_LEN_PTR'), n),
    keyPool: new Uint8Array(buffer, g('KEY_POOL_PTR'), layout.keyPoolSize),
  });
  return Object.freeze({
    layout,
    views,
    deriveKeys: raw.deriveKeys,
    verifyBatch: raw.verifyBatch,
    verifyBatchScalar: raw.verifyBatchScalar,
    generateBatch: raw.generateBatch,
    wipe: raw.wipe,
  });
}

let inline: Core | undefined;

/** This thread's inline core, for small batches and synchronous generation. */
export function inlineCore(): Core {
  inline ??= instantiateCore();
  return inline;
}
