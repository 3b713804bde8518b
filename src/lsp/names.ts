// Every name in a .rnn file with what it refers to, for hover and go-to-definition. The checked AST
// keeps each name's span and the checker's symbol table keeps each declaration's span, so this walks
// the AST once and resolves each name as the checker does: declared names through the symbols, index
// names through the statement (or reduction) that binds them, and the monoid's own names (combine
// operands, combine lets) through the monoid block.
import { callableNames, reducers } from '../compiler/builtins.js';
import type { CheckedFile, RnnSymbol } from '../compiler/check/symbols.js';
import type * as A from '../compiler/syntax/ast.js';

/** An index name bound by a left side or a reduction; `dim` is the dim it ranges over, once known. */
export interface IndexBinding {
  name: string;
  span: A.Span;
  dim?: string;
  /** Where it is bound: a statement's left side, a reduction, or a monoid field's left side. */
  by: 'lhs' | 'reduction';
}

/** A `let` inside a monoid's combine: not in the symbol table (it is local to the combine). */
export interface CombineLocal {
  name: string;
  span: A.Span;
  dims: string[];
}

export type Target =
  | { kind: 'symbol'; symbol: RnnSymbol }
  | { kind: 'index'; binding: IndexBinding }
  | { kind: 'operand'; name: string; span: A.Span; side: 'left' | 'right' }
  | { kind: 'local'; local: CombineLocal }
  | { kind: 'builtin'; name: string; reduction: boolean }
  | { kind: 'cell'; name: string; span: A.Span };

export interface Occurrence {
  span: A.Span;
  name: string;
  target: Target;
}

/** Where a target is declared; undefined for a builtin. */
export function definitionOf(t: Target): A.Span | undefined {
  switch (t.kind) {
    case 'symbol':
      return t.symbol.span;
    case 'index':
      return t.binding.span;
    case 'operand':
    case 'cell':
      return t.span;
    case 'local':
      return t.local.span;
    case 'builtin':
      return undefined;
  }
}

type Scope = ReadonlyMap<string, IndexBinding>;

interface MonoidScope {
  operands: Map<string, { span: A.Span; side: 'left' | 'right' }>;
  locals: Map<string, CombineLocal>;
}

const builtinNames = new Set(callableNames);
const reducerNames = new Set<string>(reducers);

class NameIndex {
  readonly found: Occurrence[] = [];
  constructor(private readonly checked: CheckedFile) {}

  private add(name: A.Name, target: Target): void {
    this.found.push({ span: name.span, name: name.name, target });
  }

  private symbol(name: A.Name): RnnSymbol | undefined {
    const sym = this.checked.symbols.get(name.name);
    if (sym) this.add(name, { kind: 'symbol', symbol: sym });
    return sym;
  }

  /** Binds each index of a left side; its dim comes from the checker when the statement checked cleanly. */
  bindLhs(lhs: A.Shape, dims: readonly string[] | undefined): Map<string, IndexBinding> {
    const scope = new Map<string, IndexBinding>();
    lhs.indices.forEach((i, k) => {
      const dim = dims?.[k];
      const binding: IndexBinding = { name: i.name, span: i.span, by: 'lhs', ...(dim ? { dim } : {}) };
      if (!scope.has(i.name)) scope.set(i.name, binding);
      this.add(i, { kind: 'index', binding: scope.get(i.name)! });
    });
    return scope;
  }

  /** The indices of a read `x[i, j]`: each names a binding, which learns its dim from x's declaration. */
  private indices(indices: A.Name[], dims: readonly string[] | undefined, scope: Scope): void {
    indices.forEach((i, k) => {
      const binding = scope.get(i.name);
      if (!binding) return;
      const dim = dims?.[k];
      if (binding.dim === undefined && dim !== undefined) binding.dim = dim;
      this.add(i, { kind: 'index', binding });
    });
  }

  expr(e: A.Expr, scope: Scope, monoid?: MonoidScope): void {
    switch (e.kind) {
      case 'number':
        return;
      case 'neg':
        return this.expr(e.operand, scope, monoid);
      case 'binary':
        this.expr(e.left, scope, monoid);
        return this.expr(e.right, scope, monoid);
      case 'call':
        if (builtinNames.has(e.fn.name)) this.add(e.fn, { kind: 'builtin', name: e.fn.name, reduction: false });
        for (const a of e.args) this.expr(a, scope, monoid);
        return;
      case 'reduce': {
        if (reducerNames.has(e.op.name)) this.add(e.op, { kind: 'builtin', name: e.op.name, reduction: true });
        const binding: IndexBinding = { name: e.index.name, span: e.index.span, by: 'reduction' };
        this.add(e.index, { kind: 'index', binding });
        return this.expr(e.body, new Map([...scope, [e.index.name, binding]]), monoid);
      }
      case 'ref':
        return this.ref(e, scope, monoid);
    }
  }

