// otpauth URIs: the corpus of real-world shapes, round trips (':' and non-ASCII included),
// agreement with the otpauth package in both directions, and refusals that never quote a secret.

import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import fc from 'fast-check';
import * as OTPAuth from 'otpauth';
import { describe, expect, it } from 'vitest';
import { base32, generateSecret, otpauth, OtpauthError, type OtpauthKey } from '../src/index.js';

interface Corpus {
  source: string;
  accepted: { shape: string; uri: string; options?: otpauth.ParseOptions; expect: Record<string, unknown> }[];
  refused: { shape: string; uri: string; error: string }[];
}
const corpus = JSON.parse(readFileSync(new URL('./vectors/otpauth-uris.json', import.meta.url), 'utf8')) as Corpus;

/** The parsed key with the secret as base32 and the counter as a string, for comparison with JSON. */
function plain(key: OtpauthKey): Record<string, unknown> {
  return {
    ...key,
    issuer: key.issuer ?? null,
    secret: base32.encode(key.secret),
    counter: key.counter === undefined ? undefined : String(key.counter),
  };
}

/** Every base32 secret-looking run of a URI (what an error message must never contain). */
function secretsIn(uri: string): string[] {
  return [...uri.matchAll(/secret=([^&]+)/gi)].map((m) => m[1]!).filter((s) => s.length >= 8);
}

