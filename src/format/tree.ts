// The tree the formatter prints: the chevrotain CST of a clean parse, reduced to what layout needs.
// Every node keeps its source offsets (start inclusive, end exclusive) so that prettier can attach
// the comments to the nodes around them; tokens are kept as written (numbers are not renormalized),
// so formatting only ever changes the whitespace between tokens and where comments sit.
import { createToken, Lexer, type CstElement, type CstNode, type IToken } from 'chevrotain';
import { allTokens, LineComment } from '../compiler/syntax/lexer.js';
import { rnnParser } from '../compiler/syntax/parser.js';

export interface Comment {
  type: 'comment';
  /** The comment as written, `//` included, without trailing blanks. */
  value: string;
  start: number;
  end: number;
  // Set by prettier's comment attachment.
  leading?: boolean;
  trailing?: boolean;
  placement?: 'ownLine' | 'endOfLine' | 'remaining';
  marker?: string;
}

interface Base {
  start: number;
  end: number;
  comments?: Comment[];
}

export type Expr =
  | (Base & { type: 'number'; image: string })
  | (Base & { type: 'ref'; name: string; field?: string; indices?: string[] })
  | (Base & { type: 'neg'; operand: Expr })
  | (Base & { type: 'chain'; operands: Expr[]; ops: string[] })
  | (Base & { type: 'compare'; left: Expr; op: string; right: Expr })
  | (Base & { type: 'paren'; inner: Expr })
  | (Base & { type: 'call'; fn: string; args: Expr[] })
  | (Base & { type: 'reduce'; op: string; index: string; body: Expr });

/** `x[D, N]` in a declaration, `h[d, n]` on a left side; `indices` is absent without brackets. */
export type Shape = Base & { type: 'shape'; name: string; indices?: string[] };
export type Dim = Base & { type: 'dim'; name: string; size?: string };
export type StateItem = Base & { type: 'stateItem'; shape: Shape; init: Expr };
export type Assign = Base & { type: 'let' | 'output' | 'update' | 'field'; lhs: Shape; rhs: Expr };
export type Combine = Base & { type: 'combine'; left: string; right: string; lbrace: number; body: Assign[] };
export type MonoidPart = (Base & { type: 'element' | 'identity'; items: Assign[] }) | Combine;

export type Item =
  | (Base & { type: 'dims'; items: Dim[] })
  | (Base & { type: 'tensors'; role: string; items: Shape[] })
  | (Base & { type: 'states'; items: StateItem[] })
  | Assign
  | (Base & { type: 'structure'; state?: string; kind: string; rank?: string; semiring?: string })
  | (Base & { type: 'monoid'; lbrace: number; parts: MonoidPart[] })
  | ReversedBlock;

/** `reversed { ... }`: the backward part of a bidirectional cell. */
export type ReversedBlock = Base & { type: 'reversed'; lbrace: number; items: Item[] };

/** `direction`: the word after the name (`rnn name reversed {`). */
export type FileNode = Base & { type: 'file'; name: string; direction?: string; lbrace: number; items: Item[] };
export type Root = Base & { type: 'root'; file: FileNode; comments?: Comment[] };

export type Node = Root | FileNode | Item | MonoidPart | Assign | StateItem | Dim | Shape | Expr;
/** The nodes with a `{ ... }` body of items. */
export type Block = FileNode | Extract<Node, { type: 'monoid' }> | Combine | ReversedBlock;
export const isBlock = (n: Node): n is Block => n.type === 'file' || n.type === 'monoid' || n.type === 'combine' || n.type === 'reversed';

/** The compiler's tokens, with comments in a group of their own instead of skipped. */
const CommentToken = createToken({ name: 'Comment', pattern: LineComment.PATTERN!, group: 'comments' });
const lexer = new Lexer(
  allTokens.map((t) => (t === LineComment ? CommentToken : t)),
  { positionTracking: 'full', ensureOptimizations: false },
);

