// The CLI driven as a user drives it: a child process, stdin and stdout.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { base32, totp } from '../src/index.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = fileURLToPath(new URL('../dist/cli/index.js', import.meta.url));
const SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';

function run(args: string[], input = ''): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { input, encoding: 'utf8', cwd: ROOT, timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('totp-fleet verify', () => {
  it('answers every line of the shipped example, in order', () => {
    const r = run(['verify', '--at', '1732363200000', 'examples/requests.ndjson']);
    expect(r.status).toBe(0);
    const results = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(results.map((x) => x.status)).toEqual([
      'valid', 'valid', 'valid', 'invalid', 'malformed', 'malformed', 'valid', 'malformed',
    ]);
    expect(results.slice(0, 3).map((x) => x.delta)).toEqual([0, -1, 1]);
    expect(results[0]!.account).toBe('alice@example.com');
    expect(r.stderr).toMatch(/8 requests \(4 valid, 1 invalid, 3 malformed\)/);
    // Without --at, its lines (with accounts, of 2024-11-23) are too far from now to be checked
    // against the run's replay marks.
    const now = run(['verify', 'examples/requests.ndjson']);
    expect(now.stdout.trim().split('\n').map((l) => JSON.parse(l).reason))
      .toEqual(['timestamp', 'timestamp', 'timestamp', 'timestamp', 'code', 'timestamp', 'timestamp', 'request']);
  });

  it('reads stdin, honours the window, and never prints a secret or a code', () => {
    const ts = Date.now();
    const old = totp.generate(SECRET, { timestamp: ts - 60_000 });
    const lines = [
      JSON.stringify({ secret: SECRET, code: old, timestamp: ts }),
      '',
      JSON.stringify({ secret: SECRET, code: old, timestamp: ts, account: 'x' }),
    ].join('\n');
    const narrow = run(['verify', '--batch-size', '1'], lines);
    expect(narrow.stdout.trim().split('\n').map((l) => JSON.parse(l).status)).toEqual(['invalid', 'invalid']);
    const wide = run(['verify', '--past', '2'], lines);
    expect(wide.stdout.trim().split('\n').map((l) => JSON.parse(l).delta)).toEqual([-2, -2]);
    for (const out of [narrow.stdout, narrow.stderr, wide.stdout, wide.stderr]) {
      expect(out).not.toContain(SECRET);
      expect(out).not.toContain(old);
    }
  });

  it('verifies with --algorithm (SHA-256, RFC 6238 seed)', () => {
    const seed = base32.encode(new TextEncoder().encode('12345678901234567890123456789012'));
    const line = (code: string) => JSON.stringify({ secret: seed, code, timestamp: 59_000 });
    const r = run(['verify', '--algorithm', 'SHA256', '--digits', '8'], [line('46119246'), line('94287082')].join('\n'));
    expect(r.stdout.trim().split('\n').map((l) => JSON.parse(l).status)).toEqual(['valid', 'invalid']);
  });

  it('exits 2 on usage errors, with a message naming the problem', () => {
    expect(run(['verify', '--window', '11']).status).toBe(2);
    expect(run(['verify', '--window', '1', '--past', '2']).stderr).toMatch(/not both/);
    expect(run(['verify', '--nope']).status).toBe(2);
    expect(run(['verify', '--at=-5']).stderr).toMatch(/--at expected milliseconds since the epoch, at least 0/);
    expect(run(['frobnicate']).status).toBe(2);
    expect(run([]).status).toBe(2);
  });

  it('has --help for every command', () => {
    for (const args of [['--help'], ['verify', '--help'], ['generate', '--help'], ['enroll', '--help']]) {
      const r = run(args);
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/^Usage: totp-fleet/);
    }
  });
});

describe('totp-fleet generate', () => {
  it('prints TOTP and HOTP codes for a secret read from stdin', () => {
    expect(run(['generate', '--timestamp', '59000', '--digits', '8'], SECRET + '\n').stdout).toBe('94287082\n');
    expect(run(['generate', '--counter', '18446744073709551615'], SECRET + '\n').stdout).toBe('094451\n');
    // RFC 6238 Appendix B, SHA-512 with its 64-byte seed; the algorithm spelled as URIs spell it.
    const seed512 = base32.encode(new TextEncoder().encode('1234567890123456789012345678901234567890123456789012345678901234'));
    expect(run(['generate', '--timestamp', '59000', '--digits', '8', '--algorithm', 'sha-512'], seed512 + '\n').stdout).toBe('90693936\n');
    expect(run(['generate', '--algorithm', 'md5'], SECRET + '\n').status).toBe(2);
    const now = run(['generate'], SECRET + '\n');
    expect(now.stdout).toMatch(/^\d{6}\n$/);
  });

  it('refuses TOTP-only options with --counter (HOTP has no time: they would be ignored)', () => {
    for (const extra of [['--period', '60'], ['--t0', '100']]) {
      const r = run(['generate', '--counter', '5', ...extra], SECRET + '\n');
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/--period and --t0 are TOTP options: not with --counter/);
      expect(r.stdout).toBe('');
    }
  });

  it('refuses a bad secret without echoing it', () => {
    const r = run(['generate'], 'NOT*BASE32\n');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/not valid base32/);
    expect(r.stderr).not.toContain('NOT*BASE32');
  });
});
