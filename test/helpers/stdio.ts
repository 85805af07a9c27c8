// The CLI's standard streams in process: stdin a stream the test writes, stdout's writes collected
// (for the commands' in-process tests; vi.restoreAllMocks() puts the real ones back).

import { PassThrough } from 'node:stream';
import { vi } from 'vitest';

export function mockStdio(): { input: PassThrough; out: string[] } {
  const input = new PassThrough();
  vi.spyOn(process, 'stdin', 'get').mockReturnValue(input as unknown as typeof process.stdin);
  const out: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
  return { input, out };
}
