// `serve` options from flags and TOTP_FLEET_* variables (no process started): precedence,
// parsing, token sources, and messages that name what the user typed.

import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { envName, serveOptions } from '../src/cli/serve.js';
import { TOKEN, OTHER_TOKEN } from './helpers/server.js';

const dir = mkdtempSync(join(tmpdir(), 'totp-fleet-options-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = { TOTP_FLEET_TOKENS: TOKEN };

describe('serve options', () => {
  it('maps every flag to TOTP_FLEET_<FLAG>; a flag wins over its variable', () => {
    expect(envName('max-batch')).toBe('TOTP_FLEET_MAX_BATCH');
    expect(serveOptions([], { ...env, TOTP_FLEET_MAX_BATCH: '7' })).toMatchObject({ maxBatch: 7 });
    expect(serveOptions(['--max-batch', '5'], { ...env, TOTP_FLEET_MAX_BATCH: '7' })).toMatchObject({ maxBatch: 5 });
    expect(serveOptions([], { ...env, TOTP_FLEET_REDIS_URL: 'redis://10.0.0.5:6379', TOTP_FLEET_DRIFT: 'yes', TOTP_FLEET_TRUST_PROXY: '0' }))
      .toMatchObject({ redisUrl: 'redis://10.0.0.5:6379', policy: { drift: true }, trustProxy: false });
    expect(serveOptions([], env)).not.toHaveProperty('accessLog');
    expect(serveOptions(['--access-log'], env)).toMatchObject({ accessLog: true });
    expect(serveOptions([], { ...env, TOTP_FLEET_ACCESS_LOG: '1' })).toMatchObject({ accessLog: true });
    expect(serveOptions([], env)).not.toHaveProperty('preTouch');
    expect(serveOptions(['--pretouch'], env)).toMatchObject({ preTouch: true });
    expect(serveOptions([], { ...env, TOTP_FLEET_PRETOUCH: 'yes' })).toMatchObject({ preTouch: true });
    expect(serveOptions([], { ...env, TOTP_FLEET_PRETOUCH: '0' })).toMatchObject({ preTouch: false });
    expect(serveOptions(['--past', '2', '--max-failures', '3', '--digits', '8'], env))
      .toMatchObject({ verifier: { window: { past: 2, future: 1 }, digits: 8 }, policy: { maxFailures: 3 } });
    expect(serveOptions(['--fleet-skew-ms', '60000', '--timestamp-skew-ms', '5000'], env))
      .toMatchObject({ policy: { fleetSkewMs: 60_000, timestampSkewMs: 5000 } });
    expect(serveOptions([], { ...env, TOTP_FLEET_TIMESTAMP_SKEW_MS: '2000' })).toMatchObject({ policy: { timestampSkewMs: 2000 } });
  });

  it('refuses what it cannot parse, naming the flag or the variable', () => {
    expect(() => serveOptions([], { ...env, TOTP_FLEET_DRIFT: 'maybe' })).toThrow(/TOTP_FLEET_DRIFT expected 1\/true\/yes or 0\/false\/no/);
    expect(() => serveOptions([], { ...env, TOTP_FLEET_PORT: '80x' })).toThrow(/^TOTP_FLEET_PORT expected an integer$/);
    expect(() => serveOptions(['--port', '80x'], env)).toThrow(/^--port expected an integer$/);
    // The TOTP options (shared with the other commands) too: the variable that was set, not the flag.
    expect(() => serveOptions([], { ...env, TOTP_FLEET_ALGORITHM: 'md5' })).toThrow(/^TOTP_FLEET_ALGORITHM expected SHA1, SHA256 or SHA512$/);
    expect(() => serveOptions([], { ...env, TOTP_FLEET_DIGITS: 'x' })).toThrow(/^TOTP_FLEET_DIGITS expected an integer$/);
    expect(() => serveOptions([], { ...env, TOTP_FLEET_MIN_SECRET_BYTES: '1e3' })).toThrow(/^TOTP_FLEET_MIN_SECRET_BYTES expected an integer$/);
    expect(() => serveOptions(['--digits', 'x'], { ...env, TOTP_FLEET_PERIOD: '30' })).toThrow(/^--digits expected an integer$/);
    expect(() => serveOptions(['--window', '2', '--past', '1'], env)).toThrow(/not both/);
    expect(() => serveOptions(['--generate-token'], {})).toThrow(/--generate-token needs --token-file/);
    expect(() => serveOptions(['--insecure-no-auth'], env)).toThrow(/exclude each other/);
    expect(() => serveOptions(['extra'], env)).toThrow(/no arguments/);
    expect(serveOptions(['--help'], {})).toBe('help');
  });

  // README "Configuration": a bad value stops serve with exit status 2 and a message naming the
  // flag or variable. A TLS file that is no key or certificate, or a key that is not the
  // certificate's, used to fail at listen with OpenSSL's words only (exit status 1).
  const openssl = spawnSync('openssl', ['version'], { encoding: 'utf8' }).status === 0;
  it.skipIf(!openssl)('refuses TLS files that are not a key and its certificate, naming the flag or the variable', () => {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'], { encoding: 'utf8' });
    expect(made.status).toBe(0);
    const junk = join(dir, 'junk.pem');
    writeFileSync(junk, 'not a pem file\n');
    const other = join(dir, 'other-key.pem');
    writeFileSync(other, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    expect(serveOptions(['--tls-key', key, '--tls-cert', cert], env)).toHaveProperty('tls');
    expect(() => serveOptions(['--tls-key', junk, '--tls-cert', cert], env)).toThrow(/^--tls-key: .*junk\.pem is not a PEM private key/);
    expect(() => serveOptions(['--tls-key', key, '--tls-cert', key], env)).toThrow(/^--tls-cert: .*key\.pem is not a PEM certificate/);
    expect(() => serveOptions([], { ...env, TOTP_FLEET_TLS_KEY: junk, TOTP_FLEET_TLS_CERT: cert })).toThrow(/^TOTP_FLEET_TLS_KEY: /);
    expect(() => serveOptions(['--tls-key', other, '--tls-cert', cert], env)).toThrow(/^--tls-key: .* is not the private key of --tls-cert/);
    expect(() => serveOptions(['--tls-key', join(dir, 'missing.pem'), '--tls-cert', cert], { ...env })).toThrow(/^--tls-key: cannot read/);
  });

  it('reads tokens from TOTP_FLEET_TOKENS and a token file together (rotation), and creates one when told', () => {
    const file = join(dir, 'tokens');
    writeFileSync(file, `# rotated in on Monday\n${OTHER_TOKEN}\r\n\n`, { mode: 0o600 });
    expect(serveOptions(['--token-file', file], { TOTP_FLEET_TOKENS: ` ${TOKEN} ,` })).toMatchObject({ tokens: [TOKEN, OTHER_TOKEN] });
    writeFileSync(join(dir, 'empty'), '# nothing\n');
    expect(() => serveOptions(['--token-file', join(dir, 'empty')], {})).toThrow(/holds no token/);
    expect(() => serveOptions(['--token-file', join(dir, 'missing')], {})).toThrow(/cannot read the token file .*missing: ENOENT/);
    const made = join(dir, 'made');
    const opts = serveOptions(['--token-file', made, '--generate-token'], {});
    expect(opts).not.toBe('help');
    expect(statSync(made).mode & 0o777).toBe(0o600);
    expect((opts as { tokens: string[] }).tokens).toHaveLength(1);
    expect(() => serveOptions([], {})).toThrow(/no bearer token/);
  });
});
