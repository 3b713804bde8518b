#!/usr/bin/env node
// The `rnnc` command: runs the compiled CLI (`npm run build` writes dist/).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('rnnc: dist/ is missing; run `npm run build` (or `npm run setup`) first\n');
  process.exit(2);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
