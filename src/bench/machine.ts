// The machine, runtime and versions every result is printed with (STYLE.md item 10): a ratio
// means little without the CPU it was measured on, and nothing without the versions compared.

import { type ExecFileSyncOptionsWithStringEncoding, execFileSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { packageVersion } from './versions.js';
import { arch, availableParallelism, cpus, loadavg, platform, release, totalmem } from 'node:os';

/** Everything needed to tell where and against what a figure was measured. */
export interface MachineInfo {
  /** ISO 8601, when the run started. */
  readonly date: string;
  readonly cpu: string;
  /** Logical CPUs the OS reports, and how many Node may use. */
  readonly cores: number;
  readonly parallelism: number;
  readonly memoryGiB: number;
  readonly os: string;
  readonly node: string;
  readonly v8: string;
  /** 1, 5 and 15 minute load averages when the run started (a shared machine is noisy). */
  readonly loadAverage: readonly number[];
  /**
   * The commit measured, with "+dirty" when the work tree differs from it; "unknown" outside a
   * git checkout of this package (an installed copy: its version is in `versions`).
   */
  readonly commit: string;
  /** Package name → version, read from each package's own package.json. */
  readonly versions: Readonly<Record<string, string>>;
}

/** The package root: src/bench/ and dist/bench/ are both two levels below it. */
const ROOT = new URL('../../', import.meta.url);

/** The packages whose versions decide the numbers: the peers, and what we run on. */
const PACKAGES = ['otplib', 'otpauth', 'speakeasy', 'piscina', 'assemblyscript', 'tinybench'] as const;

function ownVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

function gitCommit(): string {
  try {
    const root = realpathSync(fileURLToPath(ROOT));
    const opts: ExecFileSyncOptionsWithStringEncoding = { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] };
    // Only this package's own checkout: an installed copy (node_modules/totp-fleet) has no .git,
    // and git would answer for the repository it is installed in, another project's commit.
    if (realpathSync(execFileSync('git', ['rev-parse', '--show-toplevel'], opts).trim()) !== root) return 'unknown';
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], opts).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], opts).trim() !== '';
    return dirty ? `${head}+dirty` : head;
  } catch {
    return 'unknown';
  }
}

/**
 * Describes this machine and the versions under test.
 *
 * @example
 * const info = machineInfo();
 * console.log(formatMachine(info));
 */
export function machineInfo(): MachineInfo {
  const cpuList = cpus();
  const versions: Record<string, string> = { 'totp-fleet': ownVersion() };
  for (const name of PACKAGES) versions[name] = packageVersion(name) ?? 'not installed';
  return Object.freeze({
    date: new Date().toISOString(),
    cpu: cpuList[0]?.model.trim() ?? 'unknown',
    cores: cpuList.length,
    parallelism: availableParallelism(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${platform()} ${release()} ${arch()}`,
    node: process.version,
    v8: process.versions.v8,
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
    commit: gitCommit(),
    versions: Object.freeze(versions),
  });
}

/** The header printed above every result. */
export function formatMachine(info: MachineInfo): string {
  const v = Object.entries(info.versions).map(([name, version]) => `${name} ${version}`).join(', ');
  return [
    `date:     ${info.date}`,
    `machine:  ${info.cpu}, ${info.cores} cores (${info.parallelism} usable), ${info.memoryGiB} GiB, ${info.os}`,
    `runtime:  Node ${info.node}, V8 ${info.v8}`,
    `versions: ${v}`,
    `commit:   ${info.commit}`,
    `load:     ${info.loadAverage.join(' ')} (1/5/15 min) at start, now ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
  ].join('\n');
}
