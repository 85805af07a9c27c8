// The answers of POST /v1/verify as JSON (a single item's as text, a batch's as bytes), from fragments made once: every status and every
// reason the verifier gives is a fixed string, so `{"status":"valid"` and `,"reason":"store"`
// are constants, and only the integers are converted per result. fast-json-stringify (compiled
// from the response schemas in schema.ts) stays the reference: a result the fragments do not
// cover (a status or reason outside the tables, a number that is not an integer, a rotate that
// is not a boolean) makes the whole answer go through it, so the text is the same either way
// (test/serialize.test.ts holds the two to each other, a batch's bytes read as text).
//
// Why: a 1,000-item answer (mostly valid) took fast-json-stringify 54-59 µs, this 33 µs
// (microbenchmark, one process, 2026-11-23 22:25 UTC); small beside the ~2,600 µs of server CPU a
// 1,000-item request costs in all, but it is work per item of the server's own.

import type { VerifyResult } from '../verifier.js';

const STATUSES: readonly VerifyResult['status'][] = ['valid', 'invalid', 'replayed', 'locked', 'malformed', 'error'];
const REASONS: readonly NonNullable<VerifyResult['reason']>[] = [
  'request', 'code', 'timestamp', 'account', 'secret-handle', 'secret-type', 'secret-encoding', 'secret-length',
  'internal', 'store',
];

const STATUS_OPEN: ReadonlyMap<string, string> = new Map(STATUSES.map((s) => [s, `{"status":${JSON.stringify(s)}`]));
const REASON_FIELD: ReadonlyMap<string, string> = new Map(REASONS.map((r) => [r, `,"reason":${JSON.stringify(r)}`]));

/** One result as JSON, or undefined when the fragments do not cover it. Fields in the schema's order. */
function resultText(r: VerifyResult): string | undefined {
  const open = STATUS_OPEN.get(r.status);
  if (open === undefined) return undefined;
  let text = open;
  const { delta, step, reason, retryAfterMs, rotate } = r;
  if (delta !== undefined) {
    if (!Number.isInteger(delta)) return undefined;
    text += ',"delta":' + delta;
  }
  if (step !== undefined) {
    if (!Number.isInteger(step)) return undefined;
    text += ',"step":' + step;
  }
  if (reason !== undefined) {
    const field = REASON_FIELD.get(reason);
    if (field === undefined) return undefined;
    text += field;
  }
  if (retryAfterMs !== undefined) {
    if (!Number.isInteger(retryAfterMs)) return undefined;
    text += ',"retryAfterMs":' + retryAfterMs;
  }
  if (rotate !== undefined) {
    if (typeof rotate !== 'boolean') return undefined;
    text += rotate ? ',"rotate":true' : ',"rotate":false';
  }
  return text + '}';
}

/**
 * The last frozen result answered alone, and its text: the verifier shares one frozen result
 * among the matches of a step (and one per other outcome), so single items in a row are mostly
 * the same object, and its text need not be built again.
 */
let lastResult: VerifyResult | undefined;
let lastText: string | undefined;

/** The answer to a single item: the result's JSON, or undefined (then: the schema's serializer). */
export function singleAnswer(result: VerifyResult): string | undefined {
  if (result === lastResult) return lastText;
  const text = resultText(result);
  // Only a frozen result can be known to read the same next time.
  if (Object.isFrozen(result)) {
    lastResult = result;
    lastText = text;
  }
  return text;
}

/** Per run of one result object in a batch: its text and how many items in a row it answers (reused across calls). */
const runText: string[] = [];
const runLength: number[] = [];

/**
 * The answer to a batch, `{"results":[...]}`, as bytes (ASCII: every fragment and number is),
 * or undefined (then: the schema's serializer).
 *
 * The verifier shares one frozen result among the matches of a step (and one per other
 * outcome), so a batch's results are a few runs of the same object: 1,000 fresh accounts
 * answered `valid` are one run. Each run's text is made once and written once, then doubled
 * with copyWithin (log2 of the run's length copies), into a buffer of the exact size: no string
 * of 1,000 pieces for the socket to flatten (Buffer.byteLength) and copy again. Why: in a CPU
 * profile of `serve` under 1,000-item batches the text answer cost ~0.08 µs per item
 * (batchAnswer 0.023, its byteLength 0.058; 2026-11-24 06:33 UTC), before the socket's copy.
 * With `buffers`, the bytes are written into one of them (see AnswerBuffers), which the caller
 * gives back once the answer has been sent; without, into a new buffer.
 */
