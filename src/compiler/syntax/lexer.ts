// Tokens of the .rnn language. Keywords come before Identifier and use `longer_alt`
// so that `dimsX` is still an identifier; every token has a label for error messages.
import { createToken, Lexer, type TokenType } from 'chevrotain';

/**
 * What may stand in brackets: a name, or a number, which parses only so that the checker can say why
 * an index must be a name (RNN0314). A token category: no token of its own, no lookahead cost.
 */
export const IndexName = createToken({ name: 'IndexName', pattern: Lexer.NA, label: 'a name' });

export const Identifier = createToken({ name: 'Identifier', pattern: /[A-Za-z_][A-Za-z0-9_]*/, label: 'a name', categories: [IndexName] });

const keyword = (word: string): TokenType =>
  createToken({ name: word[0]!.toUpperCase() + word.slice(1), pattern: new RegExp(word), longer_alt: Identifier, label: `'${word}'` });

export const Rnn = keyword('rnn');
export const Dims = keyword('dims');
export const Input = keyword('input');
export const Param = keyword('param');
export const State = keyword('state');
export const Let = keyword('let');
export const Output = keyword('output');
export const Structure = keyword('structure');
export const Over = keyword('over');
export const Monoid = keyword('monoid');
export const Element = keyword('element');
export const Identity = keyword('identity');
export const Combine = keyword('combine');
export const Inf = keyword('inf');

export const Number = createToken({
  name: 'Number',
  pattern: /(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?/,
  label: 'a number',
  categories: [IndexName],
});

export const Arrow = createToken({ name: 'Arrow', pattern: /<-/, label: "'<-'" });
export const LessEq = createToken({ name: 'LessEq', pattern: /<=/, label: "'<='" });
export const GreaterEq = createToken({ name: 'GreaterEq', pattern: />=/, label: "'>='" });
export const EqEq = createToken({ name: 'EqEq', pattern: /==/, label: "'=='" });
export const NotEq = createToken({ name: 'NotEq', pattern: /!=/, label: "'!='" });
export const Less = createToken({ name: 'Less', pattern: /</, label: "'<'" });
export const Greater = createToken({ name: 'Greater', pattern: />/, label: "'>'" });
export const Equals = createToken({ name: 'Equals', pattern: /=/, label: "'='" });
export const Plus = createToken({ name: 'Plus', pattern: /\+/, label: "'+'" });
export const Minus = createToken({ name: 'Minus', pattern: /-/, label: "'-'" });
export const Star = createToken({ name: 'Star', pattern: /\*/, label: "'*'" });
export const Slash = createToken({ name: 'Slash', pattern: /\//, label: "'/'" });
export const LParen = createToken({ name: 'LParen', pattern: /\(/, label: "'('" });
export const RParen = createToken({ name: 'RParen', pattern: /\)/, label: "')'" });
export const LBracket = createToken({ name: 'LBracket', pattern: /\[/, label: "'['" });
export const RBracket = createToken({ name: 'RBracket', pattern: /\]/, label: "']'" });
export const LBrace = createToken({ name: 'LBrace', pattern: /\{/, label: "'{'" });
export const RBrace = createToken({ name: 'RBrace', pattern: /\}/, label: "'}'" });
export const Comma = createToken({ name: 'Comma', pattern: /,/, label: "','" });
export const Colon = createToken({ name: 'Colon', pattern: /:/, label: "':'" });
export const Dot = createToken({ name: 'Dot', pattern: /\./, label: "'.'" });

export const LineComment = createToken({ name: 'LineComment', pattern: /\/\/[^\n\r]*/, group: Lexer.SKIPPED });
export const WhiteSpace = createToken({ name: 'WhiteSpace', pattern: /\s+/, group: Lexer.SKIPPED, line_breaks: true });

export const keywords = [Rnn, Dims, Input, Param, State, Let, Output, Structure, Over, Monoid, Element, Identity, Combine, Inf];

// Order matters: comments before '/', longer operators before their prefixes, keywords before Identifier.
export const allTokens: TokenType[] = [
  WhiteSpace, LineComment,
  Arrow, LessEq, GreaterEq, EqEq, NotEq, Less, Greater, Equals,
  Plus, Minus, Star, Slash, LParen, RParen, LBracket, RBracket, LBrace, RBrace, Comma, Colon,
  Number, Dot,
  ...keywords, Identifier, IndexName,
];

export const rnnLexer = new Lexer(allTokens, { positionTracking: 'full', ensureOptimizations: false });
