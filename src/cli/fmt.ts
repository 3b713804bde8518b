// `rnnc fmt [--check | --write] FILES...`: the canonical layout of .rnn files (docs/format.md).
// Folders stand for the .rnn files under them. A file that does not parse gets the compiler's
// diagnostics and is never written; with --write, one such file means nothing is written at all.
import { chmodSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Command } from 'commander';
import { diagnosticToJson, renderDiagnostics, type SourceFile } from '../compiler/diagnostics/render.js';
import type { Diagnostic } from '../compiler/diagnostics/diagnostic.js';
import { checkOutputDir, writeAllOrNothing } from '../driver/output.js';
import { EXIT_INTERNAL, EXIT_OK, EXIT_USER, loadSource, UserError, useColor } from './io.js';

interface Formatted {
  path: string;
  source: SourceFile;
  formatted?: string;
  diagnostics?: Diagnostic[];
}

/** The .rnn files under a folder, sorted; hidden folders and node_modules are left out. */
function rnnFilesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .flatMap((e) => {
      const path = join(dir, e.name);
      if (e.isDirectory()) return e.name.startsWith('.') || e.name === 'node_modules' ? [] : rnnFilesUnder(path);
      return e.name.endsWith('.rnn') ? [path] : [];
    });
}

/** The files named, folders replaced by the .rnn files under them; each file once. */
function expand(paths: string[]): string[] {
  const files = paths.flatMap((path) => {
    let folder = false;
    try {
      folder = statSync(path).isDirectory();
    } catch {
      // Not there: reading it says so (loadSource).
    }
    if (!folder) return [path];
    const found = rnnFilesUnder(path);
    if (found.length === 0) throw new UserError(`rnnc: fmt: no .rnn files under ${path}`);
    return found;
  });
  return [...new Set(files)];
}

/** Writes every changed file, all or nothing per folder, after checking every folder can be written. */
function writeChanged(changed: Formatted[]): void {
  // Through symbolic links: the file they point to is rewritten, the link stays.
  const targets = changed.map((f) => ({ f, real: realpathSync(f.path), mode: statSync(f.path).mode & 0o7777 }));
  const byDir = new Map<string, typeof targets>();
  for (const t of targets) byDir.set(dirname(t.real), [...(byDir.get(dirname(t.real)) ?? []), t]);
  for (const dir of byDir.keys()) checkOutputDir(dir, `${dir}`, byDir.get(dir)!.map((t) => basename(t.real)));
  for (const [dir, group] of byDir) {
    writeAllOrNothing(dir, group.map((t) => ({ name: basename(t.real), data: t.f.formatted! })), dir);
    // A rewrite is a new file: give it the permissions the old one had.
    for (const t of group) chmodSync(t.real, t.mode);
  }
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function registerFmt(program: Command) {
  program
    .command('fmt')
    .description('format .rnn files: print the formatted text, rewrite the files (--write), or list those not formatted (--check)')
    .argument('<files...>', '.rnn files, or folders (every .rnn file under them)')
    .option('--check', 'write nothing; list the files that are not formatted and exit 1 if there are any')
    .option('--write', 'rewrite the files that are not formatted (all or nothing: no file is written if one does not parse)')
    .option('--json', 'with --check: print a JSON list of the files and whether each is formatted on stdout')
    .addHelpText(
      'after',
      '\nThe layout is fixed (docs/format.md): no options, no configuration files. Comments are kept.\n' +
        'Exit codes: 0 ok, 1 a file not formatted (--check) or that does not parse, 2 a usage error.\n\n' +
        'Examples:\n  rnnc fmt cell.rnn                    print cell.rnn formatted\n  rnnc fmt --write examples            format every .rnn file under examples/\n  rnnc fmt --check examples bench/cells    list the files there that are not formatted\n',
    )
    .action(async (paths: string[], opts: { check?: boolean; write?: boolean; json?: boolean }) => {
      if (opts.check && opts.write) throw new UserError('rnnc: fmt: give --check or --write, not both', EXIT_INTERNAL);
      if (opts.json && !opts.check) throw new UserError('rnnc: fmt: --json goes with --check', EXIT_INTERNAL);
      // Loaded here, not at startup: the other commands do not need prettier's printer.
      const { formatRnn } = await import('../format/index.js');
      const results: Formatted[] = [];
      for (const path of expand(paths)) {
        const source = loadSource(path);
        results.push({ path, source, ...(await formatRnn(source.text)) });
      }
      const broken = results.filter((r) => r.diagnostics);
      if (!opts.json)
        for (const r of broken) process.stderr.write(renderDiagnostics(r.diagnostics!, r.source, { color: useColor() }) + '\n');
      const changed = results.filter((r) => r.formatted !== undefined && r.formatted !== r.source.text);
      let exit = broken.length > 0 ? EXIT_USER : EXIT_OK;

      if (opts.check) {
        if (changed.length > 0) exit = EXIT_USER;
        if (opts.json) {
          const report = results.map((r) => ({ file: r.path, formatted: r.formatted === r.source.text, ...(r.diagnostics ? { diagnostics: r.diagnostics.map((d) => diagnosticToJson(d, r.source)) } : {}) }));
          process.stdout.write(JSON.stringify(report, null, 2) + '\n');
        } else {
          for (const r of changed) process.stderr.write(`${r.path}: not formatted\n`);
          if (changed.length > 0) process.stderr.write(`rnnc: ${plural(changed.length, 'file')} not formatted; \`rnnc fmt --write\` formats them\n`);
          else if (broken.length === 0) process.stderr.write(`rnnc: ${plural(results.length, 'file')} checked, all formatted\n`);
        }
      } else if (opts.write) {
        if (broken.length > 0) throw new UserError(`rnnc: fmt: ${plural(broken.length, 'file')} did not parse; nothing was written`);
        writeChanged(changed);
        for (const r of changed) process.stderr.write(`formatted ${r.path}\n`);
      } else {
        for (const r of results) if (r.formatted !== undefined) process.stdout.write(r.formatted);
      }
      process.exitCode = exit;
    });
}
