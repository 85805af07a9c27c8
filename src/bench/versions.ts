// Versions of installed packages, found the way `import` finds them (so it works from a git
// checkout and from an installed totp-fleet alike), or null when a package is not installed.

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The version in `name`'s own package.json, or null when `name` cannot be imported from here.
 *
 * @example
 * packageVersion('otplib') // '13.5.0', or null where the dev dependencies are not installed
 */
export function packageVersion(name: string): string | null {
  let entry: string;
  try {
    entry = fileURLToPath(import.meta.resolve(name));
  } catch {
    return null;
  }
  // Walk up from the entry point to the package.json that names this package.
  for (let dir = dirname(entry); ; dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
        if (pkg.name === name && typeof pkg.version === 'string') return pkg.version;
      } catch {
        // not a readable package.json: keep walking up
      }
    }
    if (dirname(dir) === dir) return null;
  }
}
