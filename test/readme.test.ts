// The README's library and enrolment examples run as written and prints what its comments say.

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
