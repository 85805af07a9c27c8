// otpauth.build where the host name gives no default issuer (an empty host name, possible in
// containers): the URI has no issuer, and what it says must still parse back unchanged.

import { describe, expect, it, vi } from 'vitest';

vi.mock('node:os', async (importOriginal) => ({ ...(await importOriginal<typeof import('node:os')>()), hostname: () => '' }));

const { otpauth } = await import('../src/index.js');

describe('otpauth.build without an issuer', () => {
  const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';

  it('leaves the issuer out when the host name is empty', () => {
    const uri = otpauth.build({ account: 'alice@example.com', secret });
    expect(uri).toBe(`otpauth://totp/alice%40example.com?secret=${secret}`);
    expect(otpauth.parse(uri)).toMatchObject({ issuer: undefined, account: 'alice@example.com' });
  });

  it('never writes a URI that parses into another account and an issuer', () => {
    // With no literal ':' in the label, parse takes an encoded one as the separator (apps
    // write that), so 'a:b' came back as issuer 'a', account 'b'.
    for (const account of ['a:b', 'corp:alice', ':lead', 'trail:']) {
      let uri: string;
      try {
        uri = otpauth.build({ account, secret });
      } catch (e) {
        expect(e).toBeInstanceOf(RangeError);
        expect((e as Error).message).toMatch(/"account"/);
        continue;
      }
      expect(otpauth.parse(uri)).toMatchObject({ issuer: undefined, account });
    }
  });
});
