// The prettier printer for .rnn: the tree of tree.ts to a doc. The style is the one the examples are
// written in (docs/format.md): two-space blocks; `input`, `param` and `state` padded to the width of
// `output `, `element` to the width of `identity `; binary chains that do not fit break before their
// operators, one more indent in; calls, reductions and parentheses break inside, prettier-style.
//
// Comments are attached by prettier (leading, trailing, dangling) with the handlers below, and printed
// here rather than by prettier's default (willPrintOwnComments), so that a comment between two
// operands of a chain goes on its own line before the operator, and a trailing comment keeps the
// spaces it was written with (comments aligned by hand stay aligned).
import { doc, util, type AstPath, type Doc, type ParserOptions, type Printer } from 'prettier';
import { childNodes, isBlock, type Block, type Comment, type Node, type Root } from './tree.js';

const { align, breakParent, fill, group, hardline, indent, join, line, lineSuffix, softline } = doc.builders;

type Options = ParserOptions<Node>;
type Print = (selector?: string | number | (string | number)[] | AstPath<Node>, args?: unknown) => Doc;
interface PrintArgs {
  /** The caller prints this node's leading comments itself (a chain operand: before its operator). */
  noLeading?: boolean;
  /** The caller prints this node's trailing comments after the first end-of-line one (`laterTrailing`). */
  firstTrailingOnly?: boolean;
}

/** Declaration keywords and the column their first item starts at: aligned with `output ` and `identity `. */
const KEYWORD_WIDTH: Record<string, number> = { dims: 5, input: 7, param: 7, state: 7, element: 9, identity: 9 };
const keyword = (word: string): string => word.padEnd(KEYWORD_WIDTH[word]! - 1) + ' ';

export const printer: Printer<Node> = {
  print(path, options, print, args) {
    const printed = printNode(path, options as Options, print);
    return path.node.type === 'root' ? printed : withComments(path, options as Options, printed, args as PrintArgs | undefined);
  },
  canAttachComment: (node) => (node as { type: string }).type !== 'comment' && node.type !== 'root',
  getCommentChildNodes: (node) => childNodes(node),
  getVisitorKeys: (node) => visitorKeys[node.type] ?? [],
  isBlockComment: () => false,
  willPrintOwnComments: () => true,
  printComment: (path) => (path.node as unknown as Comment).value,
  handleComments: { ownLine: placeComment, endOfLine: placeComment, remaining: placeComment },
};

const visitorKeys: Record<string, string[]> = {
  root: ['file'],
  file: ['items'],
  dims: ['items'],
  tensors: ['items'],
  states: ['items'],
  element: ['items'],
  identity: ['items'],
  stateItem: ['shape', 'init'],
  let: ['lhs', 'rhs'],
  output: ['lhs', 'rhs'],
  update: ['lhs', 'rhs'],
  field: ['lhs', 'rhs'],
  monoid: ['parts'],
  reversed: ['items'],
  combine: ['body'],
  chain: ['operands'],
  compare: ['left', 'right'],
  neg: ['operand'],
  paren: ['inner'],
  call: ['args'],
  reduce: ['body'],
};

// ---- where comments go ----

type Placed = Comment & { enclosingNode?: Node; precedingNode?: Node; followingNode?: Node };
const { addDanglingComment, addTrailingComment } = util;

/** Nodes with a left side, an operator (`=`, `<-`) and a right side. */
const assignLike = new Set(['let', 'output', 'update', 'field', 'stateItem']);
/** Statements and declarations (and `-x`): a comment inside one with no node before it goes after the statement. */
const itemLike = new Set(['dims', 'tensors', 'states', 'let', 'output', 'update', 'field', 'structure', 'element', 'identity', 'stateItem', 'neg']);

/**
 * Prettier's defaults attach a comment to the nearest node before it on its line (trailing), else the
 * node after it (leading). Here: a comment in a block's header or on the line of its `{` stays after
 * the `{`; one in an empty block stays in it; one between the sides of `=` or `<-` stays after the
 * operator (the right side then starts on the next line); one with no node before it inside a
 * statement (`let // c`, `x[ // c`) goes to the end of the statement, since there is no place
 * inside to print a line comment. Two end-of-line comments must never meet on one output line (the
 * second would become part of the first), and every rule here keeps them apart.
 */
function placeComment(comment: Placed, _text: string, options: Options, ast: Node): boolean {
  const text = options.originalText;
  const { enclosingNode: enclosing, precedingNode: preceding, followingNode: following } = comment;
  if (!enclosing || enclosing.type === 'root') return false;
  if (isBlock(enclosing)) {
    if (!preceding && (comment.start < enclosing.lbrace || !text.slice(enclosing.lbrace, comment.start).includes('\n'))) {
      addDanglingComment(enclosing, comment, 'open');
      return true;
    }
    if (!preceding && !following) {
      addDanglingComment(enclosing, comment, 'body');
      return true;
    }
    return false;
  }
  if (preceding && following && assignLike.has(enclosing.type)) {
    addDanglingComment(enclosing, comment, 'afterOp');
    return true;
  }
  if (!preceding && (!following || itemLike.has(enclosing.type))) {
    addTrailingComment(itemAround(ast as Root, comment.start), comment);
    return true;
  }
  return false;
}

