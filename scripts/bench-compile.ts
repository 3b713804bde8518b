// Compile-time benchmark: every kernel of every example and bench cell, in every mode and split it
// can take, compiled by Dawn on a cold driver cache. Per kernel: the WGSL size, Dawn's pipeline
// creation and the first dispatch (Mesa lavapipe compiles to machine code only there), their sum in
// wall time and the CPU time the Dawn host spent on them; the CPU time is flagged over the budget
// (issue 11: 3 s per pipeline on lavapipe, cold): on 2 cores shared with other work, wall time
// mostly measures the others.
// Usage: npm run bench:compile [-- --cells mamba_s6,minmax --modes seq,scan --cap-s 600 --out docs/compile-bench.md]
// With --out, the report replaces what lies between the bench:compile markers of that file.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { frontEnd } from '../src/driver/front-end.js';
import { bindDims } from '../src/compiler/ir/dims.js';
import { emitSeq } from '../backends/wgsl-seq/emit.js';
import { compileScan, scanSupport } from '../backends/wgsl-scan/index.js';
import { compileChunk } from '../backends/wgsl-chunk/index.js';
import { GpuError, GpuSession, type ShaderReport } from '../src/runtime/dawn/runtime.js';

const BUDGET_MS = 3000;
const CELL_DIRS = ['examples', 'bench/cells'];
const MODES = ['seq', 'scan', 'chunk'] as const;
type Mode = (typeof MODES)[number];

const { values } = parseArgs({
  options: {
    cells: { type: 'string' },
    modes: { type: 'string', default: MODES.join(',') },
    out: { type: 'string' },
    'cap-s': { type: 'string', default: '600' },
  },
});

interface Kernel {
  name: string;
  wgsl: string;
}
/** One way to compile a cell: its kernels, or why the backend does not take it. */
interface Variant {
  mode: Mode;
  variant: string;
  kernels?: Kernel[];
  refused?: string;
}

const SCAN_VARIANTS = [undefined, 'stripe', 'thread', 'tile'] as const;

/**
 * Every kernel of every mode and split a cell can be compiled to, at the sizes its spec declares.
 * (To be replaced by the driver's list of kernels per mode once src/driver has one.)
 */
function enumerateKernels(text: string): Variant[] {
  const { module, analysis } = frontEnd(text);
  if (!module || !analysis) throw new Error('the cell does not check');
  const sizes = bindDims(module);
  const variants: Variant[] = [];
  const seq = emitSeq(module, sizes);
  variants.push({ mode: 'seq', variant: seq.strategy, kernels: [{ name: 'seq', wgsl: seq.wgsl }] });

  const plan = analysis.plan;
  const support = plan ? scanSupport(module, plan, sizes) : { ok: false as const, reason: 'not an associative recurrence' };
  if (!plan || !support.ok) variants.push({ mode: 'scan', variant: '-', refused: support.ok ? '' : support.reason });
  else
    for (const split of SCAN_VARIANTS)
      for (const subgroups of [true, false]) {
        const asked = `${split ?? 'default'}${subgroups ? '' : ', no subgroups'}`;
        try {
          const k = compileScan(module, plan, sizes, { subgroups, ...(split ? { tile: { split } } : {}) });
          const got = `${k.tile.split}${k.subgroups ? ', subgroups' : ''}`;
          variants.push({ mode: 'scan', variant: `${asked} → ${got}`, kernels: Object.values(k.kernels).map((x) => ({ name: x.name, wgsl: x.code })) });
        } catch (e) {
          variants.push({ mode: 'scan', variant: asked, refused: (e as Error).message });
        }
      }

  try {
    const k = compileChunk(module, sizes, { analysis });
    variants.push({ mode: 'chunk', variant: `C=${k.geometry.C}`, kernels: Object.entries(k.passes).map(([name, p]) => ({ name, wgsl: p.code })) });
  } catch (e) {
    variants.push({ mode: 'chunk', variant: '-', refused: (e as Error).message });
  }
  return variants;
}

interface Row {
  cell: string;
  mode: Mode;
  variant: string;
  kernel: string;
  bytes: number;
  /** Same WGSL as an earlier row: measured there (a warm cache would only measure the cache). */
  sameAs?: string;
  report?: ShaderReport;
  error?: string;
  /** Killed at the --cap-s wall-time limit. */
  capped?: boolean;
}

