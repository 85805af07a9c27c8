// A copy of a built package's dist/ to put measuring code into (tools/phase-timers.mjs,
// tools/timeline.mjs): the copy's root, with build/ and node_modules/ linked to the original's,
// and `edit(file, from, to)`, which replaces a line of dist/<file> and refuses a build whose
// code no longer has it.
import { cpSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function distCopy(root, dir) {
  cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true });
  cpSync(join(root, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(root, 'build'), join(dir, 'build'));
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  const edit = (file, from, to) => {
    const path = join(dir, 'dist', file);
    const text = readFileSync(path, 'utf8');
    if (!text.includes(from)) throw new Error(`${root}: dist/${file} no longer has the line to instrument: ${from.trim()}`);
    writeFileSync(path, text.replace(from, to));
  };
  return { dir, edit };
}
