// The .rnn grammar as a chevrotain CST parser. Rules are layered for precedence
// (comparison < additive < multiplicative < unary < primary) and every child is labelled,
// so the AST builder reads `ctx.lhs`, `ctx.rhs`. Recovery is on: one run reports several errors.
// Nodes carry only their offsets (spans are offsets; lines come from the tokens): less to allocate
// per node of a long expression.
import { CstParser, type CstNode } from 'chevrotain';
import { errorMessages } from './errors.js';
import * as T from './lexer.js';

export class RnnParser extends CstParser {
  constructor() {
    super(T.allTokens, { recoveryEnabled: true, maxLookahead: 4, nodeLocationTracking: 'onlyOffset', errorMessageProvider: errorMessages });
    this.performSelfAnalysis();
  }

  file = this.RULE('file', () => {
    this.CONSUME(T.Rnn);
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    // `rnn name reversed { ... }`: time runs from each sequence's last step to its first; `rnn name grid
    // { ... }`: a 2-D grid of positions replaces time. A name, not a keyword, so that the checker can say
    // what may stand there (RNN0504) and `reversed` and `grid` stay usable names.
    this.OPTION(() => this.CONSUME2(T.Identifier, { LABEL: 'direction' }));
    this.CONSUME(T.LBrace);
    this.MANY(() => this.SUBRULE(this.item));
    this.CONSUME(T.RBrace);
  });

  item = this.RULE('item', () => {
    this.OR([
      { ALT: () => this.SUBRULE(this.dimsDecl) },
      { ALT: () => this.SUBRULE(this.tensorDecl) },
      { ALT: () => this.SUBRULE(this.stateDecl) },
      { ALT: () => this.SUBRULE(this.letStmt) },
      { ALT: () => this.SUBRULE(this.outputStmt) },
      { ALT: () => this.SUBRULE(this.updateStmt) },
      { ALT: () => this.SUBRULE(this.structureDecl) },
      { ALT: () => this.SUBRULE(this.monoidDecl) },
      // `reversed { ... }`: a soft keyword (a name elsewhere), told apart from an update by the `{`.
      {
        GATE: () => this.LA(1).image === 'reversed' && this.LA(2).tokenType === T.LBrace,
        ALT: () => this.SUBRULE(this.reversedBlock),
      },
    ]);
  });

  // reversed { state hb[D] = 0  hb[d] <- ...  output yb[d] = ... }: the part of a bidirectional cell
  // that runs backward in time, beside the statements outside it, which run forward.
  reversedBlock = this.RULE('reversedBlock', () => {
    this.CONSUME(T.Identifier, { LABEL: 'keyword' });
    this.CONSUME(T.LBrace);
    this.MANY(() => this.SUBRULE(this.item, { LABEL: 'items' }));
    this.CONSUME(T.RBrace);
  });

