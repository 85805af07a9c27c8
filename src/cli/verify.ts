// `totp-fleet verify`: NDJSON requests in (a file or stdin), NDJSON results out, same order.

import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { parseArgs } from 'node:util';
import { TotpVerifier, type VerifyRequest, type VerifyResult } from '../verifier.js';
import { intArg, TOTP_OPTION_HELP, TOTP_OPTION_SPECS, totpOptions, UsageError } from './options.js';

export const VERIFY_HELP = `Usage: totp-fleet verify [options] [FILE]

Reads one JSON request per line from FILE (or standard input):
  {"account": "alice", "secret": "<base32>", "code": "123456"}
and writes one JSON result per non-empty line, in the same order, to standard output:
  {"account": "alice", "status": "valid", "delta": 0, "step": 56666666}
A line that is not a JSON object gets {"status": "malformed", "reason": "request"}.
"timestamp" (milliseconds) defaults to the time the line is read; with an "account" (a code is
accepted once per account in a run) it must be within 5 minutes of now (or of --at), else the
line is malformed: to check codes of other times, leave "account" out. A summary goes to stderr.

Options:
${TOTP_OPTION_HELP}
  --window N                 steps accepted each way (default 1, at most 10)
  --past N, --future N       steps accepted before / after the current one
  --batch-size N             lines verified per batch (default 4096; one that does not fill
                             is verified a second after its first line)
  --at MS                    verify as if the run started at this time (milliseconds since the
                             epoch; default now; the run's clock then moves on): the time of a
                             line without "timestamp", and what a line with an account is
                             checked against (a recorded session, a demo file)
  --quiet                    no summary on stderr
  -h, --help                 this help`;

/** The last time a Date holds (ECMAScript's time values end here), ms since the epoch. */
const MAX_DATE_MS = 8_640_000_000_000_000;

/** How long a batch that has not filled waits for more lines, ms. */
const WAIT_MS = 1000;

interface Line {
  readonly request: unknown;
  readonly account: string | undefined;
}

function parseLine(text: string, now: () => number): Line {
  try {
    const request: unknown = JSON.parse(text);
    // "timestamp" defaults to when the line was read, not when its batch is verified (a line
    // on a live stdin may wait for the batch to fill).
    if (request !== null && typeof request === 'object' && !Array.isArray(request) &&
        (request as { timestamp?: unknown }).timestamp === undefined) {
      (request as { timestamp?: number }).timestamp = now();
    }
    const account = request !== null && typeof request === 'object' &&
      typeof (request as { account?: unknown }).account === 'string'
      ? (request as { account: string }).account
      : undefined;
    return { request, account };
  } catch {
    return { request: null, account: undefined };
  }
}

/**
 * The lines of an NDJSON stream: text up to each "\n" (a "\r" before it dropped), and what
 * follows the last one. Not readline: it also ends a line at a lone "\r", which inside a JSON
 * text is whitespace (RFC 8259 §2), so one request became two answers and every later answer
 * landed a line below its request.
 */
async function* ndjsonLines(input: AsyncIterable<string | Buffer>): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  // A byte-order mark at the start of the input (as editors on Windows write) is not part of the
  // first line's JSON: skipped, as `serve` skips one before a body.
  let start = true;
  for await (const chunk of input) {
    // Scan only what is new: a long line that comes in many chunks is not searched again each time.
    const scan = rest.length;
    rest += typeof chunk === 'string' ? chunk : decoder.write(chunk);
    if (start && rest.length > 0) {
      start = false;
      if (rest.charCodeAt(0) === 0xfeff) rest = rest.slice(1);
    }
    let from = 0;
    for (let at = rest.indexOf('\n', scan); at !== -1; at = rest.indexOf('\n', from)) {
      yield withoutCr(rest.slice(from, at));
      from = at + 1;
    }
    rest = rest.slice(from);
  }
  rest += decoder.end();
  if (rest !== '') yield withoutCr(rest);
}

function withoutCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

function resultLine(line: Line, result: VerifyResult): string {
  return JSON.stringify(line.account === undefined ? result : { account: line.account, ...result });
}

