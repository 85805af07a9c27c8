// Typed access to test/vectors/*.json. The files are read at run time (not imported) so that
// they stay plain data that any other implementation can consume.

import { readFileSync } from 'node:fs';

function load<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../vectors/${name}`, import.meta.url), 'utf8')) as T;
}

export type Algorithm = 'SHA1' | 'SHA256' | 'SHA512';
export type Digits = 6 | 7 | 8;

export interface Rfc4226 {
  source: string;
  secret: { ascii: string; hex: string };
  digits: 6;
  vectors: { counter: number; hmac: string; truncatedHex: string; truncated: number; code: string }[];
}

export interface Rfc6238 {
  source: string;
  t0: number;
  period: number;
  digits: Digits;
  seeds: Record<Algorithm, string>;
  vectors: { time: number; utc: string; stepHex: string; algorithm: Algorithm; code: string }[];
}

export interface ExtendedCounters {
  source: string;
  secret: { ascii: string };
  vectors: { expression: string; counter: string; codes: Record<'6' | '8', string> }[];
  truncatedTime: {
    time: number; period: number; digits: Digits; code: string; wrongStep: string; wrongCode: string;
  };
}

export interface Base32Vectors {
  source: string;
  vectors: ({
    secret: string; hex: string; trailingBits: boolean; digits: Digits; code: string;
  } & ({ kind: 'totp'; time: number; period: number; t0: number } | { kind: 'hotp'; counter: number }))[];
}

export interface Rfc4648 {
  source: string;
  vectors: { ascii: string; encoded: string }[];
}

export interface WindowCollisions {
  source: string;
  secret: { ascii: string };
  digits: Digits;
  period: number;
  cases: { why: string; step: string; code: string; past: number; future: number; delta: number }[];
}

export const rfc4226 = load<Rfc4226>('rfc4226.json');
export const rfc6238 = load<Rfc6238>('rfc6238.json');
export const extendedCounters = load<ExtendedCounters>('extended-counters.json');
export const base32Vectors = load<Base32Vectors>('base32.json');
export const rfc4648 = load<Rfc4648>('rfc4648.json');
export const windowCollisions = load<WindowCollisions>('window-collisions.json');

/** The bytes of an ASCII string. */
export function ascii(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** The bytes of a hex string. */
export function fromHex(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}
