// The README's client examples (curl, PHP, Perl), run as written against a live server: only
// the URL and the token file's path are replaced. Each interpreter that is not installed is
// skipped with a message saying so.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { totp } from '../src/index.js';
import { type Child, spawnServe, stop } from './helpers/server.js';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const CLIENTS = README.slice(README.indexOf('### Clients'), README.indexOf('### Configuration'));
const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
const TOKEN = 'readme-client-token-0123456789abcdef';

function block(lang: string): string {
  const code = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(CLIENTS)?.[1];
  if (code === undefined) throw new Error(`no ${lang} block under "### Clients"`);
  return code;
}

function have(cmd: string, args: string[], what = `${cmd} is not installed`): boolean {
  const ok = spawnSync(cmd, args, { encoding: 'utf8' }).status === 0;
  if (!ok) console.warn(`\n  SKIPPED: README ${cmd} client example: ${what}\n`);
  return ok;
}

/** What each interpreter needs beyond itself: the PHP example uses the curl extension. */
const READY: Record<string, () => boolean> = {
  php: () => have('php', ['-v']) && have('php', ['-r', 'exit(function_exists("curl_init") ? 0 : 1);'], "php's curl extension is not installed (php-curl)"),
  perl: () => have('perl', ['-v']),
};

const dir = mkdtempSync(join(tmpdir(), 'totp-fleet-clients-'));
const tokenFile = join(dir, 'token');
let server: Child;
let n = 0;

beforeAll(async () => {
  writeFileSync(tokenFile, TOKEN + '\n', { mode: 0o600 });
  writeFileSync(join(dir, '.totp-fleet-token'), TOKEN + '\n', { mode: 0o600 });
  server = await spawnServe([], { TOTP_FLEET_TOKENS: TOKEN });
});
afterAll(async () => {
  expect(await stop(server)).toBe(0);
  rmSync(dir, { recursive: true, force: true });
});

/** The example with this server's URL and the test's token file. */
function localise(code: string): string {
  return code.replaceAll('http://127.0.0.1:8740', server.url).replaceAll('/etc/totp-fleet/token', tokenFile);
}

/** Runs a script file with (account, secret, code); its output, trimmed. */
function run(cmd: string, file: string, code: string, account: string): string {
  const r = spawnSync(cmd, [file, account, SECRET, code], { encoding: 'utf8', timeout: 20_000 });
  expect(r.stderr).toBe('');
  return r.stdout.trim();
}

describe('README client examples', () => {
  it.for([['php', 'php'], ['perl', 'perl']] as const)('%s: valid, then replayed, malformed, and error with a wrong token', ([cmd, lang], ctx) => {
    if (!READY[cmd]!()) ctx.skip();
    const file = join(dir, `client.${lang}`);
    writeFileSync(file, localise(block(lang)));
    const account = `${cmd}-${++n}@example.com`;
    const code = totp.generate(SECRET, { timestamp: Date.now() });
    expect(run(cmd, file, code, account)).toBe('valid');
    expect(run(cmd, file, code, account)).toBe('replayed');
    expect(run(cmd, file, '12 345', account)).toBe('malformed');
    writeFileSync(tokenFile, 'wrong-token-0123456789abcdefghij\n');
    try {
      expect(run(cmd, file, code, `${account}.2`)).toBe('error');
    } finally {
      writeFileSync(tokenFile, TOKEN + '\n');
    }
  });

  it('curl', (ctx) => {
    if (!have('curl', ['--version'])) ctx.skip();
    const code = totp.generate(SECRET, { timestamp: Date.now() });
    const script = localise(block('sh')).replace('"123456"', `"${code}"`);
    const r = spawnSync('sh', ['-c', script], { cwd: dir, encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 'valid', delta: 0 });
  });
});