const totalMs = (r: ShaderReport | undefined) => (r?.pipelineMs ?? NaN) + (r?.dispatchMs ?? NaN);
/** What the budget is held to: CPU time of the compile (see the header). */
const costMs = (r: ShaderReport | undefined) => r?.cpuMs ?? NaN;

async function main() {
  const wanted = new Set(values.cells?.split(','));
  const modes = new Set(values.modes!.split(',') as Mode[]);
  const capMs = Number(values['cap-s']) * 1000;
  const cells = CELL_DIRS.flatMap((dir) => readdirSync(dir).filter((f) => f.endsWith('.rnn')).sort().map((f) => join(dir, f))).filter(
    (path) => !values.cells || wanted.has(basename(path, '.rnn')),
  );
  // A fresh, private driver cache: every pipeline compiles cold, and the user's cache is left alone.
  const cache = mkdtempSync(join(tmpdir(), 'rnnc-mesa-cache-'));
  const rows: Row[] = [];
  const refusals: string[] = [];
  const started = Date.now();
  // A kernel over the cap kills the Dawn host (reported as such); the next one starts a fresh host.
  const session = await GpuSession.open({ env: { MESA_SHADER_CACHE_DIR: cache } });
  let finished = false;
  const finish = async (interrupted: boolean) => {
    if (finished) return;
    finished = true;
    await session.close().catch(() => {});
    rmSync(cache, { recursive: true, force: true });
    const report = render(rows, refusals, session.adapter.description, Date.now() - started, interrupted);
    console.log(report);
    if (values.out) writeReport(values.out, report);
  };
  // Interrupted, it still reports what it measured so far.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void finish(true).then(() => process.exit(130)));

  const seen = new Map<string, Row>();
  for (const path of cells) {
    const cell = basename(path, '.rnn');
    for (const v of enumerateKernels(readFileSync(path, 'utf8')).filter((v) => modes.has(v.mode))) {
      if (v.refused !== undefined) {
        refusals.push(`| ${cell} | ${v.mode} | ${v.variant} | ${v.refused.replace(/\|/g, '\\|')} |`);
        continue;
      }
      for (const k of v.kernels!) {
        const row: Row = { cell, mode: v.mode, variant: v.variant, kernel: k.name, bytes: Buffer.byteLength(k.wgsl) };
        const earlier = seen.get(k.wgsl);
        if (earlier) row.sameAs = `${earlier.cell} ${earlier.mode} ${earlier.variant} ${earlier.kernel}`;
        else {
          seen.set(k.wgsl, row);
          try {
            [row.report] = await session.compileShaders([{ label: `${cell}.${k.name}`, code: k.wgsl }], { dispatch: true, timeoutMs: capMs });
          } catch (e) {
            row.capped = e instanceof GpuError && e.kind === 'timeout';
            row.error = row.capped ? `over the ${capMs / 1000} s cap (wall)` : (e as Error).message.split('\n')[0];
          }
        }
        rows.push(row);
        process.stderr.write(`${cell} ${v.mode} ${v.variant} ${k.name}: ${describe(row)}\n`);
      }
    }
  }
  await finish(false);
}

function describe(r: Row): string {
  if (r.sameAs) return `same WGSL as ${r.sameAs}`;
  if (r.error) return `failed: ${r.error}`;
  const errors = r.report!.messages.filter((m) => m.type === 'error');
  if (errors.length > 0) return `INVALID WGSL: ${errors[0]!.line}:${errors[0]!.column} ${errors[0]!.message}`;
  if (r.report!.pipelineError) return `pipeline failed: ${r.report!.pipelineError.split('\n')[0]}`;
  return `${(totalMs(r.report) / 1000).toFixed(2)} s wall, ${(costMs(r.report) / 1000).toFixed(2)} s CPU`;
}

const ms = (x: number | undefined) => (x === undefined ? '-' : x.toFixed(0));
const seconds = (x: number) => (Number.isNaN(x) ? '-' : (x / 1000).toFixed(2));

