// Bearer-token authentication (RFC 6750). Tokens are compared in constant time: the presented
// token and every configured one are hashed to SHA-256 digests of equal length, and all of them
// are compared (no early exit), so neither a token's length nor which token matched, nor how
// many leading characters were right, shows in the response time.

import { createHash, timingSafeEqual } from 'node:crypto';

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

export type AuthOutcome = 'ok' | 'missing' | 'invalid';

/** The accepted tokens, kept only as digests. */
export class TokenSet {
  readonly #digests: Buffer[];

  constructor(tokens: readonly string[]) {
    this.#digests = tokens.map(digest);
  }

  get size(): number {
    return this.#digests.length;
  }

  /** Checks an Authorization header value. */
  check(header: string | undefined): AuthOutcome {
    if (header === undefined || header.length === 0) return 'missing';
    // "Bearer" is case-insensitive (RFC 7235 auth-scheme); one or more spaces before the token.
    const match = /^bearer +(\S+) *$/i.exec(header);
    if (match === null) return 'invalid';
    const presented = digest(match[1]!);
    let ok = false;
    for (const d of this.#digests) ok = timingSafeEqual(presented, d) || ok;
    return ok ? 'ok' : 'invalid';
  }
}
