// A copy of a built package's dist/ to put measuring code into (tools/phase-timers.mjs,
// tools/timeline.mjs): the copy's root, with build/ and node_modules/ linked to the original's,
// and `edit(file, from, to)`, which replaces a line of dist/<file> and refuses a build whose
// code no longer has it; `editFirst(choices)` for a line that moved from one build to another.
import { cpSync, existsSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
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
  // For a line that is in another file or reads otherwise in other builds (tools that measure
  // two builds in one process instrument both): the first of `choices`, [file, from, to], whose
  // dist/<file> has its line; a build that has none of them is refused.
  const editFirst = (choices) => {
    for (const [file, from, to] of choices) {
      const path = join(dir, 'dist', file);
      if (existsSync(path) && readFileSync(path, 'utf8').includes(from)) return edit(file, from, to);
    }
    throw new Error(`${root}: no line to instrument, none of: ${choices.map(([file, from]) => `dist/${file}: ${from.trim()}`).join('; ')}`);
  };
  return { dir, edit, editFirst };
}
