// The answers of POST /v1/verify as JSON text, from fragments made once: every status and every
// reason the verifier gives is a fixed string, so `{"status":"valid"` and `,"reason":"store"`
// are constants, and only the integers are converted per result. fast-json-stringify (compiled
// from the response schemas in schema.ts) stays the reference: a result the fragments do not
// cover (a status or reason outside the tables, a number that is not an integer, a rotate that
// is not a boolean) makes the whole answer go through it, so the text is the same either way
// (test/serialize.test.ts holds the two to each other).
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

/** The answer to a batch, `{"results":[...]}`, or undefined (then: the schema's serializer). */
export function batchAnswer(results: readonly VerifyResult[]): string | undefined {
  let text = '{"results":[';
  for (let i = 0; i < results.length; i++) {
    const one = resultText(results[i]!);
    if (one === undefined) return undefined;
    text += i === 0 ? one : ',' + one;
  }
  return text + ']}';
}
