// `rnnc check FILE...`: diagnostics, and for a valid file a short summary of its interface.
import type { Command } from 'commander';
import { tensorsOf, type Module } from '../compiler/ir/ir.js';
import { diagnosticsJson, EXIT_OK, EXIT_USER, failed, loadFile, parseDimFlags, printDiagnostics } from './io.js';
import { analysisJson, analysisText } from '../compiler/analyse/report.js';
import { analyseGrid, gridAnalysisText, type GridAnalysis } from '../compiler/analyse/grid.js';
import { plan } from '../driver/compile.js';
import type { Analysis } from '../compiler/analyse/types.js';
import type { ExecutionPlan } from '../compiler/plan/plan.js';
import type { SourceFile } from '../compiler/diagnostics/render.js';
import { RnncError } from '../driver/errors.js';
import { approxCount as approx } from '../compiler/ir/cost.js';
import type { PrecisionRequest } from '../compiler/plan/precision.js';
import { parsePrecision, precisionOption } from './precision.js';

/**
 * What `--mode auto` runs at the sizes `--dim` gives (other dims without a size taken as 1 for the
 * size checks), and why; or why nothing can run at these sizes (a step over the cost limit, a size
 * over a limit, an unknown dim).
 */
function autoPlan(analysis: Analysis, module: Module, source: SourceFile, given: Record<string, number>, precision: PrecisionRequest): ExecutionPlan | RnncError {
  const dims = { ...Object.fromEntries(module.dims.filter((d) => d.size === undefined).map((d) => [d.name, 1])), ...given };
  try {
    return plan(module, analysis, { mode: 'auto', dims, precision }, source).plan;
  } catch (e) {
    if (e instanceof RnncError) return e;
    throw e;
  }
}

const planJson = (p: ExecutionPlan | RnncError, precision: boolean) => (p instanceof RnncError ? { error: p.message } : { auto: p.mode, why: p.why, considered: p.considered, cost: p.cost, ...(precision && p.precision ? { precision: p.precision } : {}) });

/** A grid cell's analysis per axis and its parallel form, for --json. */
const gridJson = (g: GridAnalysis, source: SourceFile) => ({ form: g.form, scan: g.scan, why: g.why, rows: analysisJson(g.rows, source), columns: analysisJson(g.columns, source) });

const shapeText = (dims: string[]) => (dims.length ? `[${dims.join(', ')}]` : '');

export function summary(m: Module) {
  const list = (role: Parameters<typeof tensorsOf>[1]) => tensorsOf(m, role).map((t) => ({ name: t.name, dims: t.dims }));
  return {
    name: m.name,
    ...(m.grid ? { grid: true } : {}),
    dims: m.dims.map((d) => ({ name: d.name, size: d.size ?? null })),
    inputs: list('input'),
    params: list('param'),
    states: tensorsOf(m, 'state').map((t) => ({ name: t.name, dims: t.dims, init: t.init?.kind === 'const' ? t.init.value : (t.init?.name ?? 0) })),
    outputs: list('output'),
  };
}

function summaryText(path: string, m: Module): string {
  const s = summary(m);
  const tensors = (ts: { name: string; dims: string[] }[]) => ts.map((t) => t.name + shapeText(t.dims)).join(', ') || '(none)';
  return [
    `${path}: ok — rnn ${s.name}${m.grid ? ' grid' : ''}`,
    `  dims    ${s.dims.map((d) => (d.size === null ? d.name : `${d.name}=${d.size}`)).join(', ') || '(none)'}`,
    `  inputs  ${tensors(s.inputs)}`,
    `  params  ${tensors(s.params)}`,
    `  state   ${tensors(s.states)}`,
    `  outputs ${tensors(s.outputs)}`,
  ].join('\n');
}

export function registerCheck(program: Command) {
  program
    .command('check')
    .description('parse and check .rnn files; print diagnostics, or a summary of each valid cell')
    .argument('<files...>', '.rnn files')
    .option('--dim <NAME=SIZE>', 'plan at this dim size: what --mode auto picks and why (repeatable)', (value: string, previous: string[] = []) => [...previous, value])
    .addOption(precisionOption())
    .option('--json', 'print a JSON report on stdout')
    .action((files: string[], opts: { json?: boolean; dim?: string[]; precision: string }, command: Command) => {
      const given = parseDimFlags(opts.dim);
      const precision = parsePrecision(opts.precision);
      // The precision is explained only when asked about (the plain summary stays as it was).
      const explain = command.getOptionValueSource('precision') === 'cli';
      let exit = EXIT_OK;
      const reports: unknown[] = [];
      for (const path of files) {
        const file = loadFile(path);
        const { module, analysis } = file.result;
        // A grid cell: its analysis per axis is printed instead (the time analysis does not apply), and its one plan is the wavefront's.
        const planned = module && analysis && !module.grid ? autoPlan(analysis, module, file.source, given, precision) : undefined;
        const ok = !failed(file) && !(planned instanceof RnncError);
        if (!ok) exit = EXIT_USER;
        if (opts.json) {
          reports.push({ file: path, ok, diagnostics: diagnosticsJson(file), ...(module ? { summary: summary(module) } : {}), ...(analysis && !module?.grid ? { analysis: analysisJson(analysis, file.source) } : {}), ...(module?.grid ? { grid: gridJson(analyseGrid(module), file.source) } : {}), ...(planned ? { plan: planJson(planned, explain) } : {}) });
        } else {
          printDiagnostics(file);
          if (module) process.stderr.write(summaryText(path, module) + '\n');
          // Per-state analysis lines; also for a file whose declared structure does not match, to show what was inferred.
          if (module?.grid) process.stderr.write(gridAnalysisText(analyseGrid(module), file.source).join('\n') + '\n');
          else if (analysis) process.stderr.write(analysisText(analysis, file.source).join('\n') + '\n');
          if (planned instanceof RnncError) process.stderr.write(planned.message + '\n');
          else if (planned) {
            const sizes = Object.entries(given).map(([d, n]) => `${d}=${n}`).join(', ');
            process.stderr.write(`  mode    auto -> ${planned.mode}${sizes ? ` at ${sizes}` : ''}: ${planned.why}\n`);
            if (explain && planned.precision) process.stderr.write(`  precision ${precision} -> ${planned.precision.storage === 'f16' ? 'f16-storage' : 'f32'}: ${planned.precision.why}\n`);
            process.stderr.write(`  cost    about ${approx(planned.cost.ops)} operations and ${approx(planned.cost.bytes)} bytes read per step and sequence\n`);
          }
        }
      }
      if (opts.json) process.stdout.write(JSON.stringify(files.length === 1 ? reports[0] : reports, null, 2) + '\n');
      process.exitCode = exit;
    });
}
