// `totp-fleet enroll` driven end to end as a user drives it: a child process whose stdout is
// read for the secret it printed, and whose stdin gets the code an authenticator app would
// show, computed here from that secret.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { base32, otpauth, RedisStore, TotpVerifier, totp, type Algorithm } from '../src/index.js';
import { REDIS_URL, deleteKeys, haveRedis, testPrefix } from './helpers/redis.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = fileURLToPath(new URL('../dist/cli/index.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'totp-fleet-enroll-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Session {
  status: number | null;
  stdout: string;
  stderr: string;
  secret: string;
  uri: string;
}

/**
 * Runs `enroll args`; once the secret appears on stdout, `answer(secret)` gives the lines to
 * type (null: close stdin without typing). Resolves when the process exits.
 */
function enroll(args: string[], answer: (secret: string, uri: string) => string[] | null, env: Record<string, string> = {}): Promise<Session> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'enroll', ...args],
      { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    const timer = setTimeout(() => child.kill(), 30_000);
    let stdout = '';
    let stderr = '';
    let secret = '';
    let uri = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const s = /^Secret: +([A-Z2-7 ]+)$/m.exec(stdout);
      const u = /^URI: +(\S+)$/m.exec(stdout);
      if (secret === '' && s !== null && u !== null) {
        secret = s[1]!.replace(/ /g, '');
        uri = u[1]!;
        const lines = answer(secret, uri);
        if (lines !== null) for (const line of lines) child.stdin.write(line + '\n');
        child.stdin.end();
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, secret, uri });
    });
  });
}

describe('totp-fleet enroll', () => {
  it.each(['SHA1', 'SHA256', 'SHA512'] as const)('%s: prints secret, URI and QR, and enrols on the first code', async (algorithm: Algorithm) => {
    const digits = algorithm === 'SHA1' ? 6 : 8;
    const r = await enroll(['--account', 'alice@example.com', '--issuer', 'Example: Hosting', '--algorithm', algorithm.toLowerCase(), '--digits', String(digits)],
      (secret) => [totp.generate(secret, { algorithm, digits })]);
    expect(r.stderr).toMatch(/Verified at step \d+ .*Enrolled\./);
    expect(r.status).toBe(0);
    const key = otpauth.parse(r.uri);
    expect(key).toMatchObject({ issuer: 'Example: Hosting', account: 'alice@example.com', algorithm, digits, period: 30 });
    expect(base32.encode(key.secret)).toBe(r.secret);
    expect(key.secret.length).toBe({ SHA1: 20, SHA256: 32, SHA512: 64 }[algorithm]);
    expect(r.stdout).toContain('▄'); // the QR code, in half blocks
    // The secret is on stdout, where it belongs; never in the prompts and messages on stderr.
    expect(r.stderr).not.toContain(r.secret.slice(0, 16));
  });

  it('accepts a code typed with a space, and a code one step old', async () => {
    const r = await enroll(['--account', 'bob'], (secret) => {
      const code = totp.generate(secret, { timestamp: Date.now() - 30_000 });
      return [`${code.slice(0, 3)} ${code.slice(3)}`];
    });
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/Enrolled/);
  });

  it('gives several attempts, then exits 1 without echoing the codes', async () => {
    let wrong: string[] = [];
    const r = await enroll(['--account', 'carol', '--attempts', '2'], (secret) => {
      const right = totp.generate(secret);
      // Codes of steps far from now: not in the window.
      wrong = [totp.generate(secret, { timestamp: Date.now() - 3_600_000 }), totp.generate(secret, { timestamp: Date.now() + 3_600_000 })]
        .map((c) => (c === right ? String((Number(c) + 1) % 1e6).padStart(6, '0') : c));
      return wrong;
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/does not match.*1 attempt left/s);
    expect(r.stderr).toMatch(/no matching code/);
    for (const code of wrong) expect(r.stderr).not.toContain(code);
  });

  it('retries after a typo, then enrols', async () => {
    const r = await enroll(['--account', 'dave'], (secret) => ['12345', totp.generate(secret)]);
    expect(r.stderr).toMatch(/not 6 digits; 2 attempts left/);
    expect(r.status).toBe(0);
  });

  it('exits 1 when stdin closes without a code', async () => {
    const r = await enroll(['--account', 'erin'], () => null);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/no code given/);
  });

  it('defaults the issuer to the host name', async () => {
    const r = await enroll(['--account', 'frank'], (secret) => [totp.generate(secret)]);
    expect(r.status).toBe(0);
    expect(otpauth.parse(r.uri).issuer).toBe((await import('node:os')).hostname());
  });

  it('writes the QR code as SVG (mode 0600), and never overwrites a file', async () => {
    const file = join(dir, 'qr.svg');
    const r = await enroll(['--account', 'gina', '--svg', file], (secret) => [totp.generate(secret)]);
    expect(r.status).toBe(0);
    expect(readFileSync(file, 'utf8')).toMatch(/^<svg xmlns/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const existing = join(dir, 'exists.svg');
    writeFileSync(existing, 'keep');
    const again = spawnSync(process.execPath, [CLI, 'enroll', '--account', 'gina', '--svg', existing], { cwd: ROOT, encoding: 'utf8', input: '' });
    expect(again.status).toBe(2);
    expect(again.stderr).toMatch(/--svg: cannot create the file \(it exists\)/);
    expect(readFileSync(existing, 'utf8')).toBe('keep');
    expect(again.stdout).not.toMatch(/Secret:/); // nothing shown for an enrolment that cannot complete
  });

  it('exits 2 on usage errors, naming the problem', () => {
    const run = (...args: string[]) => spawnSync(process.execPath, [CLI, 'enroll', ...args], { cwd: ROOT, encoding: 'utf8', input: '' });
    const cases: [string[], RegExp][] = [
      [[], /--account is required/],
      [['--account', 'a', '--algorithm', 'md5'], /--algorithm expected SHA1, SHA256 or SHA512/],
      [['--account', 'a', '--digits', '9'], /"digits" expected one of 6, 7, 8, got 9/],
      [['--account', 'a', '--period', '0'], /"period" expected an integer 1\.\.86400/],
      [['--account', 'a', '--issuer', ''], /"issuer" expected 1\.\.256 characters/],
      [['--account', 'a', '--attempts', '11'], /--attempts expected 1\.\.10/],
      [['--account', 'a', '--backup-codes', '0'], /--backup-codes expected 1\.\.100/],
      [['--account', 'x'.repeat(513)], /--account expected 1\.\.512 characters/],
      [['--account', 'a', 'extra'], /enroll takes no arguments/],
    ];
    for (const [args, message] of cases) {
      const r = run(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).not.toMatch(/Secret:/);
    }
    expect(run('--help').stdout).toMatch(/^Usage: totp-fleet enroll/);
  });
});

