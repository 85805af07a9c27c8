// The answers of POST /v1/verify from fragments (src/server/serialize.ts) against the reference,
// fast-json-stringify compiled by fastify from the response schemas: the same text for every
// result the fragments cover, and undefined (the route then uses the reference) for the rest.

import fc from 'fast-check';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchResponseSchema, resultSchema } from '../src/server/schema.js';
import { AnswerBuffers, batchAnswer as batchBytes, singleAnswer } from '../src/server/serialize.js';
import type { VerifyResult } from '../src/verifier.js';

type Serialize = (value: unknown) => string;
/** A batch's answer (bytes, ASCII) as text, or undefined. */
const batchAnswer = (results: readonly VerifyResult[]): string | undefined => batchBytes(results)?.toString('latin1');
let reference: { one: Serialize; batch: Serialize };
const app = Fastify();

beforeAll(async () => {
  // The serializers fastify compiles for the route (reply.compileSerializationSchema), taken out once.
  app.get('/', (_request, reply) => {
    reference = {
      one: reply.compileSerializationSchema(resultSchema) as Serialize,
      batch: reply.compileSerializationSchema(batchResponseSchema) as Serialize,
    };
    return 'ok';
  });
  await app.inject({ method: 'GET', url: '/' });
});
afterAll(() => app.close());

const STATUSES = ['valid', 'invalid', 'replayed', 'locked', 'malformed', 'error'] as const;
const REASONS = ['request', 'code', 'timestamp', 'account', 'secret-handle', 'secret-type', 'secret-encoding', 'secret-length', 'internal', 'store'] as const;

/** Results as the verifier gives them: a known status and reason, integers, rotate true. */
const covered = fc.record({
  status: fc.constantFrom(...STATUSES),
  delta: fc.integer({ min: -10, max: 10 }),
  step: fc.maxSafeInteger().filter((n) => n >= 0),
  reason: fc.constantFrom(...REASONS),
  retryAfterMs: fc.nat(),
  rotate: fc.constant(true as const),
}, { requiredKeys: ['status'] }) as fc.Arbitrary<VerifyResult>;

/** Anything in the fields' places: other statuses and reasons, fractions, NaN, strings, booleans. */
const anyValue = fc.oneof(fc.string(), fc.double(), fc.integer(), fc.boolean(), fc.constant(undefined));
const odd = fc.record({
  status: fc.oneof(fc.constantFrom(...STATUSES), fc.string()),
  delta: anyValue,
  step: anyValue,
  reason: fc.oneof(fc.constantFrom(...REASONS), fc.string()),
  retryAfterMs: anyValue,
  rotate: anyValue,
}, { requiredKeys: ['status'] }) as unknown as fc.Arbitrary<VerifyResult>;

/** The reference's text, or the error it throws (a NaN integer, say). */
function referenceText(serialize: Serialize, value: unknown): string | Error {
  try {
    return serialize(value);
  } catch (error) {
    return error as Error;
  }
}