/** Runs the command; resolves to the process exit status. */
export async function runVerify(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...TOTP_OPTION_SPECS,
      window: { type: 'string' },
      past: { type: 'string' },
      future: { type: 'string' },
      'batch-size': { type: 'string' },
      at: { type: 'string' },
      quiet: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(VERIFY_HELP + '\n');
    return 0;
  }
  if (positionals.length > 1) throw new UsageError('verify takes at most one FILE');
  const opts = totpOptions(values);
  const window = intArg('window', values.window);
  const past = intArg('past', values.past);
  const future = intArg('future', values.future);
  if (window !== undefined && (past !== undefined || future !== undefined)) {
    throw new UsageError('use --window, or --past/--future, not both');
  }
  if (window !== undefined) opts.window = window;
  else if (past !== undefined || future !== undefined) opts.window = { past: past ?? 1, future: future ?? 1 };
  const batchSize = intArg('batch-size', values['batch-size']) ?? 4096;
  if (batchSize < 1 || batchSize > 1_000_000) throw new UsageError('--batch-size expected 1..1000000');

  const at = intArg('at', values.at);
  // A time a Date can hold (up to 8.64e15 ms), and not before step 0: past it, the run's clock
  // soon left the range a timestamp may have (below 2^53) and every line was malformed.
  if (at !== undefined && (at < 0 || at > MAX_DATE_MS || at < (opts.t0 ?? 0) * 1000)) {
    throw new UsageError(`--at expected milliseconds since the epoch, at least 0 and --t0, at most ${MAX_DATE_MS}`);
  }
  // With --at, the run's clock starts there and moves on with real time, as the marks' expiry in
  // the run's store does: a clock that stood still would let a long run (a live stdin) accept a
  // code again once its mark had expired.
  const started0 = Date.now();
  const now = at === undefined ? Date.now : (): number => at + (Date.now() - started0);
  const verifier = await TotpVerifier.create(at === undefined ? opts : { ...opts, now });
  const input = positionals[0] === undefined || positionals[0] === '-'
    ? process.stdin
    : createReadStream(positionals[0]);
  const counts = new Map<string, number>();
  const started = performance.now();
  let total = 0;
  let pending: Line[] = [];
  // Where the results go may close before the input ends (`verify ... | head -1`): then reading
  // stops, and the run ends quietly (EPIPE, exit 0) or says why (any other error, exit 1),
  // instead of an unhandled 'error' event's stack trace, or a wait for a 'drain' that never comes.
  let outputError: NodeJS.ErrnoException | undefined;
  const onOutputError = (error: NodeJS.ErrnoException): void => { outputError ??= error; };
  process.stdout.on('error', onOutputError);
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    const batch = pending;
    pending = [];
    const results = await verifier.verifyBatch(batch.map((l) => l.request as VerifyRequest));
    let out = '';
    for (let i = 0; i < batch.length; i++) {
      const r = results[i]!;
      counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
      out += resultLine(batch[i]!, r) + '\n';
    }
    total += batch.length;
    if (outputError !== undefined) return;
    if (!process.stdout.write(out) && outputError === undefined) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          process.stdout.off('drain', done);
          process.stdout.off('error', done);
          resolve();
        };
        process.stdout.once('drain', done);
        process.stdout.once('error', done);
      });
    }
  };
  // Batches are verified one after another (`flushed`). A batch that does not fill is verified
  // at most WAIT_MS after its first line: a line's timestamp is when it was read, and one with an
  // account is malformed once it is further than the bound (5 minutes) from the verifier's clock,
  // so a line on a live stdin must not wait for the batch to fill.
  let flushed: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  const flushNow = (): Promise<void> => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    flushed = flushed.then(flush);
    return flushed;
  };
  try {
    for await (const text of ndjsonLines(input)) {
      if (outputError !== undefined) break;
      if (text.trim() === '') continue;
      pending.push(parseLine(text, now));
      if (pending.length >= batchSize) await flushNow();
      else timer ??= setTimeout(() => { flushNow().catch(() => {}); }, WAIT_MS);
    }
    await flushNow();
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    await flushed.catch(() => {});
    await verifier.close();
  }
  if (outputError !== undefined) {
    // (The listener stays: a write still queued may fail after this.)
    if (outputError.code === 'EPIPE') return 0;
    process.stderr.write(`totp-fleet verify: cannot write the results (${outputError.code ?? 'error'})\n`);
    return 1;
  }
  process.stdout.off('error', onOutputError);
  if (!values.quiet) {
    const ms = performance.now() - started;
    const summary = [...counts].map(([status, n]) => `${n} ${status}`).join(', ') || 'nothing';
    process.stderr.write(`totp-fleet verify: ${total} requests (${summary}) in ${ms.toFixed(1)} ms\n`);
  }
  return 0;
}
