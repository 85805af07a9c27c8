// Reading a JSON report back (for `compare` and `--plan --from`): the shape is checked, and a
// file that is not a totp-fleet report is refused with a message saying what is wrong with it.

import { readFileSync } from 'node:fs';
import type { LoadFigure } from './load.js';
import type { MachineInfo } from './machine.js';
import type { Figure } from './measure.js';
import { type Check, REPORT_SCHEMA } from './report.js';

/** A report as written by Report.writeJson. */
export interface ReportData {
  readonly schema: string;
  readonly profile: string;
  readonly machine: MachineInfo;
  readonly figures: readonly Figure[];
  readonly loads: readonly LoadFigure[];
  readonly checks: readonly Check[];
}

/** The file is not a readable report. */
export class ReportFileError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ReportFileError';
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const finite = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v);

/** Checks `value` is a report; returns it typed. */
export function parseReport(value: unknown, name: string): ReportData {
  if (!isObject(value)) throw new ReportFileError(`${name}: not a JSON object`);
  if (value['schema'] !== REPORT_SCHEMA) {
    throw new ReportFileError(`${name}: not a totp-fleet bench report (schema ${JSON.stringify(value['schema'] ?? null)}, expected "${REPORT_SCHEMA}")`);
  }
  if (!isObject(value['machine'])) throw new ReportFileError(`${name}: "machine" missing`);
  for (const key of ['figures', 'loads', 'checks'] as const) {
    if (!Array.isArray(value[key])) throw new ReportFileError(`${name}: "${key}" is not an array`);
  }
  (value['figures'] as unknown[]).forEach((f, i) => {
    if (!isObject(f) || typeof f['id'] !== 'string' || !finite(f['median']) || !finite(f['p25']) || !finite(f['p75']) ||
        !Array.isArray(f['roundMedians']) || !(f['roundMedians'] as unknown[]).every(finite)) {
      throw new ReportFileError(`${name}: figures[${i}] lacks id, median, p25, p75 or roundMedians`);
    }
  });
  (value['checks'] as unknown[]).forEach((c, i) => {
    if (!isObject(c) || typeof c['id'] !== 'string' || !finite(c['measured']) || !finite(c['low']) || !finite(c['high'])) {
      throw new ReportFileError(`${name}: checks[${i}] lacks id, measured, low or high`);
    }
  });
  (value['loads'] as unknown[]).forEach((l, i) => {
    if (!isObject(l) || typeof l['config'] !== 'string' || !finite(l['offered']) || !finite(l['p99']) || typeof l['saturated'] !== 'boolean') {
      throw new ReportFileError(`${name}: loads[${i}] lacks config, offered, p99 or saturated`);
    }
  });
  return value as unknown as ReportData;
}

/** Reads and checks a report file. */
export function readReport(file: string): ReportData {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new ReportFileError(`${file}: cannot be read (${(cause as NodeJS.ErrnoException).code ?? 'error'})`, { cause });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw new ReportFileError(`${file}: not JSON`, { cause });
  }
  return parseReport(value, file);
}
