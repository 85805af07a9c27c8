// Error responses of the HTTP service: a stable `error` code, the HTTP status, and a message
// that never contains request data. Fastify's messages are not passed on: Node's JSON.parse
// quotes the text around a fault, and an unknown error's message could quote anything.

import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { TotpFleetError } from '../errors.js';
import type { ResolvedServerOptions } from './options.js';
import { validationMessage } from './schema.js';

/** The body of every error response. */
export function errorBody(statusCode: number, error: string, message: string): object {
  return { statusCode, error, message };
}

/** The app's error handler: maps fastify's and the verifier's errors to statuses. */
export function errorHandler(opts: Pick<ResolvedServerOptions, 'maxBatch' | 'bodyLimit'>) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    const code = error.code;
    if (error.validation !== undefined) {
      return reply.code(400).send(errorBody(400, 'invalid-request', validationMessage(error.validation, opts.maxBatch)));
    }
    // Never error.message for these: Node's JSON.parse quotes the text around the fault.
    if (code === 'FST_ERR_CTP_INVALID_JSON_BODY' || code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || error instanceof SyntaxError) {
      return reply.code(400).send(errorBody(400, 'invalid-json', 'the body is not valid JSON'));
    }
    if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send(errorBody(413, 'body-too-large', `the body is larger than ${opts.bodyLimit} bytes`));
    }
    if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return reply.code(415).send(errorBody(415, 'unsupported-media-type', 'send Content-Type: application/json'));
    }
    if (error instanceof TotpFleetError) {
      if (error.code === 'ERR_OVERLOADED') {
        reply.header('retry-after', '1');
        return reply.code(503).send(errorBody(503, 'overloaded', 'too many items in flight; retry shortly'));
      }
      if (error.code === 'ERR_CLOSED') {
        return reply.code(503).send(errorBody(503, 'closing', 'the server is shutting down'));
      }
      if (error.code === 'ERR_STORE_UNAVAILABLE') {
        return reply.code(503).send(errorBody(503, 'store-unavailable', 'the store is unavailable; retry shortly'));
      }
    }
    const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status < 500) {
      // Fastify's own client errors (bad Content-Length, prototype poisoning, ...): the status
      // text only, never a message that might quote the request.
      request.log.info({ reqId: request.id, errorCode: code }, 'client error');
      return reply.code(status).send(errorBody(status, 'bad-request', STATUS_CODES[status] ?? 'Bad Request'));
    }
    // Unexpected: log what kind of error and where, not its message (it could quote data). The
    // stack's frames only: a message of several lines fills the stack's first lines, not one.
    request.log.error({ reqId: request.id, errorType: error.name, errorCode: code, stack: stackFrames(error) }, 'internal error');
    return reply.code(500).send(errorBody(500, 'internal', 'internal error'));
  };
}

/**
 * The first frames of an error's stack (`    at ...` lines). The message heads the stack and may
 * span lines of any content (even one that looks like a frame): it is cut off whole first.
 */
function stackFrames(error: Error): string | undefined {
  let stack = error.stack;
  if (typeof stack !== 'string') return undefined;
  const message = typeof error.message === 'string' ? error.message : '';
  const at = message === '' ? -1 : stack.indexOf(message);
  if (at !== -1) stack = stack.slice(at + message.length);
  return stack.split('\n').filter((line) => /^\s+at /.test(line)).slice(0, 7).join('\n');
}
