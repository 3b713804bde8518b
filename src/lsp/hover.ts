// What hovering a name shows: its kind and shape as a declaration would write it, the sizes of its
// dims, and for a state the analysis `rnnc check` prints for it (algebra, structure, scan or not and
// why), in the words of src/compiler/analyse/report.ts.
import { analysisText } from '../compiler/analyse/report.js';
import type { Analysis } from '../compiler/analyse/types.js';
import { functionArity } from '../compiler/builtins.js';
import type { CheckedFile, RnnSymbol } from '../compiler/check/symbols.js';
import type { SourceFile } from '../compiler/diagnostics/render.js';
import type { Target } from './names.js';

export interface HoverContext {
  source: SourceFile;
  checked: CheckedFile;
  analysis?: Analysis;
  /** Whether the file has errors: then a state's analysis is missing because of them. */
  hasErrors: boolean;
}

const shape = (dims: readonly string[]) => (dims.length ? `[${dims.join(', ')}]` : '');
const code = (text: string) => ['```rnn\n' + text + '\n```'];

const roleText: Record<Exclude<RnnSymbol['kind'], 'dim'>, string> = {
  input: 'an input: a new value at every time step',
  param: 'a param: the same value at every step',
  state: 'a state: carried from one step to the next',
  let: 'an intermediate value, computed at every step',
  output: 'an output: written at every time step',
};

/** The declared sizes of some dims, e.g. `D = 8, N = 4, K unset`. */
function sizes(dims: readonly string[], checked: CheckedFile): string | undefined {
  const unique = [...new Set(dims)];
  if (!unique.length) return undefined;
  return unique
    .map((d) => {
      const sym = checked.symbols.get(d);
      return sym?.kind === 'dim' && sym.size !== undefined ? `${d} = ${sym.size}` : `${d} has no default size (set it with --dim ${d}=SIZE)`;
    })
    .join(', ');
}

/** A state's lines from the analysis report, without the report's indentation and `analysis NAME:` prefix. */
export function stateAnalysis(state: string, analysis: Analysis, source: SourceFile): string[] {
  const report = analysis.states.find((r) => r.state === state);
  if (!report) return [];
  return analysisText({ ...analysis, states: [report] }, source).map((line) => line.trim().replace(new RegExp(`^analysis ${state}: `), ''));
}

function symbolHover(sym: RnnSymbol, ctx: HoverContext): string[] {
  if (sym.kind === 'dim') {
    return [...code(`dims ${sym.name}${sym.size === undefined ? '' : ` = ${sym.size}`}`), sym.size === undefined ? 'a dim without a default size: `--dim` must set it' : `a dim: an axis of size ${sym.size} unless \`--dim ${sym.name}=SIZE\` overrides it`];
  }
  const lines = [...code(`${sym.kind} ${sym.name}${shape(sym.dims)}`), roleText[sym.kind]];
  const known = sizes(sym.dims, ctx.checked);
  if (known) lines.push('', known);
  if (sym.kind === 'state') {
    const report = ctx.analysis ? stateAnalysis(sym.name, ctx.analysis, ctx.source) : [];
    if (report.length) lines.push('', ...report.map((l, k) => (k === 0 ? `**analysis**: ${l}` : l)));
    else if (ctx.hasErrors) lines.push('', 'no analysis until the errors in this file are fixed');
  }
  return lines;
}

/** Hover text as markdown: a code line with the declaration, then paragraphs. */
export function hoverText(target: Target, ctx: HoverContext): string {
  const lines = ((): string[] => {
    switch (target.kind) {
      case 'symbol':
        return symbolHover(target.symbol, ctx);
      case 'index': {
        const b = target.binding;
        const dim = b.dim === undefined ? '' : `: ${b.dim}`;
        const where = b.by === 'reduction' ? 'bound by its reduction' : 'bound by the left side';
        return [...code(`index ${b.name}${dim}`), `an index, ${where}${b.dim === undefined ? '' : `; it ranges over \`${b.dim}\``}`, ...(b.dim ? ['', sizes([b.dim], ctx.checked)!] : [])];
      }
      case 'operand':
        return [...code(`combine operand ${target.name}`), `the ${target.side === 'left' ? 'earlier' : 'later'} aggregate; \`${target.name}.STATE\` reads one of its fields`];
      case 'local':
        return [...code(`let ${target.local.name}${shape(target.local.dims)}`), 'a let of the combine, local to it'];
      case 'builtin':
        return target.reduction
          ? [...code(`${target.name}(index: body)`), `a reduction: \`${target.name}\` of the body over every value of the index`]
          : [...code(`${target.name}(${Array.from({ length: functionArity[target.name] ?? 0 }, (_, k) => String.fromCharCode(97 + k)).join(', ')})`), 'a builtin function'];
      case 'cell':
        return code(`rnn ${target.name}`);
    }
  })();
  // One paragraph per entry: markdown would join lines separated by a single line break.
  return lines.filter((l) => l !== '').join('\n\n');
}
