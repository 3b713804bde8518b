// Creating output folders. Node's `mkdirSync(path, { recursive: true })` loops forever under /proc
// (procfs answers ENOENT for a name it will never create), so missing folders are made one level at a
// time from the nearest one that exists, and each failure says which folder and why.
import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

export function makeDirectory(path: string): void {
  const missing: string[] = [];
  let at = resolve(path);
  for (;;) {
    try {
      if (!statSync(at).isDirectory()) throw new Error(`${at} is not a directory`);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      missing.unshift(at);
      const parent = dirname(at);
      if (parent === at) break;
      at = parent;
    }
  }
  for (const dir of missing) mkdirSync(dir);
}
