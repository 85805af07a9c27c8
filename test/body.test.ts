// parseJsonBody (src/server/body.ts): the value JSON.parse gives for the whole text, whether the
// body is parsed whole or, when large, in pieces; and JSON.parse's SyntaxError when it is not JSON.

import { describe, expect, it } from 'vitest';
import { PIECES_FROM, parseJsonBody } from '../src/server/body.js';

/** A batch body of `n` items as JSON.stringify writes it. */
function batch(n: number, account = (i: number) => `user-${i}@example.com`): Record<string, unknown> {
  return {
    items: Array.from({ length: n }, (_, i) => ({
      account: account(i), secret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', code: String(100000 + i), timestamp: 1_700_000_000_000 + i,
    })),
  };
}

const parsed = (text: string): unknown => parseJsonBody(Buffer.from(text));

/** What parseJsonBody throws for `text`, or undefined. */
function thrown(text: string): unknown {
  try {
    parsed(text);
    return undefined;
  } catch (error) {
    return error;
  }
}

/** `text` with its first `},{` from `from` on replaced by `by`. */
function between(text: string, from: number, by: string): string {
  const at = text.indexOf('},{', from);
  return text.slice(0, at) + by + text.slice(at + 3);
}

describe('parseJsonBody', () => {
  it('gives JSON.parse\'s value for batches below and above the size parsed in pieces', () => {
    for (const n of [0, 1, 10, 900, 1000, 3000, 10_000]) {
      const text = JSON.stringify(batch(n));
      expect(parsed(text), `${n} items`).toEqual(JSON.parse(text));
    }
    expect(JSON.stringify(batch(3000)).length).toBeGreaterThan(2 * PIECES_FROM);
  });

  it('keeps every item whole when the text between items appears inside strings', () => {
    // Account names holding `},{` (and escaped quotes before it) where a cut could be looked for.
    const text = JSON.stringify(batch(4000, (i) => (i % 7 === 0 ? `a"},{"b\\"},{${i}` : `user-${i}@example.com`)));
    expect(text.length).toBeGreaterThan(2 * PIECES_FROM);
    expect(parsed(text)).toEqual(JSON.parse(text));
    // Nested objects and arrays inside items, separated the same way.
    const nested = JSON.stringify({ items: Array.from({ length: 3000 }, (_, i) => ({ account: `u${i}`, x: [{ a: i }, { b: [{}, {}] }], code: '123456' })) });
    expect(nested.length).toBeGreaterThan(PIECES_FROM);
    expect(parsed(nested)).toEqual(JSON.parse(nested));
  });

  it('gives the whole text\'s value when it is not exactly {"items":[…]}', () => {
    const items = JSON.stringify(batch(2000).items);
    for (const text of [
      `{"items":${items},"items":[]}`, // the last key wins, as JSON.parse decides
      `{"items":${items},"x":[{"a":1},{"b":2}]}`,
      `{"x":1,"items":${items}}`,
      ` {"items":${items}} `,
      `{"items":${items.slice(0, -1)}, {"account":"z"}]}`,
      `[${items}]`,
    ]) {
      expect(text.length).toBeGreaterThan(PIECES_FROM);
      expect(parsed(text), text.slice(-40)).toEqual(JSON.parse(text));
    }
  });

  it('skips a leading byte-order mark, as fastify\'s own JSON parser does', () => {
    for (const n of [1, 3000]) {
      const text = JSON.stringify(batch(n));
      expect(parseJsonBody(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)]))).toEqual(JSON.parse(text));
    }
    expect(() => parseJsonBody(Buffer.from([0xef, 0xbb, 0xbf]))).toThrow(SyntaxError);
  });

  it('leaves the body\'s bytes as they were, whether it parses in pieces, whole, or not at all', () => {
    const good = JSON.stringify(batch(3000, (i) => (i % 5 === 0 ? `ü-€-😀-${i}` : `user-${i}@example.com`)));
    for (const text of [
      good,
      `{"items":${JSON.stringify(batch(2000).items)},"x":1}`,
      between(good, 100_000, '}{'),
      between(good, 150_000, '},,{'),
    ]) {
      const body = Buffer.from(text);
      const copy = Buffer.from(body);
      const error = thrown(text);
      if (error === undefined) expect(parseJsonBody(body)).toEqual(JSON.parse(text));
      else expect(() => parseJsonBody(body)).toThrow(SyntaxError);
      expect(body.equals(copy)).toBe(true);
    }
  });

  it('throws JSON.parse\'s SyntaxError for text that is not JSON, however it is cut', () => {
    const good = JSON.stringify(batch(2000));
    const broken = [
      '',
      '{"items":[',
      good.slice(0, -1), // no closing brace
      good.replace('},{', '},,{'), // an empty element near the start
      between(good, 120_000, '}],{'), // a stray bracket between two items in the middle
      between(good, 100_000, '}{'), // a missing comma in a later piece
      `{"items":[${'{"a":"unterminated},{'.repeat(10_000)}]}`,
    ];
    for (const text of broken) {
      const error = thrown(text);
      expect(error, text.slice(0, 40)).toBeInstanceOf(SyntaxError);
      expect(() => JSON.parse(text)).toThrow(SyntaxError);
    }
  });
});
