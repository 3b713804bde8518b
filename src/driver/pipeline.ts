// The compiler as a list of named passes, each a value: parse → check → lower → analyse → plan. The
// front end runs the first four; `rnnc explain --after PASS` runs up to PASS and prints its result.
// In tests and debug builds (RNNC_VERIFY=1) the IR verifier runs after every pass that yields IR, so
// a broken pass fails at the pass, not three stages later.
import type { Analysis, ScanPlan } from '../compiler/analyse/types.js';
import { analyse, type AnalyseOptions } from '../compiler/analyse/analyse.js';
import { analysisText } from '../compiler/analyse/report.js';
import { analyseGrid, gridAnalysisText } from '../compiler/analyse/grid.js';
import { check } from '../compiler/check/checker.js';
import type { CheckedFile } from '../compiler/check/symbols.js';
import { hasErrors, sortDiagnostics, type Diagnostic } from '../compiler/diagnostics/diagnostic.js';
import type { SourceFile } from '../compiler/diagnostics/render.js';
import type { Def, Module } from '../compiler/ir/ir.js';
import { lower } from '../compiler/ir/lower.js';
import { printDef, printModule } from '../compiler/ir/print.js';
import { verifyModule } from '../compiler/ir/verify.js';
import type { Compilation } from '../compiler/plan/plan.js';
import { differentiate, type BackwardStep } from '../compiler/grad/reverse.js';
import { splitDirections } from '../compiler/ir/split-directions.js';
import { printBackward } from '../compiler/grad/print.js';
import type { RnnFile } from '../compiler/syntax/ast.js';
import { parse } from '../compiler/syntax/build-ast.js';
import { plan, type PlanOptions } from './compile.js';
import { RnncError } from './errors.js';

/** What the passes have produced so far; each fills its own field. */
export interface PipelineState {
  source: SourceFile;
  diagnostics: Diagnostic[];
  ast?: RnnFile;
  checked?: CheckedFile;
  module?: Module;
  analysis?: Analysis;
  compilation?: Compilation;
  /** The backward step (issue 14), only when asked for (`explain --after grad`). */
  backward?: BackwardStep;
  /** A bidirectional cell's: each part's backward step (the cell is differentiated as its two parts), with the part's name. */
  backwardParts?: { name: string; step: BackwardStep }[];
}

export interface PipelineOptions extends PlanOptions {
  /** For the analysis: the fuzzer runs fewer random law checks per cell. */
  analyse?: AnalyseOptions;
}

export interface Pass {
  name: string;
  description: string;
  /** Runs the pass; false when it produced errors (later passes do not run). */
  run(state: PipelineState, options: PipelineOptions): boolean;
  /** Its result as text, for `rnnc explain --after`. */
  print(state: PipelineState): string;
  /** Runs only when it is the pass asked for: nothing else needs it, so nothing else waits for it. */
  onRequest?: boolean;
}

const verifyIr = (): boolean => Boolean(process.env['RNNC_VERIFY'] || process.env['VITEST']);

function verified(module: Module, pass: string): void {
  if (!verifyIr()) return;
  const problems = verifyModule(module);
  if (problems.length) throw new Error(`IR verifier, after pass '${pass}':\n${problems.join('\n')}`);
}

/** A scan element as IR, for printing: fields, combine, identity and how each state follows. */
function printScanPlan(p: ScanPlan): string {
  const section = (title: string, defs: Def[]) => [`${title}:`, ...defs.flatMap((d) => printDef(d, '  ', false))];
  return [...section('element', p.fields), ...section('combine', p.combine), ...section('identity', p.identity), ...section('apply', p.apply)].join('\n') + '\n';
}

const json = (x: unknown) => JSON.stringify(x, (_, v) => (v === Infinity ? 'inf' : v === -Infinity ? '-inf' : v), 2) + '\n';

