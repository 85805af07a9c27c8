// Runs scenarios in one process and prints as it goes: the machine header first, each
// scenario's tables when it finishes, and the summary of every target last.
// Flags: --json FILE writes every figure and the machine info as JSON.

import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadavg } from 'node:os';
import { machineInfo } from './machine.js';
import { Report, type Scenario } from './report.js';

/** True when the module at `url` is the script node was started with. */
export function isMain(url: string): boolean {
  const script = process.argv[1];
  return script !== undefined && pathToFileURL(resolve(script)).href === url;
}

function jsonPath(argv: readonly string[]): string | undefined {
  const i = argv.indexOf('--json');
  if (i < 0) return undefined;
  const file = argv[i + 1];
  if (file === undefined || file.startsWith('--')) throw new Error('--json expects a file name');
  return file;
}

/**
 * Runs `scenarios` in order against one report and prints it.
 *
 * @example
 * if (isMain(import.meta.url)) await runScenarios([scenario]);
 */
export async function runScenarios(scenarios: readonly Scenario[], argv = process.argv.slice(2)): Promise<Report> {
  const json = jsonPath(argv);
  const report = new Report(machineInfo());
  console.log(report.header());
  if (report.machine.loadAverage[0]! > 1) {
    console.log(`warning: 1-minute load average ${report.machine.loadAverage[0]} > 1 on a ${report.machine.cores}-core machine; figures will be noisy`);
  }
  if ((globalThis as { gc?: unknown }).gc === undefined) {
    console.log('note: run with node --expose-gc to collect garbage between tasks');
  }
  const started = performance.now();
  for (const s of scenarios) {
    console.log(`\n=== ${s.id}: ${s.title} ===`);
    const t0 = performance.now();
    await s.run(report);
    console.log(report.scenarioText(s.id));
    console.log(`(${((performance.now() - t0) / 1000).toFixed(1)} s; load ${loadavg().map((l) => l.toFixed(2)).join(' ')})`);
  }
  console.log(`\n${report.summary()}`);
  console.log(`total ${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (json !== undefined) {
    report.writeJson(json);
    console.log(`wrote ${json}`);
  }
  return report;
}
