// `totp-fleet verify` in process: one result line per non-empty input line, in order. A line is
// what ends at "\n" (a "\r" before it dropped); a lone "\r" is whitespace inside a JSON text
// (RFC 8259 §2), not a line end.

import { PassThrough } from 'node:stream';
import { afterEach, expect, it, vi } from 'vitest';
import { runVerify } from '../src/cli/verify.js';
import { totp } from '../src/index.js';

const SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';

afterEach(() => {
  vi.restoreAllMocks();
});

async function verifyText(chunks: (string | Buffer)[], args: string[] = []): Promise<Record<string, unknown>[]> {
  const input = new PassThrough();
  vi.spyOn(process, 'stdin', 'get').mockReturnValue(input as unknown as typeof process.stdin);
  const out: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
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