  private ref(e: Extract<A.Expr, { kind: 'ref' }>, scope: Scope, monoid?: MonoidScope): void {
    // An index read as a value is an error (RNN0313), but it still names its binding.
    const bound = scope.get(e.name.name);
    if (bound) return this.add(e.name, { kind: 'index', binding: bound });
    const operand = monoid?.operands.get(e.name.name);
    if (operand) {
      this.add(e.name, { kind: 'operand', name: e.name.name, ...operand });
      // `a.w[d]`: the field is a state, and its dims are the state's.
      const field = e.field ? this.symbol(e.field) : undefined;
      return this.indices(e.indices, field?.kind === 'dim' ? undefined : field?.dims, scope);
    }
    const local = monoid?.locals.get(e.name.name);
    if (local) {
      this.add(e.name, { kind: 'local', local });
      return this.indices(e.indices, local.dims, scope);
    }
    const sym = this.symbol(e.name);
    this.indices(e.indices, sym && sym.kind !== 'dim' ? sym.dims : undefined, scope);
  }

  /** A statement or monoid field: the left side binds indices, the right side reads them. */
  assignment(lhs: A.Shape, rhs: A.Expr, dims: readonly string[] | undefined, monoid?: MonoidScope): Map<string, IndexBinding> {
    const scope = this.bindLhs(lhs, dims);
    this.expr(rhs, scope, monoid);
    return scope;
  }

  file(file: A.RnnFile): void {
    this.add(file.name, { kind: 'cell', name: file.name.name, span: file.name.span });
    for (const d of file.dims) this.symbol(d.name);
    for (const t of file.tensors) {
      this.symbol(t.shape.name);
      for (const d of t.shape.indices) this.symbol(d);
      if (t.init) this.expr(t.init, new Map());
    }
    file.stmts.forEach((s) => {
      // The left side's name: a let's or output's declaration, or the state an update writes.
      this.symbol(s.lhs.name);
      const sym = this.checked.symbols.get(s.lhs.name.name);
      const dims = this.checked.lhsDims.get(s) ?? (sym && sym.kind !== 'dim' && s.kind === 'update' ? sym.dims : undefined);
      this.assignment(s.lhs, s.rhs, dims);
    });
    for (const s of file.structures) if (s.state) this.symbol(s.state);
    if (file.monoid) this.monoid(file.monoid);
  }

  private stateDims(name: string): string[] | undefined {
    const sym = this.checked.symbols.get(name);
    return sym && sym.kind === 'state' ? sym.dims : undefined;
  }

  private monoid(m: A.MonoidDecl): void {
    for (const f of [...m.element, ...m.identity]) {
      this.symbol(f.lhs.name);
      this.assignment(f.lhs, f.rhs, this.stateDims(f.lhs.name.name));
    }
    if (!m.combine) return;
    const c = m.combine;
    const scope: MonoidScope = {
      operands: new Map([
        [c.left.name, { span: c.left.span, side: 'left' as const }],
        [c.right.name, { span: c.right.span, side: 'right' as const }],
      ]),
      locals: new Map(),
    };
    this.add(c.left, { kind: 'operand', name: c.left.name, span: c.left.span, side: 'left' });
    if (c.right.name !== c.left.name) this.add(c.right, { kind: 'operand', name: c.right.name, span: c.right.span, side: 'right' });
    for (const b of c.body) {
      if (b.kind === 'field') {
        this.symbol(b.lhs.name);
        this.assignment(b.lhs, b.rhs, this.stateDims(b.lhs.name.name), scope);
        continue;
      }
      // A combine let: defined by this statement, visible to the ones after it.
      const bound = this.assignment(b.lhs, b.rhs, undefined, scope);
      const local: CombineLocal = { name: b.lhs.name.name, span: b.lhs.name.span, dims: b.lhs.indices.map((i) => bound.get(i.name)?.dim ?? '?') };
      this.add(b.lhs.name, { kind: 'local', local });
      if (!scope.locals.has(local.name)) scope.locals.set(local.name, local);
    }
  }
}

/** Every resolvable name of the file, in source order. */
export function indexNames(file: A.RnnFile, checked: CheckedFile): Occurrence[] {
  const index = new NameIndex(checked);
  index.file(file);
  return index.found.sort((a, b) => a.span.start - b.span.start);
}

/**
 * The name at an offset: the one that contains it, or the one that ends right there (a cursor just
 * after a name, as editors place it after a double click or while typing).
 */
export function occurrenceAt(occurrences: readonly Occurrence[], offset: number): Occurrence | undefined {
  return occurrences.find((o) => o.span.start <= offset && offset < o.span.end) ?? occurrences.find((o) => o.span.end === offset);
}