const redisOk = await haveRedis('enroll --redis-url');

describe.skipIf(!redisOk)('totp-fleet enroll with the fleet\'s Redis', () => {
  const prefix = testPrefix();
  afterAll(() => deleteKeys(prefix));

  async function verifyOnFleet(account: string, code: string, secret: string): Promise<string> {
    const store = new RedisStore({ url: REDIS_URL, prefix });
    const v = await TotpVerifier.create({ threads: 0, store });
    try {
      return (await v.verify({ account, secret, code })).status;
    } finally {
      await v.close();
      await store.close();
    }
  }

  it('the code typed at enrolment is then replayed on the fleet; backup codes are printed once and work', async () => {
    let typed = '';
    const r = await enroll(['--account', 'helen@example.com', '--redis-url', REDIS_URL, '--redis-prefix', prefix, '--backup-codes', '3'],
      (secret) => [typed = totp.generate(secret)]);
    expect(r.status, r.stderr).toBe(0);
    expect(await verifyOnFleet('helen@example.com', typed, r.secret)).toBe('replayed');
    const codes = [...r.stdout.matchAll(/^  ([0-9a-z]{5}-[0-9a-z]{5})$/gm)].map((m) => m[1]!);
    expect(codes).toHaveLength(3);
    expect(r.stdout).toMatch(/Backup codes \(50 bits each/);
    for (const c of codes) expect(r.stderr).not.toContain(c);
    const store = new RedisStore({ url: REDIS_URL, prefix });
    const v = await TotpVerifier.create({ threads: 0, store });
    try {
      expect(await v.backupCodes.verify('helen@example.com', codes[2]!)).toEqual({ status: 'valid', remaining: 2 });
      expect((await v.backupCodes.verify('helen@example.com', codes[2]!)).status).toBe('invalid');
    } finally {
      await v.close();
      await store.close();
    }
  });

  it('takes the URL from TOTP_FLEET_REDIS_URL, as serve does', async () => {
    let typed = '';
    const r = await enroll(['--account', 'ivan', '--redis-prefix', prefix], (secret) => [typed = totp.generate(secret)],
      { TOTP_FLEET_REDIS_URL: REDIS_URL });
    expect(r.status, r.stderr).toBe(0);
    expect(await verifyOnFleet('ivan', typed, r.secret)).toBe('replayed');
  });

  it('a Redis that does not answer: exit 1 before any secret is shown', async () => {
    const r = spawnSync(process.execPath, [CLI, 'enroll', '--account', 'jo', '--redis-url', 'redis://127.0.0.1:1'],
      { cwd: ROOT, encoding: 'utf8', input: '' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/the store does not answer/);
    expect(r.stdout).not.toMatch(/Secret:/);
  });
});