/** The statement or declaration (a child of a block that is not a block itself) around an offset. */
function itemAround(root: Root, offset: number): Node {
  let block: Block = root.file;
  for (;;) {
    const list: Node[] = block.type === 'file' || block.type === 'reversed' ? block.items : block.type === 'monoid' ? block.parts : block.body;
    const item = list.find((n) => n.start <= offset && offset < n.end);
    if (!item) return block;
    if (!isBlock(item)) return item;
    block = item;
  }
}

// ---- printing comments ----

/** Whether only blanks stand between the start of its line and the comment. */
function ownLine(text: string, comment: Comment): boolean {
  const lineStart = text.lastIndexOf('\n', comment.start - 1) + 1;
  return text.slice(lineStart, comment.start).trim() === '';
}

/** The blanks written before a comment that ends a line of code: kept, so hand-aligned comments stay aligned. */
function gapBefore(text: string, comment: Comment): string {
  let at = comment.start;
  while (at > 0 && /\s/.test(text[at - 1]!)) at--;
  const blanks = text.slice(at, comment.start);
  return blanks.includes('\n') ? ' ' : ' '.repeat(Math.max(1, blanks.length));
}

const printed = (comment: Comment): string => ((comment as { printed?: boolean }).printed = true, comment.value);

function leadingComment(comment: Comment, options: Options): Doc {
  return [printed(comment), hardline, util.isNextLineEmpty(options.originalText, comment.end) ? hardline : ''];
}

/** Trailing comments: at the end of the line (lineSuffix), or on lines of their own below the node. */
function trailingComments(comments: Comment[], options: Options): Doc[] {
  const text = options.originalText;
  return comments.map((comment, k) => {
    if (k > 0 || ownLine(text, comment)) return [lineSuffix([hardline, util.isPreviousLineEmpty(text, comment.start) ? hardline : '', printed(comment)]), breakParent];
    return [lineSuffix([gapBefore(text, comment), printed(comment)]), breakParent];
  });
}

function withComments(path: AstPath<Node>, options: Options, doc: Doc, args?: PrintArgs): Doc {
  const comments = path.node.comments ?? [];
  if (comments.length === 0) return doc;
  const leading = args?.noLeading ? [] : comments.filter((c) => c.leading).map((c) => leadingComment(c, options));
  const trailing = comments.filter((c) => c.trailing);
  const shown = args?.firstTrailingOnly ? trailing.filter((c) => !laterTrailing(path.node, options).includes(c)) : trailing;
  return [...leading, doc, ...trailingComments(shown, options)];
}

/**
 * The trailing comments of a chain operand that go on lines of their own: all but a first one that
 * ends the operand's line. The chain prints them above the next operator, where they would be
 * leading comments of the next operand when the output is formatted again.
 */
function laterTrailing(node: Node, options: Options): Comment[] {
  const trailing = (node.comments ?? []).filter((c) => c.trailing);
  return trailing[0] && !ownLine(options.originalText, trailing[0]) ? trailing.slice(1) : trailing;
}

/** `line`, the comments that belong above an operator, the operator and its operand. */
function operatorLine(path: AstPath<Node>, options: Options, print: Print, before: Node, op: string, after: Node, key: string | (string | number)[], more: boolean): Doc {
  const above = [...laterTrailing(before, options).map((c) => [printed(c), hardline]), ...leadingOf(after, options)];
  return [line, ...above, op, ' ', print(key, { noLeading: true, firstTrailingOnly: more })];
}

const leadingOf = (node: Node, options: Options): Doc[] => (node.comments ?? []).filter((c) => c.leading).map((c) => leadingComment(c, options));

const hasComments = (node: Node): boolean => (node.comments?.length ?? 0) > 0 || childNodes(node).some(hasComments);

// ---- printing nodes ----

/** A block's items, one per line, keeping one blank line where the source has one or more. */
function items(path: AstPath<Node>, options: Options, print: Print, key: string): Doc[] {
  const list = (path.node as unknown as Record<string, Node[]>)[key]!;
  const printedItems = path.map(() => print(), key as never) as Doc[];
  return printedItems.flatMap((d, k) => (k < list.length - 1 ? [d, hardline, util.isNextLineEmpty(options.originalText, list[k]!.end) ? hardline : ''] : [d]));
}

/** `head {`, the items indented, `}`; a comment written on the `{` line stays there. */
function block(path: AstPath<Node>, options: Options, print: Print, head: Doc, key: string): Doc {
  const node = path.node;
  const dangling = (node.comments ?? []).filter((c) => !c.leading && !c.trailing);
  const [open, ...moreOpen] = dangling.filter((c) => c.marker === 'open');
  // More comments from the header, and those of an empty block: on lines of their own at the top.
  const loose = [...moreOpen, ...dangling.filter((c) => c.marker !== 'open')];
  const count = ((node as unknown as Record<string, Node[]>)[key] ?? []).length;
  const after = open ? [lineSuffix([gapBefore(options.originalText, open), printed(open)]), breakParent] : '';
  if (count === 0 && loose.length === 0) return [head, ' {', after, open ? hardline : '', '}'];
  const content: Doc[] = [join(hardline, loose.map(printed)), count > 0 && loose.length > 0 ? hardline : '', ...items(path, options, print, key)];
  return [head, ' {', after, indent([hardline, ...content]), hardline, '}'];
}

