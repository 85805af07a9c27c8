// `totp-fleet verify` in process: one result line per non-empty input line, in order. A line is
// what ends at "\n" (a "\r" before it dropped); a lone "\r" is whitespace inside a JSON text
// (RFC 8259 §2), not a line end.

import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it, vi } from 'vitest';
import { runVerify } from '../src/cli/verify.js';
import { totp } from '../src/index.js';
import { mockStdio } from './helpers/stdio.js';

const SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';

afterEach(() => {
  vi.restoreAllMocks();
});

async function verifyText(chunks: (string | Buffer)[], args: string[] = []): Promise<Record<string, unknown>[]> {
  const { input, out } = mockStdio();
  const done = runVerify(['--quiet', ...args]);
  for (const chunk of chunks) input.write(chunk);
  input.end();
  expect(await done).toBe(0);
  return out.join('').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
}

it('a JSON text with a lone CR (whitespace) is one line, and the lines after it keep their places', async () => {
  const code = totp.generate(SECRET, { timestamp: 59_000, digits: 8 });
  const results = await verifyText([
    `{"secret":"${SECRET}",\r"code":"00000000","timestamp":59000}\n`,
    `{"secret":"${SECRET}","code":"${code}","timestamp":59000}\r\n`,
    'not json\n',
    `{"secret":"${SECRET}","code":"${code}",\r\r"timestamp":59000}`,
  ], ['--digits', '8']);
  expect(results.map((r) => r.status)).toEqual(['invalid', 'valid', 'malformed', 'valid']);
});

it('a line split across chunks, in the middle of a multi-byte character, is one line', async () => {
  const line = Buffer.from(`{"account":"zoë ☃","secret":"${SECRET}","code":"123456","timestamp":${Date.now()}}\n`);
  const at = line.indexOf(Buffer.from('☃')) + 1;
  const results = await verifyText([line.subarray(0, 5), line.subarray(5, at), line.subarray(at), '\n  \n', line]);
  expect(results.map((r) => r.account)).toEqual(['zoë ☃', 'zoë ☃']);
});

it('refuses an --at no run can use: past the last date (every line was malformed) or before --t0', async () => {
  await expect(runVerify(['--at', '9007199254740991'])).rejects.toThrow(/^--at expected milliseconds since the epoch, at least 0 and --t0, at most 8640000000000000$/);
  await expect(runVerify(['--at', '8640000000000001'])).rejects.toThrow(/^--at expected/);
  await expect(runVerify(['--at', '1000', '--t0', '2'])).rejects.toThrow(/^--at expected .*at least 0 and --t0/);
  // The bounds themselves are a run.
  const code = totp.generate(SECRET, { timestamp: 8_640_000_000_000_000 });
  expect((await verifyText([`{"account":"a","secret":"${SECRET}","code":"${code}"}\n`], ['--at', '8640000000000000'])).map((r) => r.status)).toEqual(['valid']);
});

it('skips a byte-order mark at the start of the input, as serve does before a body', async () => {
  const code = totp.generate(SECRET, { timestamp: 59_000 });
  const line = `{"secret":"${SECRET}","code":"${code}","timestamp":59000}\n`;
  // Whole, and with the mark's three bytes split across chunks.
  expect((await verifyText([`\ufeff${line}${line}`])).map((r) => r.status)).toEqual(['valid', 'valid']);
  const bytes = Buffer.from(`\ufeff${line}`);
  expect((await verifyText([bytes.subarray(0, 2), bytes.subarray(2), line])).map((r) => r.status)).toEqual(['valid', 'valid']);
  // Only at the start: one later in the input is that line's (malformed) text.
  expect((await verifyText([line, `\ufeff${line}`])).map((r) => r.status)).toEqual(['valid', 'malformed']);
});

it('ends quietly, exit 0, when whatever reads its results goes away (`verify FILE | head -1`)', async () => {
  const cli = fileURLToPath(new URL('../dist/cli/index.js', import.meta.url));
  const file = join(tmpdir(), `verify-epipe-${process.pid}.ndjson`);
  const code = totp.generate(SECRET, { timestamp: 59_000 });
  // Far more results than a pipe holds (64 KiB): the writes after the reader has gone fail.
  writeFileSync(file, `{"secret":"${SECRET}","code":"${code}","timestamp":59000}\n`.repeat(50_000));
  const child = spawn(process.execPath, [cli, 'verify', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += String(d); });
  const first = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(String(d))));
  child.stdout.destroy(); // the reader goes, as head does after its first line
  const status = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  rmSync(file, { force: true });
  expect(first.startsWith('{"status":"valid"')).toBe(true);
  expect(stderr).toBe('');
  expect(status).toBe(0);
}, 60_000);
