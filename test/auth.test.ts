// Bearer-token checks: exactly the configured tokens, nothing that merely resembles one.

import { describe, expect, it } from 'vitest';
import { TokenSet } from '../src/server/auth.js';
import { OTHER_TOKEN, TOKEN } from './helpers/server.js';

describe('TokenSet', () => {
  const set = new TokenSet([TOKEN, OTHER_TOKEN]);

  it('accepts each configured token, with the scheme in any case and extra spaces', () => {
    for (const header of [`Bearer ${TOKEN}`, `bearer ${OTHER_TOKEN}`, `BEARER   ${TOKEN}  `]) expect(set.check(header)).toBe('ok');
  });

  it('refuses prefixes, extensions, other schemes, look-alike characters and oversized tokens', () => {
    expect(set.check(undefined)).toBe('missing');
    expect(set.check('')).toBe('missing');
    const lookAlike = TOKEN.slice(0, -1) + String.fromCharCode(0x100 + TOKEN.charCodeAt(TOKEN.length - 1)); // same low byte
    for (const header of [
      `Bearer ${TOKEN.slice(0, -1)}`, `Bearer ${TOKEN}x`, `Bearer ${TOKEN}${OTHER_TOKEN}`, `Basic ${TOKEN}`, `Bearer`, TOKEN,
      `Bearer ${lookAlike}`, `Bearer ${TOKEN} ${TOKEN}`, `Bearer ${'a'.repeat(513)}`, `Bearer ${TOKEN}\u0000`,
    ]) expect(set.check(header), header.slice(0, 40)).toBe('invalid');
  });

  it('tells tokens apart that differ only in length or only in the last character', () => {
    const pair = new TokenSet(['a'.repeat(16) + 'b']);
    expect(pair.check(`Bearer ${'a'.repeat(16)}b`)).toBe('ok');
    expect(pair.check(`Bearer ${'a'.repeat(16)}c`)).toBe('invalid');
    expect(pair.check(`Bearer ${'a'.repeat(16)}`)).toBe('invalid');
    expect(pair.check(`Bearer ${'a'.repeat(16)}b=`)).toBe('invalid');
  });
});