/** `input  a[N], b[N]`: the items after the padded keyword; continuation lines align with the first item. */
function declaration(path: AstPath<Node>, print: Print, word: string): Doc {
  const node = path.node as unknown as { items: Node[] };
  const printedItems = path.map(() => print(), 'items' as never) as Doc[];
  const width = KEYWORD_WIDTH[word]!;
  // A comment inside forces a break: then one item per line reads better than a filled line.
  if (node.items.some(hasComments)) return group([keyword(word), align(width, join([',', line], printedItems))]);
  const parts = printedItems.flatMap((d, k) => (k < printedItems.length - 1 ? [[d, ','], line] : [d]));
  return group([keyword(word), align(width, fill(parts))]);
}

/**
 * A chain as the first operand of another: one indent more, so that its operators, when it breaks,
 * sit deeper than the outer chain's (as they do for every later operand).
 */
const nested = (operand: Node, operandDoc: Doc): Doc => (operand.type === 'chain' || operand.type === 'compare' ? indent(operandDoc) : operandDoc);

/** `left = right`; comments written after the operator stay there, and the right side starts on the next line. */
function assignment(path: AstPath<Node>, options: Options, print: Print, left: Doc, op: string, key: string): Doc {
  const after = (path.node.comments ?? []).filter((c) => c.marker === 'afterOp');
  if (after.length === 0) return [left, ' ', op, ' ', print(key)];
  const text = options.originalText;
  const [first, ...rest] = after;
  const firstDoc = ownLine(text, first!) ? [hardline, printed(first!)] : [gapBefore(text, first!), printed(first!)];
  return [left, ' ', op, indent([firstDoc, ...rest.map((c) => [hardline, printed(c)]), hardline, print(key)])];
}

const indexList = (indices: string[] | undefined): Doc => (indices ? ['[', indices.join(', '), ']'] : '');

function printNode(path: AstPath<Node>, options: Options, print: Print): Doc {
  const node = path.node;
  switch (node.type) {
    case 'root':
      return [print('file'), hardline];
    case 'file':
      return block(path, options, print, ['rnn ', node.name, node.direction ? [' ', node.direction] : ''], 'items');
    case 'dims':
    case 'tensors':
    case 'states':
    case 'element':
    case 'identity':
      return declaration(path, print, node.type === 'tensors' ? node.role : node.type === 'states' ? 'state' : node.type);
    case 'dim':
      return node.size !== undefined ? [node.name, ' = ', node.size] : node.name;
    case 'stateItem':
      return assignment(path, options, print, print('shape'), '=', 'init');
    case 'shape':
      return [node.name, indexList(node.indices)];
    case 'let':
      return assignment(path, options, print, ['let ', print('lhs')], '=', 'rhs');
    case 'output':
      return assignment(path, options, print, ['output ', print('lhs')], '=', 'rhs');
    case 'update':
      return assignment(path, options, print, print('lhs'), '<-', 'rhs');
    case 'field':
      return assignment(path, options, print, print('lhs'), '=', 'rhs');
    case 'structure':
      return [
        'structure ',
        node.state !== undefined ? [node.state, ': '] : '',
        node.kind,
        node.rank !== undefined ? ['(', node.rank, ')'] : '',
        node.semiring !== undefined ? [' over ', node.semiring] : '',
      ];
    case 'monoid':
      return block(path, options, print, 'monoid', 'parts');
    case 'reversed':
      return block(path, options, print, 'reversed', 'items');
    case 'combine':
      return block(path, options, print, ['combine(', node.left, ', ', node.right, ')'], 'body');
    case 'number':
      return node.image;
    case 'ref':
      return [node.name, node.field !== undefined ? ['.', node.field] : '', indexList(node.indices)];
    case 'neg':
      return ['-', print('operand')];
    case 'chain': {
      // Comments between two operands go on lines of their own above the operator.
      const last = node.operands.length - 1;
      const first = print(['operands', 0], { firstTrailingOnly: true });
      const rest = node.operands.slice(1).map((operand, k) => operatorLine(path, options, print, node.operands[k]!, node.ops[k]!, operand, ['operands', k + 1], k + 1 < last));
      return group([nested(node.operands[0]!, first), indent(rest)]);
    }
    case 'compare':
      return group([nested(node.left, print('left', { firstTrailingOnly: true })), indent(operatorLine(path, options, print, node.left, node.op, node.right, 'right', false))]);
    case 'paren':
      return group(['(', indent([softline, print('inner')]), softline, ')']);
    case 'call':
      if (node.args.length === 0) return [node.fn, '()'];
      return group([node.fn, '(', indent([softline, join([',', line], path.map(() => print(), 'args'))]), softline, ')']);
    case 'reduce':
      return group([node.op, '(', node.index, ':', indent([line, print('body')]), softline, ')']);
  }
}
