// Parser error messages, returned as JSON that carries a diagnostic code and its arguments;
// build-ast.ts decodes them into diagnostics. Rules named in `ruleHints` get a plain-words expectation.
import { tokenLabel, type IParserErrorMessageProvider, type IToken, type TokenType } from 'chevrotain';

const describe = (token: IToken): string =>
  token.tokenType.name === 'EOF' ? 'the end of the file' : `'${token.image}'`;
const oneOf = (labels: string[]): string => {
  const unique = [...new Set(labels)];
  return unique.length === 1 ? unique[0]! : `${unique.slice(0, -1).join(', ')} or ${unique.at(-1)}`;
};
// A block's closing brace is what the parser expects once no further item fits; say what else could come.
const closingHints: Record<string, string> = {
  file: "a declaration, a statement or '}'",
  monoidDecl: "'element', 'identity', 'combine' or '}'",
  combineDecl: "a `let`, a field assignment or '}'",
};
const ruleHints: Record<string, string> = {
  item: 'a declaration (dims, input, param, state, structure, monoid) or a statement (let, output, or an update `h[i] <- ...`)',
  primary: 'an expression',
  unary: 'an expression',
  tensorDecl: "'input' or 'param'",
};

// Messages are returned as JSON carrying the code and its arguments; parse() decodes them.
export const errorMessages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage: ({ expected, actual, ruleName }) =>
    JSON.stringify({
      code: 'RNN0102',
      expected: (expected.name === 'RBrace' ? closingHints[ruleName] : undefined) ?? tokenLabel(expected),
      found: describe(actual),
    }),
  buildNotAllInputParsedMessage: ({ firstRedundant }) =>
    JSON.stringify({ code: 'RNN0103', found: describe(firstRedundant), hint: 'everything must be inside `rnn NAME { ... }`' }),
  buildNoViableAltMessage: ({ expectedPathsPerAlt, actual, ruleName }) =>
    JSON.stringify({
      code: 'RNN0102',
      expected: ruleHints[ruleName] ?? oneOf(expectedPathsPerAlt.flat().map((path) => path.map((t: TokenType) => tokenLabel(t))[0]!)),
      found: describe(actual[0]!),
    }),
  buildEarlyExitMessage: ({ expectedIterationPaths, actual, ruleName }) =>
    JSON.stringify({
      code: 'RNN0102',
      expected: ruleHints[ruleName] ?? oneOf(expectedIterationPaths.map((path) => tokenLabel(path[0]!))),
      found: describe(actual[0]!),
    }),
};

