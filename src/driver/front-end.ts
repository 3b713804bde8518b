// The front end as the library offers it: source text in; diagnostics, the IR and its analysis out.
// It is the pipeline (pipeline.ts) run up to `analyse`.
import type { AnalyseOptions } from '../compiler/analyse/analyse.js';
import type { Analysis } from '../compiler/analyse/types.js';
import type { CheckedFile } from '../compiler/check/symbols.js';
import { hasErrors, type Diagnostic } from '../compiler/diagnostics/diagnostic.js';
import { SourceFile } from '../compiler/diagnostics/render.js';
import type { Module } from '../compiler/ir/ir.js';
import type { RnnFile } from '../compiler/syntax/ast.js';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { createRequire } from 'node:module';

/**
 * The pipeline (pipeline.ts), loaded on first use: its parse pass brings chevrotain and the ~640
 * lodash-es modules chevrotain imports, which a `rnnc run` whose front end comes from the cache never
 * needs. From dist/ it is loaded when first asked for, synchronously (Node >= 20.19 `require`s ES
 * modules, sharing their instances with `import`); from TypeScript sources (vitest, tsx), where
 * `require` cannot load a .ts file, it is imported with this module.
 */
const eager = import.meta.url.endsWith('.ts') ? await import('./pipeline.js') : undefined;
let loaded: typeof import('./pipeline.js') | undefined = eager;
export const pipeline = (): typeof import('./pipeline.js') => (loaded ??= createRequire(import.meta.url)('./pipeline.js') as typeof import('./pipeline.js'));

export interface FrontEndResult {
  ast?: RnnFile;
  checked?: CheckedFile;
  module?: Module;
  /** The structure analysis of the lowered module (present whenever lowering ran). */
  analysis?: Analysis;
  diagnostics: Diagnostic[];
}

/**
 * Parse, check, lower and analyse one .rnn source. `module` is present exactly when there are no
 * errors; the analysis's own errors (a declared structure that does not match, a monoid whose laws
 * fail) count, and `analysis` is then still there to show what was inferred. `options` go to the
 * analysis (the fuzzer runs fewer random law checks per cell).
 */
export function frontEnd(text: string | SourceFile, options: AnalyseOptions = {}): FrontEndResult {
  const source = typeof text === 'string' ? new SourceFile('<input>', text) : text;
  const { state } = pipeline().runPipeline(source, 'analyse', { analyse: options });
  const { ast, checked, module, analysis, diagnostics } = state;
  return {
    diagnostics,
    ...(ast ? { ast } : {}),
    ...(checked ? { checked } : {}),
    ...(analysis ? { analysis } : {}),
    ...(module && analysis && !hasErrors(diagnostics) ? { module } : {}),
  };
}

/**
 * The front end's result for a valid source, cached on disk: `rnnc run` spends most of its front-end
 * time in the analysis's law checks (random evaluations of the combine), the same for the same text
 * every time. An entry is keyed by a SHA-256 of the source text, the analysis options and a
 * fingerprint of the front end's own code (name, size and modification time of every module under
 * src/compiler, and of this file and pipeline's), so an edit or a rebuild of the compiler misses.
 * It holds the module, the analysis and the diagnostics (warnings only: a source with errors is never
 * stored), written with v8.serialize, which keeps what structured clone keeps (Maps, -0, NaN,
 * Infinity; every example round-trips deep-equal). No AST and no checked file: callers that need
 * them use `frontEnd`.
 *
 * Where: `RNNC_CACHE_DIR`, else `$XDG_CACHE_HOME/rnnc`, else `~/.cache/rnnc`, in `front-end/`.
 * `RNNC_CACHE=0` (or `off`) turns it off. An unreadable, corrupt or unwritable cache is a miss, never an
 * error; entries are written to a temporary name and renamed, so readers never see half of one.
 */
export function frontEndCached(source: SourceFile, options: AnalyseOptions = {}): FrontEndResult {
  const dir = frontEndCacheDir();
  const key = dir ? createHash('sha256').update(JSON.stringify([CACHE_FORMAT, compilerFingerprint(), options, source.text])).digest('hex') : '';
  const path = dir ? join(dir, `${key}.bin`) : '';
  if (dir) {
    try {
      const hit = v8.deserialize(readFileSync(path)) as { key: string; module: Module; analysis: Analysis; diagnostics: Diagnostic[] };
      if (hit.key === key && hit.module && hit.analysis && !hasErrors(hit.diagnostics)) return { module: hit.module, analysis: hit.analysis, diagnostics: hit.diagnostics };
    } catch {}
  }
  const result = frontEnd(source, options);
  if (dir && result.module && result.analysis) {
    try {
      mkdirSync(dir, { recursive: true });
      const tmp = `${path}.${process.pid}.tmp`;
      writeFileSync(tmp, v8.serialize({ key, module: result.module, analysis: result.analysis, diagnostics: result.diagnostics }));
      renameSync(tmp, path);
      trimCache(dir);
    } catch {}
  }
  return result;
}

/** Entries kept: past this, a write removes the older half (by modification time). */
const CACHE_ENTRIES = 256;

function trimCache(dir: string): void {
  const names = readdirSync(dir);
  if (names.length <= CACHE_ENTRIES) return;
  const aged = names.map((n) => ({ n, t: statSync(join(dir, n)).mtimeMs })).sort((a, b) => a.t - b.t);
  for (const { n } of aged.slice(0, aged.length - CACHE_ENTRIES / 2)) rmSync(join(dir, n), { force: true });
}

/** Bumped when the cached entry's layout changes. */
const CACHE_FORMAT = 1;

/** The front-end cache's folder, or undefined when the cache is off (RNNC_CACHE=0) or no folder can be named. */
export function frontEndCacheDir(): string | undefined {
  const flag = process.env['RNNC_CACHE'];
  if (flag === '0' || flag === 'off' || flag === 'false') return undefined;
  const base = process.env['RNNC_CACHE_DIR'] || (process.env['XDG_CACHE_HOME'] ? join(process.env['XDG_CACHE_HOME'], 'rnnc') : join(homedir(), '.cache', 'rnnc'));
  return base ? join(base, 'front-end') : undefined;
}

let fingerprint: string | undefined;

/** Name, size and mtime of every module of the compiler, and of the front end's own files (~50 stats). */
function compilerFingerprint(): string {
  if (fingerprint !== undefined) return fingerprint;
  const here = fileURLToPath(import.meta.url);
  const compiler = fileURLToPath(new URL('../compiler/', import.meta.url));
  const ext = here.slice(here.lastIndexOf('.'));
  const files = [here, join(dirname(here), `pipeline${ext}`)];
  for (const e of readdirSync(compiler, { recursive: true, withFileTypes: true })) if (e.isFile() && e.name.endsWith(ext)) files.push(join(e.parentPath, e.name));
  const hash = createHash('sha256');
  for (const f of files.sort()) {
    const s = statSync(f);
    hash.update(`${f}\0${s.size}\0${s.mtimeMs}\n`);
  }
  return (fingerprint = hash.digest('hex'));
}
