// Base32 (RFC 4648 §6), the encoding authenticator apps use for TOTP secrets.
//
// Decoding is forgiving where people are (lower case, missing padding, spaces and hyphens
// between groups, as secrets are printed for typing) and strict where a mistake would
// silently change the key: invalid characters, impossible lengths, misplaced padding and
// non-zero trailing bits are all refused. Error messages never quote the input.

import {
  ALPHABET, BASE32_CHARACTER, BASE32_LENGTH, BASE32_PADDING, dataCharacters, decodeInto, maxDecodedBytes,
} from './base32-into.js';

/** 5-bit value → character code. */
const ALPHABET_CODES = Uint8Array.from(ALPHABET, (c) => c.charCodeAt(0));

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

/** Texts longer than this are counted before `decode` allocates (not sized from their length). */
const SIZE_FROM_LENGTH = 1024;

/**
 * Decodes base32 text: case-insensitive, padding optional, spaces and hyphens ignored.
 * Throws Base32Error (never quoting the input) for anything that is not base32.
 * @example base32.decode('gezd gnbv gy3t qojq gezd gnbv gy3t qojq') // the bytes of '12345678901234567890'
 */
export function decode(text: string, options: DecodeOptions = {}): Uint8Array {
  if (typeof text !== 'string') throw new TypeError('"text" expected a string');
  const n = text.length;
  const room = maxDecodedBytes(n <= SIZE_FROM_LENGTH ? n : dataCharacters(text));
  const out = new Uint8Array(room);
  const bytes = decodeInto(text, out, 0, options.allowTrailingBits === true);
  if (bytes < 0) throw new Base32Error(problemMessage(bytes, text));
  if (bytes === room) return out;
  // Spaces, hyphens or padding: fewer bytes than characters allowed for.
  const exact = out.slice(0, bytes);
  out.fill(0, 0, bytes);
  return exact;
}

function problemMessage(problem: number, text: string): string {
  switch (problem) {
    case BASE32_PADDING:
      return 'base32: misplaced or wrong padding';
    case BASE32_LENGTH:
      return `base32: a length of ${dataCharacters(text)} characters cannot encode whole bytes`;
    case BASE32_CHARACTER:
      return 'base32: invalid character';
    default:
      return 'base32: non-zero trailing bits (the text was altered or truncated)';
  }
}