export function batchAnswer(results: readonly VerifyResult[], buffers?: AnswerBuffers): Buffer | undefined {
  const n = results.length;
  let runs = 0;
  let bytes = BATCH_OPEN.length + n + 1; // `{"results":[`, a comma or the `]` per result (or the `]` alone), `}`
  for (let i = 0; i < n;) {
    const r = results[i]!;
    let j = i + 1;
    while (j < n && results[j] === r) j++;
    const text = resultText(r);
    if (text === undefined) return undefined;
    runText[runs] = text;
    runLength[runs++] = j - i;
    bytes += (j - i) * text.length;
    i = j;
  }
  if (n === 0) bytes++; // `]` with no result before it
  const out = buffers === undefined ? Buffer.allocUnsafe(bytes) : buffers.take(bytes);
  let at = out.write(BATCH_OPEN, 0, 'latin1');
  for (let k = 0; k < runs; k++) {
    const text = runText[k]!;
    let count = runLength[k]!;
    if (k === 0) {
      // The first result has no comma before it.
      at += out.write(text, at, 'latin1');
      count--;
    }
    if (count === 0) continue;
    // One `,result`, then the copies made so far copied after them until the run is written.
    const start = at;
    out[at++] = COMMA;
    at += out.write(text, at, 'latin1');
    const total = (at - start) * count;
    for (let done = at - start; done < total;) {
      const len = Math.min(done, total - done);
      out.copyWithin(start + done, start, start + len);
      done += len;
    }
    at = start + total;
  }
  out[at++] = CLOSE_BRACKET;
  out[at++] = CLOSE_BRACE;
  return at === out.length ? out : out.subarray(0, at);
}

/**
 * Buffers for batch answers, used again once an answer has been sent. Why: a new buffer per
 * answer is memory outside V8's heap, which V8 counts toward starting its next full collection:
 * with a new ~45 KB buffer per 1,000-item answer, concurrent marking and sweeping took 4.6-4.7 %
 * of `serve`'s CPU samples against 1.3-1.4 % with text answers (perf, 2026-11-24 07:11-07:14
 * UTC), as much as the bytes saved. A buffer must only be given back when the socket no longer
 * needs it: after the response's 'finish' (every write of it done), never after an error.
 */
export class AnswerBuffers {
  /** Free buffers, each a whole ArrayBuffer of KEEP_FROM..KEEP_UP_TO bytes. */
  readonly #free: ArrayBuffer[] = [];

  /** A buffer of at least `bytes`: a free one, or a new one (a power of two from KEEP_FROM). */
  take(bytes: number): Buffer {
    const free = this.#free;
    for (let i = free.length - 1; i >= 0; i--) {
      if (free[i]!.byteLength >= bytes) {
        const buffer = free[i]!;
        free[i] = free[free.length - 1]!;
        free.pop();
        return Buffer.from(buffer);
      }
    }
    let size = KEEP_FROM;
    while (size < bytes && size < KEEP_UP_TO) size *= 2;
    return Buffer.allocUnsafeSlow(Math.max(size, bytes));
  }

  /** Gives back a buffer `take` returned (or a part of it) whose answer has been sent. */
  give(buffer: Buffer): void {
    const whole = buffer.buffer;
    // Only what take made (never a slice of Node's shared pool, which is smaller than KEEP_FROM).
    if (buffer.byteOffset !== 0 || !(whole instanceof ArrayBuffer) || whole.byteLength < KEEP_FROM || whole.byteLength > KEEP_UP_TO) return;
    if (this.#free.length < KEEP_AT_MOST) this.#free.push(whole);
  }
}

/** Answer buffers made: at least KEEP_FROM bytes (a 1,000-item answer is ~45 KB). */
const KEEP_FROM = 64 * 1024;
/** Kept for reuse: up to this size each, and this many (answers sent at once, about). */
const KEEP_UP_TO = 1024 * 1024;
const KEEP_AT_MOST = 64;

const BATCH_OPEN = '{"results":[';
const COMMA = 0x2c;
const CLOSE_BRACKET = 0x5d;
const CLOSE_BRACE = 0x7d;
