// JSON schemas of the HTTP API, and 400 messages made from validation errors. A message names
// where the problem is (`items/3/code`) and what was expected, never the value that was sent:
// it could be a secret or a code.

import type { FastifySchemaValidationError } from 'fastify';

/** Longest account identifier (the verifier's own limit). */
export const MAX_ACCOUNT = 512;
/** Longest base32 secret text: 256 bytes is 410 characters, with room for spaces and hyphens. */
export const MAX_SECRET = 1024;

/** One item. Types and sizes are checked here; content (digits, base32) is the verifier's job, per item. */
const item = {
  type: 'object',
  required: ['account', 'secret', 'code'],
  additionalProperties: false,
  properties: {
    account: { type: 'string', minLength: 1, maxLength: MAX_ACCOUNT },
    secret: { type: 'string', minLength: 1, maxLength: MAX_SECRET },
    // No length limit here: `code` is what a user typed, and a wrong length is that item's
    // 'malformed' (parseCode checks the length first), not a 400 for every item of the batch.
    // The body limit bounds its size.
    code: { type: 'string' },
    timestamp: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
  },
} as const;

/** The body of POST /v1/verify: one item, or `{ "items": [...] }`. */
export function verifyBodySchema(maxBatch: number): object {
  return {
    type: 'object',
    if: { required: ['items'] },
    then: {
      additionalProperties: false,
      properties: { items: { type: 'array', minItems: 1, maxItems: maxBatch, items: item } },
    },
    else: item,
  };
}

/**
 * One result of POST /v1/verify (VerifyResult in verify/types.ts), for fast-json-stringify. A field
 * missing here would be dropped from every answer: test/server.test.ts sends a result with
 * every field of VerifyResult (typed `Required<VerifyResult>`) through the route.
 */
export const resultSchema = {
  type: 'object',
  required: ['status'],
  properties: {
    status: { type: 'string' },
    delta: { type: 'integer' },
    step: { type: 'integer' },
    reason: { type: 'string' },
    retryAfterMs: { type: 'integer' },
    rotate: { type: 'boolean' },
  },
} as const;

/** The answer to a batch: `{ "results": [...] }`, one result per item, in order. */
export const batchResponseSchema = {
  type: 'object',
  required: ['results'],
  properties: { results: { type: 'array', items: resultSchema } },
} as const;

/** Readable text for the first validation error, without the offending value. */
export function validationMessage(errors: readonly FastifySchemaValidationError[], maxBatch: number): string {
  // With if/then/else the real error comes first; the "if" keyword error follows it.
  const e = errors.find((x) => x.keyword !== 'if') ?? errors[0];
  if (e === undefined) return 'the body does not match the schema';
  const at = e.instancePath.replace(/^\//, '') || 'body';
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'required': return `${at === 'body' ? '' : at + ': '}"${String(p.missingProperty)}" is required`;
    // The unknown name is not echoed: a client that mixed up its fields may have sent a secret as one.
    case 'additionalProperties': return `${at}: unknown field (allowed: ${at === 'body' ? '"items", or ' : ''}"account", "secret", "code", "timestamp")`;
    case 'type': return `${at} must be ${String(p.type)}`;
    case 'maxItems': return `${at}: at most ${maxBatch} items per request`;
    case 'minItems': return `${at}: at least one item`;
    case 'minLength': return `${at} must not be empty`;
    case 'maxLength': return `${at} is longer than ${String(p.limit)} characters`;
    case 'minimum':
    case 'maximum': return `${at} must be ${e.keyword === 'minimum' ? 'at least' : 'at most'} ${String(p.limit)}`;
    default: return `${at} is not valid (${e.keyword})`;
  }
}