describe(`corpus: ${corpus.source.slice(0, 60)}...`, () => {
  it.each(corpus.accepted.map((c) => [c.shape, c] as const))('accepts %s', (_, c) => {
    const key = otpauth.parse(c.uri, c.options);
    expect(plain(key)).toMatchObject(c.expect);
    expect(Object.isFrozen(key)).toBe(true);
    expect(key.rotate).toBe(c.expect.rotate === true);
    // What was accepted builds back into a URI that parses to the same key.
    const again = otpauth.parse(otpauth.build({
      type: key.type, account: key.account, issuer: key.issuer ?? 'x', secret: key.secret, algorithm: key.algorithm,
      digits: key.digits, period: key.period, counter: key.counter, minSecretBytes: c.options?.minSecretBytes,
    }), c.options);
    expect(plain(again)).toEqual({ ...plain(key), issuer: key.issuer ?? 'x' });
  });

  it.each(corpus.refused.map((c) => [c.shape, c] as const))('refuses %s', (_, c) => {
    let error: unknown;
    try {
      otpauth.parse(c.uri);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(OtpauthError);
    const message = (error as Error).message;
    expect(message).toMatch(/^otpauth: /);
    expect(message).toContain(c.error);
    for (const secret of secretsIn(c.uri)) expect(message).not.toContain(secret);
    expect(message).not.toContain(c.uri.trim());
  });
});

describe('otpauth.build', () => {
  const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';

  it('writes the strict form: encoded label parts, one literal separator, defaults left out', () => {
    expect(otpauth.build({ account: 'alice@example.com', issuer: 'Example Co', secret }))
      .toBe(`otpauth://totp/Example%20Co:alice%40example.com?secret=${secret}&issuer=Example%20Co`);
    expect(otpauth.build({ account: 'a:b', issuer: 'c:d', secret, algorithm: 'SHA512', digits: 8, period: 60 }))
      .toBe(`otpauth://totp/c%3Ad:a%3Ab?secret=${secret}&issuer=c%3Ad&algorithm=SHA512&digits=8&period=60`);
    expect(otpauth.build({ type: 'hotp', account: 'bob', issuer: 'E', secret, counter: 2n ** 64n - 1n }))
      .toBe(`otpauth://hotp/E:bob?secret=${secret}&issuer=E&counter=18446744073709551615`);
  });

  it('takes raw bytes or base32, and writes base32 without padding', () => {
    const bytes = new TextEncoder().encode('1234567890123456');
    const uri = otpauth.build({ account: 'a', issuer: 'b', secret: bytes });
    expect(uri).toContain('secret=GEZDGNBVGY3TQOJQGEZDGNBVGY&');
    expect(otpauth.parse(uri).secret).toEqual(bytes);
  });

  it("defaults the issuer to the host name, as WHM does", () => {
    const key = otpauth.parse(otpauth.build({ account: 'alice', secret }));
    expect(key.issuer).toBe(hostname());
  });

  it('refuses bad options with TypeError / RangeError naming the option, never the secret', () => {
    const cases: [unknown, ErrorConstructor, RegExp][] = [
      [undefined, TypeError, /"options"/],
      [{ secret }, TypeError, /"account"/],
      [{ account: '', secret }, RangeError, /"account"/],
      [{ account: 'a\nb', secret }, RangeError, /"account" must not contain control/],
      [{ account: ' a', secret }, RangeError, /"account".*white space/],
      [{ account: 'a', issuer: 'x'.repeat(257), secret }, RangeError, /"issuer"/],
      [{ account: 'a', secret: 'GEZD*NBV' }, TypeError, /"secret" is not valid base32/],
      [{ account: 'a', secret: 'JBSWY3DPEHPK3PXP' }, RangeError, /"secret" expected 16\.\.256 bytes/],
      [{ account: 'a', secret: 42 }, TypeError, /"secret"/],
      [{ account: 'a', secret, algorithm: 'sha256' }, RangeError, /"algorithm"/],
      [{ account: 'a', secret, digits: 9 }, RangeError, /"digits"/],
      [{ account: 'a', secret, period: 0 }, RangeError, /"period"/],
      [{ account: 'a', secret, type: 'motp' }, RangeError, /"type"/],
      [{ account: 'a', secret, type: 'hotp' }, TypeError, /"counter" is required/],
      [{ account: 'a', secret, type: 'hotp', counter: -1 }, RangeError, /"counter"/],
      [{ account: 'a', secret, type: 'hotp', counter: 0, period: 30 }, TypeError, /"period" is for totp/],
      [{ account: 'a', secret, counter: 0 }, TypeError, /"counter" is for hotp/],
    ];
    for (const [opts, E, message] of cases) {
      expect(() => otpauth.build(opts as otpauth.BuildOptions)).toThrow(E);
      expect(() => otpauth.build(opts as otpauth.BuildOptions)).toThrow(message);
      try {
        otpauth.build(opts as otpauth.BuildOptions);
      } catch (e) {
        expect((e as Error).message).not.toContain('JBSWY3DPEHPK3PXP');
        expect((e as Error).message).not.toContain(secret);
      }
    }
  });

  it('refuses a name with a lone surrogate as a RangeError naming it (encodeURIComponent threw URIError)', () => {
    for (const bad of ['\ud800', 'a\udc00b', 'alice\ud83d']) {
      expect(() => otpauth.build({ account: bad, issuer: 'E', secret })).toThrow(RangeError);
      expect(() => otpauth.build({ account: bad, issuer: 'E', secret })).toThrow(/"account"/);
      expect(() => otpauth.build({ account: 'a', issuer: bad, secret })).toThrow(RangeError);
      expect(() => otpauth.build({ account: 'a', issuer: bad, secret })).toThrow(/"issuer"/);
    }
  });

  it('refuses C1 control characters (U+0080..U+009F, NEL a line break among them) as it does C0 ones', () => {
    for (const bad of ['a\u0085b', 'x\u0080', '\u009fy', 'line\u0085break']) {
      expect(() => otpauth.build({ account: bad, issuer: 'E', secret })).toThrow(/"account" must not contain control/);
      expect(() => otpauth.build({ account: 'a', issuer: bad, secret })).toThrow(/"issuer" must not contain control/);
    }
    expect(() => otpauth.parse(`otpauth://totp/E:a%C2%85b?secret=${secret}&issuer=E`)).toThrow(OtpauthError);
    expect(() => otpauth.parse(`otpauth://totp/E:ab?secret=${secret}&issuer=E%C2%85`)).toThrow(OtpauthError);
  });

  it('refuses line and paragraph separators and bidirectional formatting (a name that reads as another), both ways', () => {
    // 'Bank\u202Ekcab' shows as "Bankback" reversed after the override: a spoofed issuer in an app's list.
    for (const bad of ['Bank\u202Eevil', 'a\u2028b', 'a\u2029b', 'x\u2066y\u2069', '\u200Fname', 'n\u061Cm', 'a\u202Ab']) {
      expect(() => otpauth.build({ account: bad, issuer: 'E', secret })).toThrow(/"account" must not contain control/);
      expect(() => otpauth.build({ account: 'a', issuer: bad, secret })).toThrow(/"issuer" must not contain control/);
      const encoded = encodeURIComponent(bad);
      expect(() => otpauth.parse(`otpauth://totp/E:${encoded}?secret=${secret}&issuer=E`)).toThrow(OtpauthError);
      expect(() => otpauth.parse(`otpauth://totp/${encoded}:a?secret=${secret}&issuer=${encoded}`)).toThrow(OtpauthError);
    }
    // Right-to-left text itself is a name like any other.
    const key = otpauth.parse(otpauth.build({ account: 'משתמש', issuer: 'شركة', secret }));
    expect([key.issuer, key.account]).toEqual(['شركة', 'משתמש']);
  });

  it('accepts a legacy short secret only when minSecretBytes is lowered, and parse flags it', () => {
    const uri = otpauth.build({ account: 'a', issuer: 'b', secret: 'JBSWY3DPEHPK3PXP', minSecretBytes: 10 });
    expect(otpauth.parse(uri, { minSecretBytes: 10 }).rotate).toBe(true);
    expect(otpauth.parse(otpauth.build({ account: 'a', issuer: 'b', secret })).rotate).toBe(false);
  });
});

describe('round trips', () => {
  // Names an app can show: no control characters, no white space at either end.
  const name = fc.string({ unit: 'binary', minLength: 1, maxLength: 40 })
    .filter((s) => s.trim() === s && !/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/.test(s));

  it('issuer and account with ":", "+", "%", "&", "?", "#", "/" and non-ASCII survive', () => {
    const names = ['a:b', ':lead', 'trail:', 'Acme: EU', 'x+y', '100%', 'a&b=c', 'why?', '#1', 'a/b', 'Müller GmbH',
      'jürgen@müller.de', '日本語', 'emoji 🔐', 'Ελληνικά:ok'];
    for (const issuer of names) {
      for (const account of names) {
        const secret = generateSecret();
        const key = otpauth.parse(otpauth.build({ issuer, account, secret }));
        expect([key.issuer, key.account]).toEqual([issuer, account]);
        expect(key.secret).toEqual(secret);
      }
    }
  });

  it('holds for any names, algorithm, digits, period and counter (property)', () => {
    fc.assert(fc.property(
      name, name, fc.constantFrom('SHA1', 'SHA256', 'SHA512' as const), fc.constantFrom(6, 7, 8 as const),
      fc.integer({ min: 1, max: 86_400 }), fc.option(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
      fc.uint8Array({ minLength: 16, maxLength: 100 }),
      (issuer, account, algorithm, digits, period, counter, secret) => {
        const common = { issuer, account, secret, algorithm, digits } as const;
        const uri = counter === null
          ? otpauth.build({ ...common, period })
          : otpauth.build({ ...common, type: 'hotp', counter });
        const key = otpauth.parse(uri);
        expect(key).toMatchObject({ issuer, account, algorithm, digits, secret, rotate: false });
        if (counter === null) expect([key.type, key.period, key.counter]).toEqual(['totp', period, undefined]);
        else expect([key.type, key.period, key.counter]).toEqual(['hotp', undefined, counter]);
      },
    ), { numRuns: 300 });
  });
});

describe('agrees with the otpauth package (names without ":", which it splits on)', () => {
  const names = ['Example', 'ACME Co', 'alice@example.com', 'x+y', 'Müller GmbH', 'jürgen@müller.de', '100%', 'a&b'];

  it('otpauth reads what we build', () => {
    for (const issuer of names) {
      for (const account of names) {
        const secret = generateSecret({ algorithm: 'SHA256' });
        const theirs = OTPAuth.URI.parse(otpauth.build({ issuer, account, secret, algorithm: 'SHA256', digits: 8, period: 45 }));
        expect(theirs).toBeInstanceOf(OTPAuth.TOTP);
        const totp = theirs as OTPAuth.TOTP;
        expect([totp.issuer, totp.label, totp.algorithm, totp.digits, totp.period]).toEqual([issuer, account, 'SHA256', 8, 45]);
        expect(new Uint8Array(totp.secret.bytes)).toEqual(secret);
      }
    }
  });

  it('we read what otpauth builds', () => {
    for (const issuer of names) {
      for (const account of names) {
        const secret = new OTPAuth.Secret({ size: 20 });
        const hotp = new OTPAuth.HOTP({ issuer, label: account, secret, algorithm: 'SHA512', digits: 7, counter: 42 });
        const key = otpauth.parse(hotp.toString());
        expect(key).toMatchObject({ type: 'hotp', issuer, account, algorithm: 'SHA512', digits: 7, counter: 42n });
        expect(key.secret).toEqual(new Uint8Array(secret.bytes));
      }
    }
  });
});

describe('generateSecret', () => {
  it('makes 20/32/64 random bytes by algorithm, or the length asked for', () => {
    expect(generateSecret()).toHaveLength(20);
    expect(generateSecret({ algorithm: 'SHA1' })).toHaveLength(20);
    expect(generateSecret({ algorithm: 'SHA256' })).toHaveLength(32);
    expect(generateSecret({ algorithm: 'SHA512' })).toHaveLength(64);
    expect(generateSecret({ bytes: 16 })).toHaveLength(16);
    expect(generateSecret({ algorithm: 'SHA512', bytes: 256 })).toHaveLength(256);
    expect(Object.getPrototypeOf(generateSecret())).toBe(Uint8Array.prototype);
  });

  it('never repeats, and its bits are balanced', () => {
    const seen = new Set<string>();
    let ones = 0;
    for (let i = 0; i < 1000; i++) {
      const s = generateSecret();
      seen.add(base32.encode(s));
      for (const b of s) for (let bit = 0; bit < 8; bit++) ones += (b >> bit) & 1;
    }
    expect(seen.size).toBe(1000);
    // 160,000 fair bits: the mean is 80,000 and the standard deviation 200; 8 sigma is 1,600.
    expect(Math.abs(ones - 80_000)).toBeLessThan(1600);
  });

  it('refuses bad options naming them', () => {
    expect(() => generateSecret({ bytes: 15 })).toThrow(RangeError);
    expect(() => generateSecret({ bytes: 15 })).toThrow(/"bytes" expected an integer 16\.\.256, got 15/);
    expect(() => generateSecret({ bytes: 20.5 })).toThrow(TypeError);
    expect(() => generateSecret({ algorithm: 'MD5' as 'SHA1' })).toThrow(/"algorithm" expected one of SHA1, SHA256, SHA512/);
    expect(() => generateSecret({ algorithm: 1 as unknown as 'SHA1' })).toThrow(TypeError);
    expect(() => generateSecret(null as never)).toThrow(/"opts" expected an object/);
  });
});

describe('otpauth.parse on hostile input', () => {
  it('answers any string with a key or an OtpauthError, never another exception (property)', () => {
    const fragments = fc.constantFrom('otpauth://', 'totp/', 'hotp/', ':', '%3A', '%', '%E0%A4', '?', '&', '=', '#', '+',
      'secret=', 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ', 'issuer=', 'counter=', 'digits=', 'period=', 'algorithm=', '\n', ' ');
    const uri = fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.array(fragments, { maxLength: 20 }).map((a) => a.join('')));
    fc.assert(fc.property(uri, (text) => {
      try {
        const key = otpauth.parse(text);
        expect(key.secret.length).toBeGreaterThanOrEqual(16);
      } catch (error) {
        expect(error).toBeInstanceOf(OtpauthError);
      }
    }), { numRuns: 3000 });
  });

  it('refuses a URI longer than a QR code can hold, quickly', () => {
    const huge = `otpauth://totp/a?secret=${'A'.repeat(1_000_000)}`;
    const started = performance.now();
    expect(() => otpauth.parse(huge)).toThrow(/longer than 4296/);
    expect(performance.now() - started).toBeLessThan(100);
  });
});