export const passes: readonly Pass[] = [
  {
    name: 'parse',
    description: 'text to AST (chevrotain, with error recovery)',
    run(s) {
      const parsed = parse(s.source.text);
      s.diagnostics.push(...parsed.diagnostics);
      if (parsed.ast) s.ast = parsed.ast;
      // A recovered AST is checked too, so one run reports syntax and name errors together.
      return parsed.ast !== undefined;
    },
    print: (s) => json(s.ast),
  },
  {
    name: 'check',
    description: 'names, index consistency, shapes and types',
    run(s) {
      const { checked, diagnostics } = check(s.ast!);
      s.checked = checked;
      s.diagnostics.push(...diagnostics);
      return !hasErrors(s.diagnostics);
    },
    print: (s) =>
      [...s.checked!.symbols.values()]
        .map((sym) => (sym.kind === 'dim' ? `dim    ${sym.name}${sym.size === undefined ? '' : ` = ${sym.size}`}` : `${sym.kind.padEnd(6)} ${sym.name}${sym.dims.length ? `[${sym.dims.join(', ')}]` : ''}`))
        .join('\n') + '\n',
  },
  {
    name: 'lower',
    description: 'AST to IR: a typed per-step dataflow graph over index spaces, with hoisting phases',
    run(s) {
      s.module = lower(s.ast!, s.checked!);
      verified(s.module, 'lower');
      return true;
    },
    print: (s) => printModule(s.module!),
  },
  {
    name: 'analyse',
    description: 'semiring-affine classification, structure of A, the scan element, associativity checks',
    run(s, options) {
      const analysed = analyse(s.module!, options.analyse);
      s.analysis = analysed.analysis;
      s.diagnostics.push(...analysed.diagnostics);
      verified(s.module!, 'analyse');
      return !hasErrors(analysed.diagnostics);
    },
    // A grid cell: the analysis per axis and its parallel form (the time analysis does not apply).
    print: (s) => (s.module!.grid ? gridAnalysisText(analyseGrid(s.module!), s.source).join('\n') + '\n' : analysisText(s.analysis!, s.source).join('\n') + '\n' + (s.analysis!.plan ? printScanPlan(s.analysis!.plan) : '')),
  },
  {
    name: 'grad',
    description: 'reverse mode: the backward step, a cell whose state is the adjoint (only on request)',
    onRequest: true,
    run(s) {
      // The reverse pass would read a grid cell's neighbour loads as the previous step's state.
      if (s.module!.grid) throw new RnncError(`rnnc: RNN0512: ${s.module!.name} is a grid cell (\`rnn ${s.module!.name} grid\`): its gradients are not built yet`);
      // A bidirectional cell: its two parts, one direction of time each (docs/grad.md, "Time directions").
      const parts = splitDirections(s.module!);
      if (parts) {
        const steps = parts.map((p) => ({ name: p.module.name, step: differentiate(p.module) }));
        for (const p of steps) verified(p.step.module, 'grad');
        s.backwardParts = steps;
        return true;
      }
      s.backward = differentiate(s.module!);
      verified(s.backward.module, 'grad');
      return true;
    },
    print: (s) => (s.backwardParts ? s.backwardParts.map((p) => `; the part ${p.name}\n${printBackward(p.step)}`).join('\n') : printBackward(s.backward!, s.module)),
  },
  {
    name: 'plan',
    description: 'the execution plan for the sizes and target: mode, split, tiles, chunk size, and why',
    run(s, options) {
      s.compilation = plan(s.module!, s.analysis!, options, s.source);
      return true;
    },
    // A cell run as two parts (Compilation.parts): each part's own plan beside the summed-up one.
    print: (s) => json(s.compilation!.parts ? { ...s.compilation!.plan, parts: s.compilation!.parts.map((p) => ({ direction: p.module.reversed ? 'reversed' : 'forward', module: p.module.name, ...p.plan })) } : s.compilation!.plan),
  },
];

/** The passes a run goes through, in order; an on-request pass (grad) runs only when `--after` names it. */
export const passNames = passes.filter((p) => !p.onRequest).map((p) => p.name);

/** Runs the passes up to and including `last`; stops early at the first pass with errors. */
export function runPipeline(source: SourceFile, last: string, options: PipelineOptions = {}): { state: PipelineState; reached: string } {
  const state: PipelineState = { source, diagnostics: [] };
  let reached = '';
  for (const pass of passes) {
    if (pass.onRequest && pass.name !== last) continue;
    const ok = pass.run(state, options);
    state.diagnostics = sortDiagnostics(state.diagnostics);
    if (!ok) break;
    reached = pass.name;
    if (pass.name === last) break;
  }
  return { state, reached };
}