/** The tree of `text`, which must be a clean parse (the caller runs the compiler's `parse` first). */
export function buildTree(text: string): Root {
  const lexed = lexer.tokenize(text);
  const parser = rnnParser();
  parser.input = lexed.tokens;
  const cst = parser.file();
  if (lexed.errors.length > 0 || parser.errors.length > 0) throw new Error('buildTree: the text does not parse');
  const comments: Comment[] = (lexed.groups['comments'] ?? []).map((t) => ({ type: 'comment', value: t.image.trimEnd(), start: t.startOffset, end: t.startOffset + t.image.trimEnd().length }));
  return { type: 'root', start: 0, end: text.length, file: file(cst), comments };
}

// ---- CST to tree ----

type Ctx = Record<string, CstElement[] | undefined>;
const ctx = (n: CstNode) => n.children as Ctx;
const toks = (c: Ctx, key: string) => (c[key] ?? []) as IToken[];
const kids = (c: Ctx, key: string) => (c[key] ?? []) as CstNode[];
const tok = (c: Ctx, key: string) => toks(c, key)[0]!;
const kid = (c: Ctx, key: string) => kids(c, key)[0]!;
const end = (t: IToken) => t.endOffset! + 1;
const span = (n: CstNode) => ({ start: n.location!.startOffset, end: n.location!.endOffset! + 1 });
/** Children of several rules in one list, in source order (chevrotain groups them by rule). */
const inOrder = (c: Ctx, keys: string[]) => keys.flatMap((k) => kids(c, k)).sort((a, b) => a.location!.startOffset - b.location!.startOffset);

function file(n: CstNode): FileNode {
  const c = ctx(n);
  const direction = toks(c, 'direction')[0];
  return { type: 'file', ...span(n), name: tok(c, 'name').image, ...(direction ? { direction: direction.image } : {}), lbrace: tok(c, 'LBrace').startOffset, items: kids(c, 'item').map(item) };
}

function item(n: CstNode): Item {
  const [kind, children] = Object.entries(ctx(n))[0]! as [string, CstNode[]];
  const node = children[0]!;
  const c = ctx(node);
  switch (kind) {
    case 'dimsDecl':
      return { type: 'dims', ...span(node), items: kids(c, 'dims').map(dim) };
    case 'tensorDecl':
      return { type: 'tensors', ...span(node), role: tok(c, 'role').image, items: kids(c, 'tensors').map(shape) };
    case 'stateDecl':
      return {
        type: 'states',
        ...span(node),
        items: kids(c, 'states').map((s) => ({ type: 'stateItem', ...span(s), shape: shape(kid(ctx(s), 'tensor')), init: expression(kid(ctx(s), 'init')) })),
      };
    case 'letStmt':
    case 'outputStmt':
    case 'updateStmt':
      return assign(node, kind.replace('Stmt', '') as 'let' | 'output' | 'update');
    case 'structureDecl': {
      const [state, rank, semiring] = [toks(c, 'state')[0], toks(c, 'rank')[0], toks(c, 'semiring')[0]];
      return {
        type: 'structure',
        ...span(node),
        kind: tok(c, 'kind').image,
        ...(state ? { state: state.image } : {}),
        ...(rank ? { rank: rank.image } : {}),
        ...(semiring ? { semiring: semiring.image } : {}),
      };
    }
    case 'reversedBlock':
      return { type: 'reversed', ...span(node), lbrace: tok(c, 'LBrace').startOffset, items: kids(c, 'items').map(item) };
    case 'monoidDecl':
      return { type: 'monoid', ...span(node), lbrace: tok(c, 'LBrace').startOffset, parts: inOrder(c, ['elementDecl', 'identityDecl', 'combineDecl']).map(monoidPart) };
  }
  throw new Error(`buildTree: unknown item ${kind}`);
}

function monoidPart(n: CstNode): MonoidPart {
  const c = ctx(n);
  if (n.name === 'combineDecl') {
    const body = kids(c, 'body')
      .sort((a, b) => a.location!.startOffset - b.location!.startOffset)
      .map((b) => assign(b, b.name === 'letStmt' ? 'let' : 'field'));
    return { type: 'combine', ...span(n), left: tok(c, 'left').image, right: tok(c, 'right').image, lbrace: tok(c, 'LBrace').startOffset, body };
  }
  return { type: n.name === 'elementDecl' ? 'element' : 'identity', ...span(n), items: kids(c, 'fields').map((f) => assign(f, 'field')) };
}

