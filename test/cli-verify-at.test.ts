// `totp-fleet verify --at MS` in process: the run's clock starts at MS and moves on with real
// time, as its store's (a MemoryStore, whose marks expire by real time) does. A clock fixed at
// MS while the store's moved on let a long run (a live stdin) accept a code again once its mark
// had expired. And a line on a live stdin is verified within about a second of being read, not
// when its batch fills: its timestamp is when it was read, and the bound would make it malformed.

import { PassThrough } from 'node:stream';
import { afterEach, expect, it, vi } from 'vitest';
import { runVerify } from '../src/cli/verify.js';
import { totp } from '../src/index.js';
import { mockStdio } from './helpers/stdio.js';

const SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** Date faked from now on (timers real), stdin a stream the test writes, stdout's writes collected. */
function fakeStdio(): { real: number; input: PassThrough; out: string[] } {
  const real = Date.now();
  vi.useFakeTimers({ toFake: ['Date'], now: real });
  return { real, ...mockStdio() };
}

it('verify --at: a line repeated after the mark\'s life is not valid again', async () => {
  const { real, input, out } = fakeStdio();
  const at = 1_732_363_200_000;
  const line = JSON.stringify({ account: 'alice', secret: SECRET, code: totp.generate(SECRET, { timestamp: at }) }) + '\n';
  const done = runVerify(['--at', String(at), '--batch-size', '1', '--quiet']);
  const answered = async (n: number): Promise<void> => {
    for (let k = 0; out.length < n && k < 500; k++) await new Promise((resolve) => setImmediate(resolve));
  };
  input.write(line);
  await answered(1);
  input.write(line);
  await answered(2);
  // 18 minutes later (the mark lives 17 for the defaults), the same line again.
  vi.setSystemTime(real + 18 * 60_000);
  input.write(line);
  await answered(3);
  input.end();
  expect(await done).toBe(0);
  const statuses = out.join('').trim().split('\n').map((l) => (JSON.parse(l) as { status: string }).status);
  expect(statuses.slice(0, 2)).toEqual(['valid', 'replayed']);
  expect(statuses[2]).not.toBe('valid');
});

it('verify on a live stdin: a line is answered within about a second, not when its batch fills', async () => {
  const { real, input, out } = fakeStdio();
  const line = (account: string): string =>
    JSON.stringify({ account, secret: SECRET, code: totp.generate(SECRET, { timestamp: Date.now() }) }) + '\n';
  const done = runVerify(['--quiet']);
  input.write(line('u1'));
  for (let k = 0; out.length < 1 && k < 150; k++) await new Promise((resolve) => setTimeout(resolve, 20));
  // Six minutes later (further than the timestamp bound from the first line's time), another.
  vi.setSystemTime(real + 6 * 60_000);
  input.write(line('u2'));
  input.end();
  expect(await done).toBe(0);
  const results = out.join('').trim().split('\n').map((l) => JSON.parse(l) as { account: string; status: string });
  expect(results.map((r) => [r.account, r.status])).toEqual([['u1', 'valid'], ['u2', 'valid']]);
});
