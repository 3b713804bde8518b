// What every command shares: reading sources, printing diagnostics, and the exit-code contract
// (0 ok, 1 user error such as a diagnostic, 2 usage or internal error). Human text goes to stderr,
// `--json` to stdout.
import { readFileSync } from 'node:fs';
import { RnncError } from '../driver/errors.js';
import { isModeRequest, modeRequests, type ModeRequest } from '../compiler/plan/plan.js';
import { frontEnd, frontEndCached, type FrontEndResult } from '../driver/front-end.js';
import { hasErrors } from '../compiler/diagnostics/diagnostic.js';
import { diagnosticToJson, renderDiagnostics, SourceFile } from '../compiler/diagnostics/render.js';

export const EXIT_OK = 0;
export const EXIT_USER = 1;
export const EXIT_INTERNAL = 2;

/** A failure of the command line itself (a bad flag, an unreadable file): printed without a stack trace. */
export class UserError extends RnncError {
  constructor(message: string, exitCode = EXIT_USER) {
    super(message, exitCode === EXIT_USER ? 'input' : 'usage');
  }
}

/** The exit code of a library failure. */
export const exitCodeOf = (e: RnncError): number => (e.kind === 'input' ? EXIT_USER : EXIT_INTERNAL);

export const useColor = (): boolean => !process.env['NO_COLOR'] && Boolean(process.stderr.isTTY);

export interface LoadedFile {
  source: SourceFile;
  result: FrontEndResult;
}

export function loadSource(path: string): SourceFile {
  try {
    return new SourceFile(path, readFileSync(path, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`rnnc: cannot read ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : String((e as Error).message)}`);
  }
}

/** `cached`: through the on-disk front-end cache (driver/front-end.ts, `rnnc run`); the result then has no AST or checked file. */
export function loadFile(path: string, cached = false): LoadedFile {
  const source = loadSource(path);
  return { source, result: cached ? frontEndCached(source) : frontEnd(source) };
}

export function printDiagnostics(file: LoadedFile): void {
  if (file.result.diagnostics.length) process.stderr.write(renderDiagnostics(file.result.diagnostics, file.source, { color: useColor() }) + '\n');
}

export const diagnosticsJson = (file: LoadedFile) => file.result.diagnostics.map((d) => diagnosticToJson(d, file.source));

export const failed = (file: LoadedFile): boolean => hasErrors(file.result.diagnostics);

/** Loads a file that must be valid; prints its diagnostics and throws a UserError otherwise. */
export function loadValid(path: string, json = false, cached = false): LoadedFile & { result: Required<Pick<FrontEndResult, 'module'>> & FrontEndResult } {
  const file = loadFile(path, cached);
  if (failed(file)) {
    if (json) process.stdout.write(JSON.stringify({ file: path, ok: false, diagnostics: diagnosticsJson(file) }, null, 2) + '\n');
    else printDiagnostics(file);
    const n = file.result.diagnostics.filter((d) => d.severity === 'error').length;
    throw new UserError(`rnnc: ${path}: ${n} error${n === 1 ? '' : 's'}`);
  }
  return file as never;
}

/** The largest --dim, --batch, --T or --chunk: a kernel indexes with 32-bit integers (RNN0312's limit for a spec's dim). */
export const MAX_SIZE = 2 ** 31 - 1;

export function parseDimFlags(values: string[] | undefined): Record<string, number> {
  // No prototype: a dim called `__proto__` or `toString` is a name like any other (and then unknown).
  const out: Record<string, number> = Object.create(null);
  const given: Record<string, string> = Object.create(null);
  for (const v of values ?? []) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(\d+)$/.exec(v);
    // A size past MAX_SIZE is the planner's to refuse, naming the limit (exit 1, like a spec's dim).
    if (!m || Number(m[2]) === 0) throw new UserError(`rnnc: --dim expects NAME=SIZE with SIZE a positive integer, got '${v}'`, EXIT_INTERNAL);
    const name = m[1]!;
    if (name in given) throw new UserError(`rnnc: --dim ${name} is given twice ('${given[name]}', then '${v}'); give it once`, EXIT_INTERNAL);
    given[name] = v;
    out[name] = Number(m[2]);
  }
  return out;
}

export function positiveInt(name: string) {
  return (value: string): number => {
    // Digits only: '1e3', '0x10' and ' 7' are not sizes anyone types on purpose.
    if (!/^\d+$/.test(value) || Number(value) < 1) throw new UserError(`rnnc: ${name} must be a positive integer, got '${value}'`, EXIT_INTERNAL);
    if (Number(value) > MAX_SIZE) throw new UserError(`rnnc: ${name} must be at most ${MAX_SIZE}, got '${value}'`, EXIT_INTERNAL);
    return Number(value);
  };
}

/** A path flag (`-o`, `--inputs`, `--save`): an empty one would silently mean the current directory, or nothing. */
export function pathFlag(name: string) {
  return (value: string): string => {
    if (value === '') throw new UserError(`rnnc: ${name} needs a path, got ''`, EXIT_INTERNAL);
    return value;
  };
}

/** Prints a warning on stderr; warnings never change the exit code. */
export const warn = (message: string): void => void process.stderr.write(`rnnc: warning: ${message}\n`);

/** The end of a run-like command: its JSON report when asked for, then a failed verification's message and exit code. */
export function finishRun(json: boolean, report: unknown, failed: boolean, why: string): void {
  if (json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  if (failed) {
    process.stderr.write(`rnnc: verification failed: ${why}\n`);
    process.exitCode = EXIT_USER;
  }
}

/**
 * `--mode`: the planner's choices (src/compiler/plan/plan.ts), for every command; `driverModes` are
 * the ones a command runs itself before planning (`newton` in run and compile), named in the message.
 */
export function parseMode(value: string, driverModes: readonly string[] = []): ModeRequest {
  if (isModeRequest(value)) return value;
  throw new UserError(`rnnc: --mode must be one of ${[...modeRequests, ...driverModes].join(', ')}, got '${value}'`, EXIT_INTERNAL);
}
