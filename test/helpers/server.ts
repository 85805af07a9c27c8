// Running `totp-fleet serve` for tests: in-process (startServer, logs captured) or as a child
// process (the lifecycle tests). Both listen on a free loopback port.

import { type ChildProcess, spawn } from 'node:child_process';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { type RunningServer, startServer } from '../../src/server/server.js';
import type { ServerOptions } from '../../src/server/options.js';

export const CLI = fileURLToPath(new URL('../../dist/cli/index.js', import.meta.url));
export const TOKEN = 'test-token-0123456789abcdefghij';
export const OTHER_TOKEN = 'second-token-ABCDEFGHIJKLMNOPQRS';

/** A log destination that keeps every line written to it. */
export class LogCapture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
  lines(): Record<string, unknown>[] {
    return this.text.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}

export async function inProcess(opts: ServerOptions = {}): Promise<{ server: RunningServer; logs: LogCapture }> {
  const logs = new LogCapture();
  const server = await startServer({ port: 0, tokens: [TOKEN, OTHER_TOKEN], logStream: logs, ...opts });
  return { server, logs };
}

export function authed(token = TOKEN): Record<string, string> {
  return { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
}

export async function post(url: string, body: unknown, headers = authed()): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(url + '/v1/verify', { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await res.text();
  let json: unknown;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: res.status, json, headers: res.headers };
}

export interface Child {
  readonly process: ChildProcess;
  readonly url: string;
  stdout: string;
  stderr: string;
  /** Resolves with the exit code. */
  readonly exited: Promise<number | null>;
}

/** Starts `totp-fleet serve` in a child process and waits for its "listening on" line. */
export async function spawnServe(args: string[], env: Record<string, string> = {}): Promise<Child> {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', ...args], {
    env: { ...process.env, TOTP_FLEET_TOKENS: TOKEN, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const state = { stdout: '', stderr: '' };
  child.stdout.on('data', (d: Buffer) => { state.stdout += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { state.stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${state.stderr}`)), 20_000);
    const onData = (): void => {
      const m = /listening on (\S+)/.exec(state.stderr);
      if (m !== null) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stderr.on('data', onData);
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`serve exited (${code}): ${state.stderr}`)); });
  });
  return {
    process: child,
    url,
    get stdout() { return state.stdout; },
    get stderr() { return state.stderr; },
    exited,
  } as Child;
}

/** SIGTERM, and the exit code (kills harder after 15 s so that a test never hangs). */
export async function stop(child: Child): Promise<number | null> {
  if (child.process.exitCode !== null) return child.process.exitCode;
  child.process.kill('SIGTERM');
  const timer = setTimeout(() => child.process.kill('SIGKILL'), 15_000);
  const code = await child.exited;
  clearTimeout(timer);
  return code;
}
