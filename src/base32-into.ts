// Base32 decoding into a caller's buffer, without allocating or throwing for bad text: what
// `base32.decode` is built on, and what packs a base32 secret straight into a chunk's key area
// (BatchPacker.addBase32). Internal: the public API is base32.ts.

import { charCodeAt } from './charcode.js';

export const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** Character code → 5-bit value; -1 for anything else. Lower case maps like upper case. */
const DECODE = new Int8Array(128).fill(-1);
for (let i = 0; i < ALPHABET.length; i++) {
  DECODE[ALPHABET.charCodeAt(i)] = i;
  DECODE[ALPHABET.toLowerCase().charCodeAt(i)] = i;
}

const SPACE = 0x20;
const HYPHEN = 0x2d;
const EQUALS = 0x3d;

/** Unpadded lengths modulo 8 that a whole number of bytes can produce. */
const VALID_TAIL = [true, false, true, false, true, true, false, true];

/** Why `decodeInto` refused a text (negative, so never a byte count). */
export const BASE32_PADDING = -1;
export const BASE32_LENGTH = -2;
export const BASE32_CHARACTER = -3;
export const BASE32_TRAILING_BITS = -4;

/**
 * The most bytes base32 text of `length` characters can decode to (every character data):
 * the room `decodeInto` needs.
 */
export function maxDecodedBytes(length: number): number {
  return Math.floor((length * 5) / 8);
}

/** Data characters of base32 text: neither spaces, hyphens nor padding. */
export function dataCharacters(text: string): number {
  let data = 0;
  for (let i = 0; i < text.length; i++) {
    const c = charCodeAt(text, i);
    if (c !== SPACE && c !== HYPHEN && c !== EQUALS) data++;
  }
  return data;
}

/**
 * Decodes base32 text into `out` from `offset` and returns the byte count, or a problem code
 * (BASE32_*, negative) for text that is not base32, after wiping whatever it wrote. Exactly
 * `decode`'s rules and its order of checks (padding, then length, then characters, then
 * trailing bits); no allocation, no exception for bad text. `out` must have room for the bytes
 * (`maxDecodedBytes(text.length)` is always enough); too little room is a RangeError, never a
 * silently shortened key.
 *
 * The common text (8-character groups of alphabet characters, no separators) is decoded in one
 * pass, a group (40 bits, 5 bytes) at a time, its eight 5-bit values checked at once by OR-ing
 * them; from the first group that is not such (a separator, padding, a bad character, the
 * tail), the rest goes through the general two-pass decoder. Groups end on a byte boundary, so
 * the general decoder starts there with nothing pending.
 */
export function decodeInto(text: string, out: Uint8Array, offset: number, allowTrailingBits: boolean): number {
  const n = text.length;
  const end = out.length;
  let i = 0;
  let j = offset;
  while (i + 8 <= n && j + 5 <= end) {
    const c0 = charCodeAt(text, i);
    const c1 = charCodeAt(text, i + 1);
    const c2 = charCodeAt(text, i + 2);
    const c3 = charCodeAt(text, i + 3);
    const c4 = charCodeAt(text, i + 4);
    const c5 = charCodeAt(text, i + 5);
    const c6 = charCodeAt(text, i + 6);
    const c7 = charCodeAt(text, i + 7);
    if ((c0 | c1 | c2 | c3 | c4 | c5 | c6 | c7) > 127) break;
    const v0 = DECODE[c0]!;
    const v1 = DECODE[c1]!;
    const v2 = DECODE[c2]!;
    const v3 = DECODE[c3]!;
    const v4 = DECODE[c4]!;
    const v5 = DECODE[c5]!;
    const v6 = DECODE[c6]!;
    const v7 = DECODE[c7]!;
    if ((v0 | v1 | v2 | v3 | v4 | v5 | v6 | v7) < 0) break;
    out[j] = (v0 << 3) | (v1 >> 2);
    out[j + 1] = (v1 << 6) | (v2 << 1) | (v3 >> 4);
    out[j + 2] = (v3 << 4) | (v4 >> 1);
    out[j + 3] = (v4 << 7) | (v5 << 2) | (v6 >> 3);
    out[j + 4] = (v6 << 5) | v7;
    i += 8;
    j += 5;
  }
  if (i === n) return j - offset;
  return decodeRest(text, i, out, offset, j, allowTrailingBits);
}

/**
 * `decodeInto` from `text[from]` on (a group boundary; `text[0 .. from)` is data, already
 * decoded into `out[offset .. j)`): the general decoder, in two passes.
 */
function decodeRest(text: string, from: number, out: Uint8Array, offset: number, j: number, allowTrailingBits: boolean): number {
  // Pass 1: count data characters and check the padding, which may only come at the very end.
  // (Two passes over the text instead of regular expressions and copies.)
  const n = text.length;
  let data = from;
  let padding = 0;
  for (let i = from; i < n; i++) {
    const c = charCodeAt(text, i);
    if (c === SPACE || c === HYPHEN) continue;
    if (c === EQUALS) padding++;
    else if (padding > 0) return refuse(out, offset, j, BASE32_PADDING);
    else data++;
  }
  if (padding > 0 && ((data + padding) % 8 !== 0 || padding > 6)) return refuse(out, offset, j, BASE32_PADDING);
  if (!VALID_TAIL[data % 8]) return refuse(out, offset, j, BASE32_LENGTH);
  if (offset + maxDecodedBytes(data) > out.length) {
    out.fill(0, offset, j);
    throw new RangeError('base32: no room for the decoded bytes');
  }
  // Pass 2: decode.
  let buffer = 0;
  let bits = 0;
  for (let i = from; i < n; i++) {
    const c = charCodeAt(text, i);
    if (c === SPACE || c === HYPHEN) continue;
    if (c === EQUALS) break;
    const v = c < 128 ? DECODE[c]! : -1;
    if (v < 0) return refuse(out, offset, j, BASE32_CHARACTER); // what was decoded so far is part of a secret
    buffer = ((buffer << 5) | v) & 0xfff; // at most 7 + 5 bits are pending
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[j++] = (buffer >>> bits) & 0xff;
    }
  }
  if (!allowTrailingBits && (buffer & ((1 << bits) - 1)) !== 0) return refuse(out, offset, j, BASE32_TRAILING_BITS);
  return j - offset;
}

/** Wipes `out[offset .. j)` (part of a secret) and returns `problem`. */
function refuse(out: Uint8Array, offset: number, j: number, problem: number): number {
  out.fill(0, offset, j);
  return problem;
}