function render(rows: Row[], refusals: string[], adapter: string, wallMs: number, interrupted: boolean): string {
  const git = (...args: string[]) => {
    try {
      return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return undefined;
    }
  };
  const commit = git('rev-parse', '--short', 'HEAD') ?? 'unknown (not a git checkout)';
  const dirty = git('status', '--porcelain', '--untracked-files=no', 'backends', 'src') ? ' (with uncommitted changes)' : '';
  const args = process.argv.slice(2).filter((a, i, all) => a !== '--out' && all[i - 1] !== '--out');
  const out: string[] = [
    `Command: \`npm run bench:compile${args.length ? ` -- ${args.join(' ')}` : ''}\`; commit ${commit}${dirty}, ${new Date().toISOString().slice(0, 16)} UTC; ` +
      `adapter: ${adapter}; load average at the end ${(process.platform === 'linux' ? readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ') : '?')}; ` +
      `${rows.filter((r) => r.report).length} distinct kernels in ${(wallMs / 60_000).toFixed(1)} min${interrupted ? ' (interrupted: the cells and modes after the last row were not measured)' : ''}.`,
    '',
    `Wall = pipeline creation + first dispatch, with a fresh Mesa shader cache; CPU = the Dawn host's CPU time over both (all threads: the driver's compiler runs there). ` +
      `⚠ marks a kernel over ${BUDGET_MS / 1000} s of CPU; a kernel with the same WGSL as an earlier one is measured once.`,
    '',
    '### Worst kernel per cell and mode',
    '',
    '| cell | mode | kernels | worst kernel | variant | WGSL KiB | wall s | CPU s | |',
    '|---|---|---:|---|---|---:|---:|---:|---|',
  ];
  const groups = new Map<string, Row[]>();
  for (const r of rows) groups.set(`${r.cell}\0${r.mode}`, [...(groups.get(`${r.cell}\0${r.mode}`) ?? []), r]);
  for (const group of groups.values()) {
    const measured = group.filter((r) => r.report);
    const worst = measured.reduce<Row | undefined>((w, r) => (!w || costMs(r.report) > costMs(w.report) ? r : w), undefined);
    const broken = group.filter((r) => (r.error && !r.capped) || r.report?.pipelineError || r.report?.messages.some((m) => m.type === 'error'));
    const capped = group.filter((r) => r.capped).length;
    const flag = broken.length ? `✗ ${broken.length} failed` : capped ? `⚠ ${capped} over the cap` : worst && costMs(worst.report) > BUDGET_MS ? '⚠' : '';
    const w = worst ?? group[0]!;
    out.push(`| ${w.cell} | ${w.mode} | ${measured.length} | ${w.kernel} | ${w.variant} | ${(w.bytes / 1024).toFixed(1)} | ${seconds(totalMs(worst?.report))} | ${seconds(costMs(worst?.report))} | ${flag} |`);
  }
  out.push('', '### Every kernel', '', '| cell | mode | variant | kernel | WGSL KiB | pipeline ms | first dispatch ms | wall s | CPU s | |', '|---|---|---|---|---:|---:|---:|---:|---:|---|');
  for (const r of rows) {
    const note = r.sameAs ? `same WGSL as ${r.sameAs}` : r.report && costMs(r.report) <= BUDGET_MS ? '' : r.report && !Number.isNaN(costMs(r.report)) ? '⚠' : describe(r);
    out.push(`| ${r.cell} | ${r.mode} | ${r.variant} | ${r.kernel} | ${(r.bytes / 1024).toFixed(1)} | ${ms(r.report?.pipelineMs)} | ${ms(r.report?.dispatchMs)} | ${seconds(totalMs(r.report))} | ${seconds(costMs(r.report))} | ${note.replace(/\|/g, '\\|')} |`);
  }
  if (refusals.length) out.push('', '### Not compiled: the backend refuses the cell', '', '| cell | mode | variant | why |', '|---|---|---|---|', ...refusals);
  return out.join('\n');
}

const BEGIN = '<!-- bench:compile begin -->';
const END = '<!-- bench:compile end -->';

/** Replaces the report between the markers, keeping the rest of the page (notes, earlier runs). */
function writeReport(path: string, report: string) {
  let page = '';
  try {
    page = readFileSync(path, 'utf8');
  } catch {}
  const at = page.indexOf(BEGIN);
  const end = page.indexOf(END);
  const block = `${BEGIN}\n${report}\n${END}`;
  writeFileSync(path, at >= 0 && end > at ? page.slice(0, at) + block + page.slice(end + END.length) : `${page}${page ? '\n' : ''}${block}\n`);
}

await main();
