// The abstract syntax of one .rnn file. Spans are UTF-16 offsets into the source;
// lines and columns are computed only when a diagnostic is rendered.

export interface Span {
  start: number;
  end: number; // exclusive
}

export interface Name {
  name: string;
  span: Span;
}

export type CompareOp = '<' | '<=' | '>' | '>=' | '==' | '!=';
export type ArithOp = '+' | '-' | '*' | '/';

export type Expr =
  | { kind: 'number'; value: number; span: Span }
  | { kind: 'ref'; name: Name; field?: Name; indices: Name[]; bracketed: boolean; span: Span }
  | { kind: 'neg'; operand: Expr; span: Span }
  | { kind: 'binary'; op: ArithOp | CompareOp; left: Expr; right: Expr; opSpan: Span; span: Span }
  | { kind: 'call'; fn: Name; args: Expr[]; span: Span }
  | { kind: 'reduce'; op: Name; index: Name; body: Expr; span: Span };

/** A name with bracketed names: `x[D, N]` in a declaration, `h[d, n]` on a left side. */
export interface Shape {
  name: Name;
  indices: Name[];
  span: Span;
}

export interface DimDecl {
  name: Name;
  size?: number;
  sizeSpan?: Span;
}

export type Role = 'input' | 'param' | 'state';

export interface TensorDecl {
  role: Role;
  shape: Shape; // indices are dim names here
  init?: Expr; // states only
  /** Declared inside a `reversed { ... }` block (a state that runs backward in time). */
  reversed?: true;
}

/** `reversed`: the statement is inside a `reversed { ... }` block and runs backward in time. */
export type Stmt =
  | { kind: 'let'; lhs: Shape; rhs: Expr; span: Span; reversed?: true }
  | { kind: 'update'; lhs: Shape; rhs: Expr; span: Span; reversed?: true }
  | { kind: 'output'; lhs: Shape; rhs: Expr; span: Span; reversed?: true };

export interface StructureDecl {
  state?: Name;
  kind: Name;
  rank?: number;
  semiring?: Name;
  span: Span;
}

export interface FieldAssign {
  lhs: Shape;
  rhs: Expr;
  span: Span;
}

export interface CombineDecl {
  left: Name;
  right: Name;
  body: ({ kind: 'let' } & FieldAssign | { kind: 'field' } & FieldAssign)[];
  span: Span;
}

export interface MonoidDecl {
  element: FieldAssign[];
  identity: FieldAssign[];
  combine?: CombineDecl;
  span: Span;
}

export interface RnnFile {
  name: Name;
  /** The word after the name, `rnn name reversed {`: the direction of time (the checker accepts only `reversed`). */
  direction?: Name;
  dims: DimDecl[];
  tensors: TensorDecl[];
  stmts: Stmt[];
  structures: StructureDecl[];
  monoid?: MonoidDecl;
  /** The `reversed { ... }` blocks (their keyword's span); their declarations and statements carry `reversed`. */
  reversedBlocks?: { span: Span; nested: boolean }[];
  span: Span;
}

export function spanOf(a: Span, b: Span): Span {
  return { start: Math.min(a.start, b.start), end: Math.max(a.end, b.end) };
}
