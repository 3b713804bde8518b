// The prettier plugin for .rnn: the language, a parser wrapping the compiler's chevrotain parser
// (tree.ts: the CST with offsets, the comments from a token group), and the printer (printer.ts).
// Usable from prettier itself: `prettier --plugin ./dist/src/format/plugin.js file.rnn` (after `npm run build`).
import type { Plugin } from 'prettier';
import { parse } from '../compiler/syntax/build-ast.js';
import { SourceFile } from '../compiler/diagnostics/render.js';
import { buildTree, type Node } from './tree.js';
import { printer } from './printer.js';

/** The examples' longest line of code is 94 columns; lines break past 100. */
export const RNN_PRINT_WIDTH = 100;

/** A parse error as prettier reports one: a message and a 1-based line and column. */
class RnnSyntaxError extends SyntaxError {
  constructor(
    message: string,
    readonly loc: { start: { line: number; column: number } },
  ) {
    super(message);
  }
}

function parseRnn(text: string): Node {
  const { ast, diagnostics } = parse(text);
  if (!ast) {
    const first = diagnostics[0]!;
    const at = new SourceFile('<input>', text).position(first.span.start);
    throw new RnnSyntaxError(`${first.code}: ${first.message}`, { start: at });
  }
  return buildTree(text);
}

export const rnnPlugin: Plugin<Node> = {
  languages: [{ name: 'rnn', parsers: ['rnn'], extensions: ['.rnn'] }],
  parsers: { rnn: { parse: parseRnn, astFormat: 'rnn-tree', locStart: (node) => node.start, locEnd: (node) => node.end } },
  printers: { 'rnn-tree': printer },
  defaultOptions: { printWidth: RNN_PRINT_WIDTH, tabWidth: 2, useTabs: false },
};

// What prettier reads from a plugin module: `prettier --plugin ./dist/src/format/plugin.js --parser rnn FILE`.
export const { languages, parsers, printers, defaultOptions } = rnnPlugin;
export default rnnPlugin;
