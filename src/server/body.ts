// The JSON body of a request, parsed with the same result as JSON.parse of its text, but a large
// batch is parsed in pieces, so that no string of it is longer than V8 keeps in its ordinary pages.
//
// Why: V8 puts every object over 128 KiB (kMaxRegularHeapObjectSize: a string of more than
// ~131,000 one-byte characters) in its large-object space, in memory mapped for that object
// alone and unmapped when it is collected, so each one is faulted in afresh. On the README's VM a
// fresh 4 KiB page costs ~14 µs: decoding a 135,901-byte body into one string took 679–686 µs,
// a 120,901-byte one 15–32 µs (`Buffer#toString`, 2026-11-24 05:47 UTC), and `serve` answered
// 1,000-item batches at ~340k verifies/s with 35-character account names against 600–750k with
// 19-character ones (2.9 against 1.6 µs of server CPU per item). In pieces of ~64 KiB, every
// string lives in pages V8 reuses.
//
// No scan for "__proto__" or "constructor" (fastify's default parser does one, 2% of a
// 1,000-item request): JSON.parse makes "__proto__" an own property, never the prototype, and
// the schema refuses every field it does not know (additionalProperties: false).

/** Bodies at least this long are parsed in pieces (below it, one string stays in ordinary pages). */
export const PIECES_FROM = 120 * 1024;
/** Bytes of items per piece, about. */
const PIECE = 64 * 1024;
/** The only shape parsed in pieces: `{"items":[` … `]}`, nothing before or after. */
const OPEN = Buffer.from('{"items":[');
/** Between two items, when the client writes no spaces (JSON.stringify, json_encode, encode_json). */
const BETWEEN = Buffer.from('},{');

/**
 * The value of the JSON text in `body` (UTF-8), as JSON.parse gives it; throws SyntaxError when
 * it is not JSON. A leading byte-order mark is skipped, as fastify's own parser skips it (a JSON
 * file saved by some Windows editors and sent with `curl -d @file` starts with one).
 */
export function parseJsonBody(body: Buffer): unknown {
  if (body.length >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) body = body.subarray(3);
  if (body.length >= PIECES_FROM) {
    const items = itemsInPieces(body);
    if (items !== undefined) return { items };
  }
  return JSON.parse(body.toString('utf8'));
}

/**
 * parseJsonBody as a fastify content-type parser for bodies read as bytes (`parseAs: 'buffer'`):
 * `serve`'s, and the benchmarks' empty route, which must parse as `serve` does.
 */
export function jsonBodyParser(_request: unknown, body: string | Buffer, done: (error: Error | null, value?: unknown) => void): void {
  let value: unknown;
  try {
    value = parseJsonBody(body as Buffer);
  } catch (error) {
    done(error as Error, undefined);
    return;
  }
  done(null, value);
}

/**
 * The items of a body `{"items":[I1,I2,…]}`, parsed as arrays of ~PIECE bytes cut after a `}`
 * that `},{` follows, or undefined when the body is not exactly that shape or a piece does not
 * parse (the caller then parses the whole, and gets the whole's answer or its SyntaxError).
 *
 * Why the result is JSON.parse's: every piece P is parsed as `[P]`. If a cut fell inside a
 * string, `[P]` would end in an unterminated string; if it fell inside an item (a nested array
 * or object), `[P]` would not close its brackets: either way it does not parse. So when every
 * `[P]` parses to a non-empty array, the body is `{"items":[` + P1 + `,` + P2 + … + `]}`, a
 * valid text whose value is an object with the one key "items" holding the pieces' elements
 * in order. (A body with other keys or text after the items, e.g. `{"items":[…],"x":1}`, has a
 * piece that cannot parse as an array, or does not end in `]}`.)
 */
function itemsInPieces(body: Buffer): unknown[] | undefined {
  const end = body.length - 2; // the closing `]`
  if (body[end] !== 0x5d || body[end + 1] !== 0x7d || body.compare(OPEN, 0, OPEN.length, 0, OPEN.length) !== 0) return undefined;
  const items: unknown[] = [];
  let start = OPEN.length;
  while (start < end) {
    let cut = end;
    if (end - start > PIECE) {
      const at = body.indexOf(BETWEEN, start + PIECE);
      if (at >= 0 && at < end) cut = at + 1; // after the `}`; the `,` is skipped
    }
    let piece: unknown;
    try {
      piece = JSON.parse(`[${body.toString('utf8', start, cut)}]`);
    } catch {
      return undefined;
    }
    if (!Array.isArray(piece) || piece.length === 0) return undefined;
    for (let i = 0; i < piece.length; i++) items.push(piece[i]);
    start = cut + 1;
  }
  return items;
}