  // dims D = 16, N
  dimsDecl = this.RULE('dimsDecl', () => {
    this.CONSUME(T.Dims);
    this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.dimItem, { LABEL: 'dims' }) });
  });

  dimItem = this.RULE('dimItem', () => {
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.OPTION(() => {
      this.CONSUME(T.Equals);
      this.CONSUME(T.Number, { LABEL: 'size' });
    });
  });

  // input x[D], dt[D]   |   param A[D, N]
  tensorDecl = this.RULE('tensorDecl', () => {
    this.OR([
      { ALT: () => this.CONSUME(T.Input, { LABEL: 'role' }) },
      { ALT: () => this.CONSUME(T.Param, { LABEL: 'role' }) },
    ]);
    this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.shape, { LABEL: 'tensors' }) });
  });

  // state h[D, N] = 0, c[D] = 0
  stateDecl = this.RULE('stateDecl', () => {
    this.CONSUME(T.State);
    this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.stateItem, { LABEL: 'states' }) });
  });

  stateItem = this.RULE('stateItem', () => {
    this.SUBRULE(this.shape, { LABEL: 'tensor' });
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression, { LABEL: 'init' });
  });

  // A name with an optional list of names in brackets: dims in declarations, indices on a left side.
  // An IndexName is a name or a number: `x[n, 0]` parses, and the checker says why a number cannot
  // be an index (RNN0314) instead of a bare syntax error.
  shape = this.RULE('shape', () => {
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.OPTION(() => {
      this.CONSUME(T.LBracket);
      this.MANY_SEP({ SEP: T.Comma, DEF: () => this.CONSUME2(T.IndexName, { LABEL: 'indices' }) });
      this.CONSUME(T.RBracket);
    });
  });

  letStmt = this.RULE('letStmt', () => {
    this.CONSUME(T.Let);
    this.SUBRULE(this.shape, { LABEL: 'lhs' });
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression, { LABEL: 'rhs' });
  });

  outputStmt = this.RULE('outputStmt', () => {
    this.CONSUME(T.Output);
    this.SUBRULE(this.shape, { LABEL: 'lhs' });
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression, { LABEL: 'rhs' });
  });

  // h[d, n] <- expr   (the right side reads the state before this step's update)
  updateStmt = this.RULE('updateStmt', () => {
    this.SUBRULE(this.shape, { LABEL: 'lhs' });
    this.CONSUME(T.Arrow);
    this.SUBRULE(this.expression, { LABEL: 'rhs' });
  });

  // structure diagonal | structure h: lowrank(1) over sum_prod
  structureDecl = this.RULE('structureDecl', () => {
    this.CONSUME(T.Structure);
    this.OPTION(() => {
      this.CONSUME(T.Identifier, { LABEL: 'state' });
      this.CONSUME(T.Colon);
    });
    this.CONSUME2(T.Identifier, { LABEL: 'kind' });
    this.OPTION2(() => {
      this.CONSUME(T.LParen);
      this.CONSUME(T.Number, { LABEL: 'rank' });
      this.CONSUME(T.RParen);
    });
    this.OPTION3(() => {
      this.CONSUME(T.Over);
      this.CONSUME3(T.Identifier, { LABEL: 'semiring' });
    });
  });

  // A user-declared scan element: what one step contributes, the identity and the combine.
  monoidDecl = this.RULE('monoidDecl', () => {
    this.CONSUME(T.Monoid);
    this.CONSUME(T.LBrace);
    this.MANY(() =>
      this.OR([
        { ALT: () => this.SUBRULE(this.elementDecl) },
        { ALT: () => this.SUBRULE(this.identityDecl) },
        { ALT: () => this.SUBRULE(this.combineDecl) },
      ]),
    );
    this.CONSUME(T.RBrace);
  });

  elementDecl = this.RULE('elementDecl', () => {
    this.CONSUME(T.Element);
    this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.fieldAssign, { LABEL: 'fields' }) });
  });

  identityDecl = this.RULE('identityDecl', () => {
    this.CONSUME(T.Identity);
    this.AT_LEAST_ONE_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.fieldAssign, { LABEL: 'fields' }) });
  });

  // combine(a, b) { let m = max(a.m, b.m)  m = m ... }
  combineDecl = this.RULE('combineDecl', () => {
    this.CONSUME(T.Combine);
    this.CONSUME(T.LParen);
    this.CONSUME(T.Identifier, { LABEL: 'left' });
    this.CONSUME(T.Comma);
    this.CONSUME2(T.Identifier, { LABEL: 'right' });
    this.CONSUME(T.RParen);
    this.CONSUME(T.LBrace);
    this.MANY(() =>
      this.OR([
        { ALT: () => this.SUBRULE(this.letStmt, { LABEL: 'body' }) },
        { ALT: () => this.SUBRULE(this.fieldAssign, { LABEL: 'body' }) },
      ]),
    );
    this.CONSUME(T.RBrace);
  });

  fieldAssign = this.RULE('fieldAssign', () => {
    this.SUBRULE(this.shape, { LABEL: 'lhs' });
    this.CONSUME(T.Equals);
    this.SUBRULE(this.expression, { LABEL: 'rhs' });
  });

  expression = this.RULE('expression', () => {
    this.SUBRULE(this.additive, { LABEL: 'lhs' });
    this.OPTION(() => {
      this.OR([
        { ALT: () => this.CONSUME(T.Less, { LABEL: 'op' }) },
        { ALT: () => this.CONSUME(T.LessEq, { LABEL: 'op' }) },
        { ALT: () => this.CONSUME(T.Greater, { LABEL: 'op' }) },
        { ALT: () => this.CONSUME(T.GreaterEq, { LABEL: 'op' }) },
        { ALT: () => this.CONSUME(T.EqEq, { LABEL: 'op' }) },
        { ALT: () => this.CONSUME(T.NotEq, { LABEL: 'op' }) },
      ]);
      this.SUBRULE2(this.additive, { LABEL: 'rhs' });
    });
  });

  additive = this.RULE('additive', () => {
    this.SUBRULE(this.multiplicative, { LABEL: 'operands' });
    this.MANY(() => {
      this.OR([
        { ALT: () => this.CONSUME(T.Plus, { LABEL: 'ops' }) },
        { ALT: () => this.CONSUME(T.Minus, { LABEL: 'ops' }) },
      ]);
      this.SUBRULE2(this.multiplicative, { LABEL: 'operands' });
    });
  });

  multiplicative = this.RULE('multiplicative', () => {
    this.SUBRULE(this.unary, { LABEL: 'operands' });
    this.MANY(() => {
      this.OR([
        { ALT: () => this.CONSUME(T.Star, { LABEL: 'ops' }) },
        { ALT: () => this.CONSUME(T.Slash, { LABEL: 'ops' }) },
      ]);
      this.SUBRULE2(this.unary, { LABEL: 'operands' });
    });
  });

  unary = this.RULE('unary', () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.Minus, { LABEL: 'neg' });
          this.SUBRULE(this.unary, { LABEL: 'operand' });
        },
      },
      { ALT: () => this.SUBRULE(this.primary, { LABEL: 'operand' }) },
    ]);
  });

  primary = this.RULE('primary', () => {
    this.OR([
      { ALT: () => this.CONSUME(T.Number, { LABEL: 'number' }) },
      { ALT: () => this.CONSUME(T.Inf, { LABEL: 'inf' }) },
      {
        ALT: () => {
          this.CONSUME(T.LParen);
          this.SUBRULE(this.expression, { LABEL: 'inner' });
          this.CONSUME(T.RParen);
        },
      },
      // sum(j: body) — told apart from a call by the `name :` after the parenthesis.
      {
        GATE: () => this.LA(2).tokenType === T.LParen && this.LA(3).tokenType === T.Identifier && this.LA(4).tokenType === T.Colon,
        ALT: () => this.SUBRULE(this.reduction, { LABEL: 'reduction' }),
      },
      {
        GATE: () => this.LA(2).tokenType === T.LParen,
        ALT: () => this.SUBRULE(this.call, { LABEL: 'call' }),
      },
      { ALT: () => this.SUBRULE(this.reference, { LABEL: 'reference' }) },
    ]);
  });

  reduction = this.RULE('reduction', () => {
    this.CONSUME(T.Identifier, { LABEL: 'op' });
    this.CONSUME(T.LParen);
    this.CONSUME2(T.Identifier, { LABEL: 'index' });
    this.CONSUME(T.Colon);
    this.SUBRULE(this.expression, { LABEL: 'body' });
    this.CONSUME(T.RParen);
  });

  call = this.RULE('call', () => {
    this.CONSUME(T.Identifier, { LABEL: 'fn' });
    this.CONSUME(T.LParen);
    this.MANY_SEP({ SEP: T.Comma, DEF: () => this.SUBRULE(this.expression, { LABEL: 'args' }) });
    this.CONSUME(T.RParen);
  });

  // x, x[i, j], a.m, a.w[d]   (an IndexName is a name or a number, as in `shape`)
  reference = this.RULE('reference', () => {
    this.CONSUME(T.Identifier, { LABEL: 'name' });
    this.OPTION(() => {
      this.CONSUME(T.Dot);
      this.CONSUME2(T.Identifier, { LABEL: 'field' });
    });
    this.OPTION2(() => {
      this.CONSUME(T.LBracket);
      this.MANY_SEP({ SEP: T.Comma, DEF: () => this.CONSUME3(T.IndexName, { LABEL: 'indices' }) });
      this.CONSUME(T.RBracket);
    });
  });
}

// Building the parser runs its self-analysis; do it once per process.
let instance: RnnParser | undefined;
export function rnnParser(): RnnParser {
  return (instance ??= new RnnParser());
}

export type { CstNode };
