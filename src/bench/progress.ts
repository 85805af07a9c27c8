// The progress display of a run, on stderr so that stdout stays the report. On a terminal, a
// cli-progress bar per suite (task-rounds done of those planned, the task being measured, the
// elapsed time); otherwise (a pipe, CI, a test) one plain line per suite, so logs stay readable.

import cliProgress from 'cli-progress';
import type { MeasureObserver } from './measure.js';

export interface Progress extends MeasureObserver {
  suiteStarted(index: number, count: number, id: string): void;
  suiteDone(id: string, seconds: number): void;
  stop(): void;
}

/** A progress display writing to `stream` (a bar when it is a TTY and `quiet` is false). */
export function createProgress(stream: NodeJS.WriteStream, quiet = false): Progress {
  if (quiet) {
    return { planned() {}, round() {}, suiteStarted() {}, suiteDone() {}, stop() {} };
  }
  if (!stream.isTTY) {
    return {
      planned() {},
      round() {},
      suiteStarted(index, count, id) { stream.write(`bench: [${index + 1}/${count}] ${id} ...\n`); },
      suiteDone(id, seconds) { stream.write(`bench: ${id} done in ${seconds.toFixed(1)} s\n`); },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar({
    stream,
    format: '{suite} {bar} {value}/{total} | {duration_formatted} | {task}',
    hideCursor: true,
    clearOnComplete: true,
    barsize: 24,
  }, cliProgress.Presets.shades_classic);
  let planned = 0;
  let done = 0;
  let started = false;
  let suite = '';
  return {
    planned(rounds) {
      planned += rounds;
      bar.setTotal(planned);
    },
    round(label) {
      bar.update(done++, { task: label.length > 60 ? `${label.slice(0, 57)}...` : label, suite });
    },
    suiteStarted(index, count, id) {
      suite = `[${index + 1}/${count}] ${id}`;
      planned = 0;
      done = 0;
      if (!started) {
        bar.start(1, 0, { suite, task: 'starting' });
        started = true;
      } else {
        bar.setTotal(1);
        bar.update(0, { suite, task: 'starting' });
      }
    },
    suiteDone() {
      bar.update(planned, { task: 'done' });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
