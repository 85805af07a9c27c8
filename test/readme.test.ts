// The README's library and enrolment examples run as written and print what their comments say; its
// option tables' defaults are the ones the code resolves.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const DIST = new URL('../dist/index.js', import.meta.url).href;

describe('README', () => {
  it.each(['## Library', '## Enrolment', '## HOTP and YubiKeys'])('the example under "%s" runs and prints the values in its comments', (heading) => {
    const section = README.slice(README.indexOf(heading));
    const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    expect(block).toBeDefined();
    const code = block!.replace("from 'totp-fleet'", `from '${DIST}'`);
    // Every console.log line carries its expected output as a trailing comment.
    const expected = [...code.matchAll(/console\.log\(.*\);\s*\/\/ (.*)$/gm)].map((m) => m[1]!.trim());
    expect(expected.length).toBeGreaterThan(5);
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(expected);
  });
});

describe('README tables', () => {
  /** The default column of the row whose first cell is exactly `name` (in backquotes). */
  function defaultOf(section: string, name: string): string {
    const text = README.slice(README.indexOf(section));
    const row = new RegExp('^\\| `' + name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + '` \\| ([^|]*) \\|', 'm').exec(text);
    expect(row, `a row for ${name} under ${section}`).not.toBeNull();
    return row![1]!.trim();
  }

  it('"Options": the defaults are the ones a verifier resolves', async () => {
    const { availableParallelism } = await import('node:os');
    const { TotpVerifier } = await import('../src/index.js');
    const v = await TotpVerifier.create({ store: null });
    try {
      const o = v.options;
      expect(defaultOf('### Options', 'digits')).toBe(String(o.digits));
      expect(defaultOf('### Options', 'algorithm')).toBe(`\`'${o.algorithm}'\``);
      expect(defaultOf('### Options', 'period')).toBe(String(o.period));
      expect(defaultOf('### Options', 't0')).toBe(String(o.t0));
      expect(o.window).toEqual({ past: 1, future: 1 });
      expect(defaultOf('### Options', 'window')).toBe('1');
      expect(defaultOf('### Options', 'minSecretBytes')).toBe(String(o.minSecretBytes));
      expect(defaultOf('### Options', 'keyCacheSize')).toBe(String(o.keyCacheSize));
      expect(defaultOf('### Options', 'inlineThreshold')).toBe(String(o.inlineThreshold));
      expect(defaultOf('### Options', 'threads')).toBe('available parallelism');
      expect(o.threads).toBe(availableParallelism());
    } finally {
      await v.close();
    }
  });

  it('"Options": the policy defaults are the ones the policy resolves', async () => {
    const { resolvePolicy } = await import('../src/policy/options.js');
    const { limits } = resolvePolicy(undefined, 30, 1, 1);
    for (const name of ['maxFailures', 'lockoutMs', 'failureMemoryMs', 'reservationMs'] as const) {
      expect(defaultOf('### Options', `policy.${name}`), name).toBe(String(limits[name]));
    }
    expect(defaultOf('### Options', 'policy.fleetSkewMs')).toBe('300000');
    expect(resolvePolicy({ fleetSkewMs: 300_000 }, 30, 1, 1)).toEqual(resolvePolicy(undefined, 30, 1, 1));
  });

  it('"Configuration": the serve defaults are the ones the server resolves', async () => {
    const { resolveServerOptions } = await import('../src/server/options.js');
    const o = resolveServerOptions({ insecureNoAuth: true });
    const row = (flags: string): string[] => {
      const text = README.slice(README.indexOf('### Configuration'));
      const m = new RegExp('^\\| ' + flags.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') + ' \\| ([^|]*) \\|', 'm').exec(text);
      expect(m, flags).not.toBeNull();
      return m![1]!.split(',').map((x) => x.trim());
    };
    expect(row('`--host`, `--port`')).toEqual([o.host, String(o.port)]);
    expect(row('`--max-batch N`, `--body-limit BYTES`')).toEqual([String(o.maxBatch), String(o.bodyLimit)]);
    expect(row('`--request-timeout MS`, `--max-connections N`')).toEqual([String(o.requestTimeoutMs), String(o.maxConnections)]);
    expect(row('`--drain-timeout MS`')).toEqual([String(o.drainTimeoutMs)]);
    expect(row('`--drain-delay MS`')).toEqual([String(o.drainDelayMs)]);
    expect(row('`--health-interval MS`')).toEqual([String(o.healthIntervalMs)]);
    expect(row('`--log-level L`, `--access-log`, `--audit-log`')).toEqual([o.logLevel, o.accessLog ? 'on' : 'off', o.auditLog ? 'on' : 'off']);
  });
});
