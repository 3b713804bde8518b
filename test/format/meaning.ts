// What formatting must not change, as comparable values: the tokens, the comments' texts, the AST
// without its source positions, and (for a spec that checks) the lowered IR's printout.
import { SourceFile } from '../../src/compiler/diagnostics/render.js';
import { parse } from '../../src/compiler/syntax/build-ast.js';
import { rnnLexer } from '../../src/compiler/syntax/lexer.js';
import { printModule } from '../../src/compiler/ir/print.js';
import { runPipeline } from '../../src/driver/pipeline.js';
import { buildTree } from '../../src/format/tree.js';
import { formatRnn } from '../../src/format/index.js';

const positionKeys = new Set(['span', 'opSpan', 'sizeSpan']);

export interface Meaning {
  tokens: string[];
  comments: string[];
  ast: string;
  /** The IR after lowering, or the diagnostics (codes and messages) of the pass that stopped. */
  lowered: string;
}

export function meaningOf(text: string): Meaning {
  const parsed = parse(text);
  const ast = JSON.stringify(parsed.ast, (key, value) => (positionKeys.has(key) ? undefined : value === Infinity ? 'inf' : value));
  const { state, reached } = runPipeline(new SourceFile('<input>', text), 'lower');
  const lowered = reached === 'lower' ? printModule(state.module!) : state.diagnostics.map((d) => `${d.code} ${d.message}`).join('\n');
  return {
    tokens: rnnLexer.tokenize(text).tokens.map((t) => t.image),
    comments: buildTree(text).comments!.map((c) => c.value).sort(),
    ast,
    lowered,
  };
}

/** The text formatted; throws with the diagnostics when it does not parse. */
export async function fmt(text: string): Promise<string> {
  const result = await formatRnn(text);
  if (result.formatted === undefined) throw new Error(`does not parse: ${result.diagnostics.map((d) => `${d.code} ${d.message}`).join('; ')}\n${text}`);
  return result.formatted;
}
