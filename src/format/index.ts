// The .rnn formatter: a prettier plugin (plugin.ts) and the one call the command line uses.
// It formats only what parses: the caller gets the compiler's diagnostics for anything else.
import { format } from 'prettier';
import { parse } from '../compiler/syntax/build-ast.js';
import type { Diagnostic } from '../compiler/diagnostics/diagnostic.js';
import { rnnPlugin, RNN_PRINT_WIDTH } from './plugin.js';

export { rnnPlugin, RNN_PRINT_WIDTH };

export type FormatResult = { formatted: string; diagnostics?: undefined } | { formatted?: undefined; diagnostics: Diagnostic[] };

/**
 * `text` in the canonical layout (docs/format.md), or the parser's diagnostics when it does not parse.
 * The layout is fixed, like gofmt's: no options, no configuration files.
 */
export async function formatRnn(text: string): Promise<FormatResult> {
  const parsed = parse(text);
  if (!parsed.ast) return { diagnostics: parsed.diagnostics };
  const formatted = await format(text, { parser: 'rnn', plugins: [rnnPlugin], printWidth: RNN_PRINT_WIDTH, tabWidth: 2, useTabs: false, endOfLine: 'lf' });
  return { formatted };
}
