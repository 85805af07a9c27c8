// The answers of POST /v1/verify from fragments (src/server/serialize.ts) against the reference,
// fast-json-stringify compiled by fastify from the response schemas: the same text for every
// result the fragments cover, and undefined (the route then uses the reference) for the rest.

import fc from 'fast-check';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { batchResponseSchema, resultSchema } from '../src/server/schema.js';
import { batchAnswer, singleAnswer } from '../src/server/serialize.js';
import type { VerifyResult } from '../src/verifier.js';

type Serialize = (value: unknown) => string;
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