describe('answers from fragments', () => {
  it('are the text fast-json-stringify makes, for every status and reason and every optional field', () => {
    for (const status of STATUSES) {
      for (const reason of [undefined, ...REASONS]) {
        const r: VerifyResult = { status, delta: -1, step: 59_000_001, retryAfterMs: 900_000, rotate: true, ...(reason === undefined ? {} : { reason }) };
        expect(singleAnswer(r)).toBe(reference.one(r));
      }
    }
    const valid: VerifyResult = { status: 'valid', delta: 0, step: 3 };
    expect(singleAnswer(valid)).toBe('{"status":"valid","delta":0,"step":3}');
    expect(singleAnswer({ status: 'invalid' })).toBe('{"status":"invalid"}');
    expect(batchAnswer([valid, { status: 'malformed', reason: 'code' }])).toBe('{"results":[{"status":"valid","delta":0,"step":3},{"status":"malformed","reason":"code"}]}');
  });

  it('cover every result the verifier gives, one or in a batch, in order', () => {
    fc.assert(fc.property(fc.array(covered, { maxLength: 20 }), (results) => {
      expect(batchAnswer(results)).toBe(reference.batch({ results }));
      for (const r of results) expect(singleAnswer(r)).toBe(reference.one(r));
    }), { numRuns: 500 });
  });

  it('write runs of one shared result, and results in any order of runs, as the reference does', () => {
    // The verifier shares one frozen result among the matches of a step: a batch is mostly runs.
    const shared = fc.array(covered.map((r) => Object.freeze(r)), { minLength: 1, maxLength: 4 });
    fc.assert(fc.property(shared, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 70 })), { maxLength: 8 }), (pool, runs) => {
      const results = runs.flatMap(([which, length]) => Array.from({ length }, () => pool[which % pool.length]!));
      expect(batchAnswer(results)).toBe(reference.batch({ results }));
    }), { numRuns: 500 });
    const valid = Object.freeze({ status: 'valid', delta: 0, step: 59_848_125 } as const);
    for (const length of [1, 2, 3, 999, 1000, 1001, 1024]) {
      const results = Array.from({ length }, (_, i) => (i === 500 ? { status: 'invalid' as const } : valid));
      const bytes = batchBytes(results)!;
      expect(bytes.toString('latin1')).toBe(reference.batch({ results }));
      expect(bytes.length).toBe(Buffer.byteLength(reference.batch({ results })));
    }
    expect(batchAnswer([])).toBe(reference.batch({ results: [] }));
  });

  it('leave to the reference what they do not cover, and never give other text', () => {
    fc.assert(fc.property(fc.array(odd, { minLength: 1, maxLength: 5 }), (results) => {
      const batch = batchAnswer(results);
      if (batch !== undefined) expect(batch).toBe(referenceText(reference.batch, { results }));
      for (const r of results) {
        const one = singleAnswer(r);
        if (one !== undefined) expect(one).toBe(referenceText(reference.one, r));
      }
    }), { numRuns: 1000 });
    // Outside the tables: an unknown status or reason, a fraction, a rotate that is not a boolean.
    for (const r of [{ status: 'maybe' }, { status: 'error', reason: 'quota"' }, { status: 'valid', delta: 0.5 }, { status: 'locked', retryAfterMs: Number.NaN }, { status: 'valid', rotate: 1 }]) {
      expect(singleAnswer(r as unknown as VerifyResult)).toBeUndefined();
      expect(batchAnswer([{ status: 'valid' }, r as unknown as VerifyResult])).toBeUndefined();
    }
  });
});

describe('answer buffers', () => {
  it('are written to the answer\'s length, and given back buffers are used again', () => {
    const buffers = new AnswerBuffers();
    const valid = Object.freeze({ status: 'valid', delta: 0, step: 59_848_125 } as const);
    const results = Array.from({ length: 1000 }, () => valid);
    const first = batchBytes(results, buffers)!;
    expect(first.toString('latin1')).toBe(reference.batch({ results }));
    buffers.give(first);
    const second = batchBytes(results.slice(0, 10), buffers)!;
    expect(second.buffer).toBe(first.buffer);
    expect(second.toString('latin1')).toBe(reference.batch({ results: results.slice(0, 10) }));
    // Taken while the first is out: another buffer.
    const third = batchBytes(results, buffers)!;
    expect(third.buffer).not.toBe(second.buffer);
    expect(third.toString('latin1')).toBe(reference.batch({ results }));
  });

  it('keep only buffers they made: never a slice of Node\'s shared pool or a part of another buffer', () => {
    const buffers = new AnswerBuffers();
    const pooled = Buffer.from('{"results":[]}');
    const part = Buffer.allocUnsafeSlow(128 * 1024).subarray(16);
    buffers.give(pooled);
    buffers.give(part);
    const taken = buffers.take(10);
    expect(taken.buffer).not.toBe(pooled.buffer);
    expect(taken.buffer).not.toBe(part.buffer);
    expect(taken.length).toBeGreaterThanOrEqual(10);
  });
});