function assign(n: CstNode, type: Assign['type']): Assign {
  const c = ctx(n);
  return { type, ...span(n), lhs: shape(kid(c, 'lhs')), rhs: expression(kid(c, 'rhs')) };
}

function dim(n: CstNode): Dim {
  const c = ctx(n);
  const size = toks(c, 'size')[0];
  return { type: 'dim', ...span(n), name: tok(c, 'name').image, ...(size ? { size: size.image } : {}) };
}

/** Index names as written; absent when there are no brackets (`x` and `x[]` are both valid, and differ). */
const indices = (c: Ctx): { indices?: string[] } => (toks(c, 'LBracket').length > 0 ? { indices: toks(c, 'indices').map((t) => t.image) } : {});

function shape(n: CstNode): Shape {
  const c = ctx(n);
  return { type: 'shape', ...span(n), name: tok(c, 'name').image, ...indices(c) };
}

function expression(n: CstNode): Expr {
  const c = ctx(n);
  const left = chain(kid(c, 'lhs'), (m) => chain(m, unary));
  const op = toks(c, 'op')[0];
  if (!op) return left;
  const right = chain(kid(c, 'rhs'), (m) => chain(m, unary));
  return { type: 'compare', start: left.start, end: right.end, left, op: op.image, right };
}

/** `a + b - c` (or `a * b / c`) as one flat list: it is laid out as one, breaking before its operators. */
function chain(n: CstNode, next: (n: CstNode) => Expr): Expr {
  const c = ctx(n);
  const operands = kids(c, 'operands').map(next);
  if (operands.length === 1) return operands[0]!;
  const ops = toks(c, 'ops').sort((a, b) => a.startOffset - b.startOffset);
  return { type: 'chain', start: operands[0]!.start, end: operands.at(-1)!.end, operands, ops: ops.map((t) => t.image) };
}

function unary(n: CstNode): Expr {
  const c = ctx(n);
  const neg = toks(c, 'neg')[0];
  if (neg) {
    const operand = unary(kid(c, 'operand'));
    return { type: 'neg', start: neg.startOffset, end: operand.end, operand };
  }
  return primary(kid(c, 'operand'));
}

function primary(n: CstNode): Expr {
  const c = ctx(n);
  const at = span(n);
  const number = toks(c, 'number')[0] ?? toks(c, 'inf')[0];
  if (number) return { type: 'number', ...at, image: number.image };
  const inner = kids(c, 'inner')[0];
  if (inner) return { type: 'paren', ...at, inner: expression(inner) };
  const reduction = kids(c, 'reduction')[0];
  if (reduction) {
    const rc = ctx(reduction);
    return { type: 'reduce', ...at, op: tok(rc, 'op').image, index: tok(rc, 'index').image, body: expression(kid(rc, 'body')) };
  }
  const call = kids(c, 'call')[0];
  if (call) {
    const cc = ctx(call);
    return { type: 'call', ...at, fn: tok(cc, 'fn').image, args: kids(cc, 'args').map(expression) };
  }
  const rc = ctx(kid(c, 'reference'));
  const field = toks(rc, 'field')[0];
  return { type: 'ref', ...at, name: tok(rc, 'name').image, ...(field ? { field: field.image } : {}), ...indices(rc) };
}

/** The children comments may attach to, in source order. */
export function childNodes(n: Node): Node[] {
  switch (n.type) {
    case 'root':
      return [n.file];
    case 'file':
      return n.items;
    case 'dims':
    case 'tensors':
    case 'states':
    case 'element':
    case 'identity':
      return n.items;
    case 'stateItem':
      return [n.shape, n.init];
    case 'let':
    case 'output':
    case 'update':
    case 'field':
      return [n.lhs, n.rhs];
    case 'monoid':
      return n.parts;
    case 'reversed':
      return n.items;
    case 'combine':
      return n.body;
    case 'chain':
      return n.operands;
    case 'compare':
      return [n.left, n.right];
    case 'neg':
      return [n.operand];
    case 'paren':
      return [n.inner];
    case 'call':
      return n.args;
    case 'reduce':
      return [n.body];
    case 'structure':
    case 'dim':
    case 'shape':
    case 'number':
    case 'ref':
      return [];
  }
}

