// Parses .rnn source: lex, parse to a CST with recovery, and build the AST from the CST.
// Lexer and parser errors become diagnostics with codes; the AST is only built from a clean parse,
// so later phases never see recovered (partial) nodes. An AST may come with diagnostics (a number out
// of range): callers check both.
import type { CstElement, CstNode, IToken } from 'chevrotain';
import type * as A from './ast.js';
import { diagnostic, type Diagnostic } from '../diagnostics/diagnostic.js';
import { Identifier, keywords, LBracket, LParen, Minus, Number as NumberToken, RBracket, RParen, rnnLexer } from './lexer.js';
import { rnnParser } from './parser.js';

export interface ParseResult {
  ast?: A.RnnFile;
  diagnostics: Diagnostic[];
}

export function parse(text: string): ParseResult {
  const diagnostics: Diagnostic[] = [];
  const lexed = rnnLexer.tokenize(text);
  for (const e of lexed.errors) {
    diagnostics.push(diagnostic('RNN0101', { start: e.offset, end: e.offset + e.length }, { text: JSON.stringify(text.substr(e.offset, e.length)) }));
  }
  if (lexed.tokens.length === 0 && lexed.errors.length === 0) return { diagnostics: [diagnostic('RNN0107', { start: 0, end: 0 })] };
  const tooDeep = tooDeeplyNested(lexed.tokens);
  if (tooDeep) return { diagnostics: [...diagnostics, tooDeep] };
  const parser = rnnParser();
  parser.input = lexed.tokens;
  const cst = parser.file();
  for (const e of parser.errors) {
    const info = JSON.parse(e.message) as { code: 'RNN0102' | 'RNN0103'; [k: string]: string };
    const previous = (e as { previousToken?: IToken }).previousToken;
    const atEnd = e.token.tokenType.name === 'EOF' || Number.isNaN(e.token.startOffset);
    // Something missing at the end of a line (a ')' or an operand) is reported where it is missing,
    // just after the previous token, as tsc does, not at the first token of the next line.
    const endOfLine = previous !== undefined && !Number.isNaN(previous.startOffset) && (atEnd || previous.endLine! < e.token.startLine!);
    // Just after the previous token, or on its last character when the file ends right there.
    const after = Math.min(previous ? previous.endOffset! + 1 : 0, Math.max(0, text.length - 1));
    const span = endOfLine
      ? { start: after, end: after + 1 }
      : atEnd
        ? { start: Math.max(0, text.trimEnd().length - 1), end: Math.max(1, text.trimEnd().length) }
        : { start: e.token.startOffset, end: e.token.endOffset! + 1 };
    if (atEnd && info.code === 'RNN0102') diagnostics.push(diagnostic('RNN0104', span, { expected: info.expected! }));
    else if (endOfLine && info.code === 'RNN0102') diagnostics.push(diagnostic('RNN0106', span, { expected: info.expected! }, { notes: [`the next line starts with ${info.found}`] }));
    else diagnostics.push(diagnostic(info.code, span, info, { notes: keywordNote(e.token, info.expected) }));
  }
  // After an error, recovery tends to report follow-on errors on the same line; keep the first per line.
  const lineStarts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lineStarts.push(i + 1);
  const lineOf = (offset: number) => {
    let [lo, hi] = [0, lineStarts.length - 1];
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  const seenLines = new Set<number>();
  const unique = diagnostics
    .sort((a, b) => a.span.start - b.span.start)
    .filter((d) => {
      const line = lineOf(d.span.start);
      return seenLines.has(line) ? false : (seenLines.add(line), true);
    });
  if (unique.length > 0) return { diagnostics: unique };
  // A literal beyond the float32 range would silently become infinity on the GPU; `inf` says so explicitly.
  // The parse itself is sound, so the AST is still built and checked.
  const numbers = lexed.tokens
    .filter((t) => t.tokenType === NumberToken && !Number.isFinite(Math.fround(Number(t.image))))
    .map((t) => diagnostic('RNN0105', tokenSpan(t), { text: t.image }, { notes: ['write `inf` for an infinite value'] }));
  const duplicates: Diagnostic[] = [];
  const ast = buildFile(cst, duplicates);
  const monoid = ast.monoid ? [...ast.monoid.element, ...ast.monoid.identity, ...(ast.monoid.combine?.body ?? [])] : [];
  const expressions = [...ast.tensors.flatMap((t) => (t.init ? [t.init] : [])), ...ast.stmts.map((st) => st.rhs), ...monoid.map((f) => f.rhs)];
  const tooLong = expressions.find((e) => depthOf(e) > maxDepth);
  if (tooLong) return { diagnostics: [diagnostic('RNN0108', { start: tooLong.span.start, end: tooLong.span.start + 1 }, { limit: maxDepth }, { notes: ['split it with `let`'] })] };
  return { ast, diagnostics: [...numbers, ...duplicates] };
}

// The parser, checker and lowering recurse over expressions; past these depths a pathological file would
// overflow the stack. No cell comes near them: they exist so that such a file gets a diagnostic, not a crash.
const maxNesting = 64;
const maxDepth = 1000;

/** The first `(`, `[` or unary `-` past `maxNesting` levels of nesting, as a diagnostic. */
function tooDeeplyNested(tokens: IToken[]): Diagnostic | undefined {
  let depth = 0;
  let minusRun = 0;
  for (const t of tokens) {
    if (t.tokenType === LParen || t.tokenType === LBracket) depth++;
    else if (t.tokenType === RParen || t.tokenType === RBracket) depth = Math.max(0, depth - 1);
    minusRun = t.tokenType === Minus ? minusRun + 1 : 0;
    if (depth > maxNesting || minusRun > maxNesting) return diagnostic('RNN0108', tokenSpan(t), { limit: maxNesting }, { notes: ['split it with `let`'] });
  }
  return undefined;
}

/** Depth of an expression tree, without recursion (a chain of up to MAX_LEFT_DEEP_CHAIN operands is a left spine). */
function depthOf(root: A.Expr): number {
  let max = 0;
  const stack: [A.Expr, number][] = [[root, 1]];
  while (stack.length) {
    const [e, d] = stack.pop()!;
    max = Math.max(max, d);
    const children = e.kind === 'binary' ? [e.left, e.right] : e.kind === 'neg' ? [e.operand] : e.kind === 'call' ? e.args : e.kind === 'reduce' ? [e.body] : [];
    for (const c of children) stack.push([c, d + 1]);
  }
  return max;
}

/** `let input = x`: say why a word that looks like a name is not one. */
function keywordNote(found: IToken, expected: string | undefined): string[] {
  return expected === Identifier.LABEL && keywords.includes(found.tokenType) ? [`\`${found.image}\` is a keyword and cannot be used as a name`] : [];
}

// ---- CST to AST ----

type Ctx = Record<string, CstElement[] | undefined>;
const ctxOf = (node: CstNode) => node.children as Ctx;
// A missing child is the one shared empty list: a 20,000-term expression asks for many absent ones.
const none: readonly CstElement[] = Object.freeze([]);
const tokens = (ctx: Ctx, key: string) => (ctx[key] ?? none) as IToken[];
const nodes = (ctx: Ctx, key: string) => (ctx[key] ?? none) as CstNode[];
const token = (ctx: Ctx, key: string) => tokens(ctx, key)[0]!;
const node = (ctx: Ctx, key: string) => nodes(ctx, key)[0]!;

const tokenSpan = (t: IToken): A.Span => ({ start: t.startOffset, end: t.endOffset! + 1 });
const nodeSpan = (n: CstNode): A.Span => ({ start: n.location!.startOffset, end: n.location!.endOffset! + 1 });
const nameOf = (t: IToken): A.Name => ({ name: t.image, span: tokenSpan(t) });

/** The span of the keyword a node starts with: where a second `monoid` or `element` is reported. */
const keywordSpan = (n: CstNode, keyword: string): A.Span => ({ start: n.location!.startOffset, end: n.location!.startOffset + keyword.length });

/** The AST of a clean parse; parts the grammar repeats but a cell has once (a monoid, its element) are reported in `diagnostics`. */
function buildFile(cst: CstNode, diagnostics: Diagnostic[]): A.RnnFile {
  const ctx = ctxOf(cst);
  const file: A.RnnFile = { name: nameOf(token(ctx, 'name')), dims: [], tensors: [], stmts: [], structures: [], span: nodeSpan(cst) };
  const direction = tokens(ctx, 'direction')[0];
  if (direction) file.direction = nameOf(direction);
  buildItems(file, nodes(ctx, 'item'), diagnostics, false);
  return file;
}

/** Adds the items to the file; inside a `reversed { ... }` block (`reversed`), declarations and statements are marked. */
function buildItems(file: A.RnnFile, items: CstNode[], diagnostics: Diagnostic[], reversed: boolean): void {
  const mark = reversed ? { reversed: true as const } : {};
  for (const item of items) {
    const [kind, children] = Object.entries(ctxOf(item))[0]! as [string, CstNode[]];
    const n = children[0]!;
    const c = ctxOf(n);
    switch (kind) {
      case 'reversedBlock':
        (file.reversedBlocks ??= []).push({ span: tokenSpan(token(c, 'keyword')), nested: reversed });
        buildItems(file, nodes(c, 'items'), diagnostics, true);
        break;
      case 'dimsDecl':
        for (const d of nodes(c, 'dims')) {
          const dc = ctxOf(d);
          const size = tokens(dc, 'size')[0];
          file.dims.push({ name: nameOf(token(dc, 'name')), ...(size ? { size: Number(size.image), sizeSpan: tokenSpan(size) } : {}) });
        }
        break;
      case 'tensorDecl': {
        const role = token(c, 'role').image as 'input' | 'param';
        for (const s of nodes(c, 'tensors')) file.tensors.push({ role, shape: buildShape(s) });
        break;
      }
      case 'stateDecl':
        for (const s of nodes(c, 'states')) {
          const sc = ctxOf(s);
          file.tensors.push({ role: 'state', shape: buildShape(node(sc, 'tensor')), init: buildExpr(node(sc, 'init')), ...mark });
        }
        break;
      case 'letStmt':
      case 'outputStmt':
      case 'updateStmt':
        file.stmts.push({ kind: kind.replace('Stmt', '') as 'let' | 'output' | 'update', lhs: buildShape(node(c, 'lhs')), rhs: buildExpr(node(c, 'rhs')), span: nodeSpan(n), ...mark });
        break;
      case 'structureDecl': {
        const state = tokens(c, 'state')[0];
        const rank = tokens(c, 'rank')[0];
        const semiring = tokens(c, 'semiring')[0];
        file.structures.push({
          kind: nameOf(token(c, 'kind')),
          span: nodeSpan(n),
          ...(state ? { state: nameOf(state) } : {}),
          ...(rank ? { rank: Number(rank.image) } : {}),
          ...(semiring ? { semiring: nameOf(semiring) } : {}),
        });
        break;
      }
      case 'monoidDecl':
        if (file.monoid) diagnostics.push(diagnostic('RNN0615', keywordSpan(n, 'monoid'), { what: '`monoid` block', owner: 'a cell' }));
        else file.monoid = buildMonoid(n, diagnostics);
        break;
    }
  }
}

function buildMonoid(n: CstNode, diagnostics: Diagnostic[]): A.MonoidDecl {
  const c = ctxOf(n);
  for (const [rule, keyword] of [['elementDecl', 'element'], ['identityDecl', 'identity'], ['combineDecl', 'combine']] as const)
    for (const extra of nodes(c, rule).slice(1)) diagnostics.push(diagnostic('RNN0615', keywordSpan(extra, keyword), { what: `\`${keyword}\``, owner: 'a monoid' }));
  const fields = (decl: CstNode | undefined) => (decl ? nodes(ctxOf(decl), 'fields').map(buildAssign) : []);
  const monoid: A.MonoidDecl = { element: fields(nodes(c, 'elementDecl')[0]), identity: fields(nodes(c, 'identityDecl')[0]), span: nodeSpan(n) };
  const combine = nodes(c, 'combineDecl')[0];
  if (combine) {
    const cc = ctxOf(combine);
    const body = nodes(cc, 'body')
      .map((b) => ({ node: b, kind: b.name === 'letStmt' ? ('let' as const) : ('field' as const) }))
      .sort((a, b) => a.node.location!.startOffset - b.node.location!.startOffset)
      .map(({ node: b, kind }) => ({ kind, ...buildAssign(b) }));
    monoid.combine = { left: nameOf(token(cc, 'left')), right: nameOf(token(cc, 'right')), body, span: nodeSpan(combine) };
  }
  return monoid;
}

function buildAssign(n: CstNode): A.FieldAssign {
  const c = ctxOf(n);
  return { lhs: buildShape(node(c, 'lhs')), rhs: buildExpr(node(c, 'rhs')), span: nodeSpan(n) };
}

/** The names in brackets; a number among them stays a name for the checker to report (RNN0314). */
const indexNames = (c: Ctx): A.Name[] => tokens(c, 'indices').map(nameOf);

function buildShape(n: CstNode): A.Shape {
  const c = ctxOf(n);
  return { name: nameOf(token(c, 'name')), indices: indexNames(c), span: nodeSpan(n) };
}

/**
 * Chains up to this many operands are built exactly as written, left-associative: `a - b + c` is
 * `(a - b) + c`, and float32 rounds in that order. A longer chain is built as a balanced tree (its
 * value is mathematically the same; rounding may differ), so that a flat 20,000-term sum is a tree of
 * depth 15, not 20,000: every pass recurses over expressions, and none of them goes past the stack or
 * does quadratic work on a flat chain.
 */
export const MAX_LEFT_DEEP_CHAIN = 64;

/** An operand of a long chain: whether the source subtracts (divides by) it, and the operator before it. */
type ChainOperand = { inverted: boolean; opToken: IToken | undefined; expr: A.Expr };

/** Operators and operands of a left-associative chain (`+ -` or `* /`), in source order. */
function chain(n: CstNode, next: (n: CstNode) => A.Expr): A.Expr {
  const c = ctxOf(n);
  const operands = nodes(c, 'operands');
  const ops = tokens(c, 'ops').sort((a, b) => a.startOffset - b.startOffset);
  const binary = (op: A.ArithOp, opToken: IToken, left: A.Expr, right: A.Expr): A.Expr => ({
    kind: 'binary',
    op,
    left,
    right,
    opSpan: tokenSpan(opToken),
    span: { start: Math.min(left.span.start, right.span.start), end: Math.max(left.span.end, right.span.end) },
  });
  if (operands.length <= MAX_LEFT_DEEP_CHAIN) {
    let left = next(operands[0]!);
    ops.forEach((op, i) => (left = binary(op.image as A.ArithOp, op, left, next(operands[i + 1]!))));
    return left;
  }
  // a + b - c + d - e ... = (a + b + d ...) - (c + e ...): the operands that are added (multiplied) in
  // one balanced tree, those subtracted (divided by) in another, and one `-` (`/`) between them. An
  // operand is negated exactly when the source subtracts it, so the analysis sees the signs as written.
  const additive = ops[0]!.image === '+' || ops[0]!.image === '-';
  const [plus, minus]: [A.ArithOp, A.ArithOp] = additive ? ['+', '-'] : ['*', '/'];
  const terms: ChainOperand[] = operands.map((o, i) => ({ inverted: ops[i - 1]?.image === minus, opToken: ops[i - 1], expr: next(o) }));
  const balanced = (list: ChainOperand[], from = 0, to = list.length): A.Expr => {
    if (to - from === 1) return list[from]!.expr;
    const mid = (from + to) >> 1;
    // The operator written before the right half's first operand (never the chain's first operand).
    return binary(plus, list[mid]!.opToken!, balanced(list, from, mid), balanced(list, mid, to));
  };
  const kept = balanced(terms.filter((t) => !t.inverted));
  const inverted = terms.filter((t) => t.inverted);
  return inverted.length === 0 ? kept : binary(minus, inverted[0]!.opToken!, kept, balanced(inverted));
}

function buildExpr(n: CstNode): A.Expr {
  const c = ctxOf(n);
  const left = chain(node(c, 'lhs'), buildMultiplicative);
  const op = tokens(c, 'op')[0];
  if (!op) return left;
  const right = chain(node(c, 'rhs'), buildMultiplicative);
  return { kind: 'binary', op: op.image as A.CompareOp, left, right, opSpan: tokenSpan(op), span: { start: left.span.start, end: right.span.end } };
}

const buildMultiplicative = (n: CstNode): A.Expr => chain(n, buildUnary);

function buildUnary(n: CstNode): A.Expr {
  const c = ctxOf(n);
  const neg = tokens(c, 'neg')[0];
  const operand = node(c, 'operand');
  if (neg) {
    const inner = buildUnary(operand);
    return { kind: 'neg', operand: inner, span: { start: neg.startOffset, end: inner.span.end } };
  }
  return buildPrimary(operand);
}

function buildPrimary(n: CstNode): A.Expr {
  const c = ctxOf(n);
  const span = nodeSpan(n);
  const number = tokens(c, 'number')[0];
  if (number) return { kind: 'number', value: Number(number.image), span };
  if (tokens(c, 'inf')[0]) return { kind: 'number', value: Infinity, span };
  const inner = nodes(c, 'inner')[0];
  if (inner) return { ...buildExpr(inner), span };
  const reduction = nodes(c, 'reduction')[0];
  if (reduction) {
    const rc = ctxOf(reduction);
    return { kind: 'reduce', op: nameOf(token(rc, 'op')), index: nameOf(token(rc, 'index')), body: buildExpr(node(rc, 'body')), span };
  }
  const call = nodes(c, 'call')[0];
  if (call) {
    const cc = ctxOf(call);
    return { kind: 'call', fn: nameOf(token(cc, 'fn')), args: nodes(cc, 'args').map(buildExpr), span };
  }
  const rc = ctxOf(node(c, 'reference'));
  const field = tokens(rc, 'field')[0];
  return {
    kind: 'ref',
    name: nameOf(token(rc, 'name')),
    indices: indexNames(rc),
    bracketed: (rc['LBracket'] ?? []).length > 0,
    span,
    ...(field ? { field: nameOf(field) } : {}),
  };
}
