// Base32 (RFC 4648 §6), the encoding authenticator apps use for TOTP secrets.
//
// Decoding is forgiving where people are (lower case, missing padding, spaces and hyphens
// between groups, as secrets are printed for typing) and strict where a mistake would
// silently change the key: invalid characters, impossible lengths, misplaced padding and
// non-zero trailing bits are all refused. Error messages never quote the input.

import { charCodeAt } from './charcode.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** 5-bit value → character code. */
const ALPHABET_CODES = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0));

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

/** Thrown by `base32.decode` for text that is not base32. */
export class Base32Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Base32Error';
  }
}

/**
 * Encodes bytes as upper-case base32.
 * @example base32.encode(new TextEncoder().encode('12345678901234567890')) // 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ'
 */
export function encode(bytes: Uint8Array, options: { padding?: boolean } = {}): string {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('"bytes" expected a Uint8Array');
  const chars = Math.ceil((bytes.length * 8) / 5);
  const length = options.padding === true ? Math.ceil(chars / 8) * 8 : chars;
  // ASCII codes into a buffer, then one flat string (string concatenation would build a rope
  // of one node per character, ~20x the memory of the text).
  const out = new Uint8Array(length).fill(0x3d); // '='
  let buffer = 0;
  let bits = 0;
  let j = 0;
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xfff;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out[j++] = ALPHABET_CODES[(buffer >>> bits) & 31]!;
    }
  }
  if (bits > 0) out[j++] = ALPHABET_CODES[(buffer << (5 - bits)) & 31]!;
  return Buffer.from(out.buffer, 0, length).toString('latin1');
}

export interface DecodeOptions {
  /**
   * Accept text whose last character carries non-zero unused bits (default false). Some
   * panels issue such secrets (26 characters for 16 bytes, say) and authenticator apps
   * accept them; strict decoding refuses them because the text may be altered or truncated.
   */
  allowTrailingBits?: boolean;
}

/**
 * Decodes base32 text: case-insensitive, padding optional, spaces and hyphens ignored.
 * Throws Base32Error (never quoting the input) for anything that is not base32.
 * @example base32.decode('gezd gnbv gy3t qojq gezd gnbv gy3t qojq') // the bytes of '12345678901234567890'
 */
export function decode(text: string, options: DecodeOptions = {}): Uint8Array {
  if (typeof text !== 'string') throw new TypeError('"text" expected a string');
  // Pass 1: count data characters and check the padding, which may only come at the very end.
  // (Two passes over the text instead of regular expressions and copies: this runs for every
  // base32 secret that misses the key cache.)
  const n = text.length;
  let data = 0;
  let padding = 0;
  for (let i = 0; i < n; i++) {
    const c = charCodeAt(text, i);
    if (c === SPACE || c === HYPHEN) continue;
    if (c === EQUALS) padding++;
    else if (padding > 0) throw new Base32Error('base32: misplaced or wrong padding');
    else data++;
  }
  if (padding > 0 && ((data + padding) % 8 !== 0 || padding > 6)) {
    throw new Base32Error('base32: misplaced or wrong padding');
  }
  if (!VALID_TAIL[data % 8]) {
    throw new Base32Error(`base32: a length of ${data} characters cannot encode whole bytes`);
  }
  // Pass 2: decode.
  const out = new Uint8Array(Math.floor((data * 5) / 8));
  let buffer = 0;
  let bits = 0;
  let j = 0;
  for (let i = 0; i < n; i++) {
    const c = charCodeAt(text, i);
    if (c === SPACE || c === HYPHEN) continue;
    if (c === EQUALS) break;
    const v = c < 128 ? DECODE[c]! : -1;
    if (v < 0) {
      out.fill(0); // what was decoded so far is part of a secret
      throw new Base32Error('base32: invalid character');
    }
    buffer = ((buffer << 5) | v) & 0xfff; // at most 7 + 5 bits are pending
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[j++] = (buffer >>> bits) & 0xff;
    }
  }
  if (options.allowTrailingBits !== true && (buffer & ((1 << bits) - 1)) !== 0) {
    out.fill(0);
    throw new Base32Error('base32: non-zero trailing bits (the text was altered or truncated)');
  }
  return out;
}
