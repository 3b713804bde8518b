// The checker: names, index consistency, shapes and types of a parsed .rnn file.
// It reports every problem it can find in one run and records what lowering needs
// (each name's dims, each left side's index dims, which statement updates each state).
import type * as A from '../syntax/ast.js';
import { callableBuiltins, callableNames, infixBuiltins, isReducer, reducers } from '../builtins.js';
import { diagnostic, didYouMean, type Diagnostic } from '../diagnostics/diagnostic.js';
import type { CheckedFile, RnnSymbol, TensorSymbol } from './symbols.js';
import { checkDirections } from './directions.js';
// The names `structure` accepts: the structures and semirings the analysis can infer and compare against.
import { semirings, structureKinds } from '../builtins.js';

type Type = 'f32' | 'bool';

/** The largest dim size: kernels index with 32-bit integers (i32 in WGSL). */
export const MAX_DIM_SIZE = 2 ** 31 - 1;

/** Per statement: which dim each index ranges over, and where that was first decided. */
interface IndexScope {
  bound: Set<string>;
  dims: Map<string, { dim: string; span: A.Span }>;
}

/** Where an expression is: a step statement, a monoid element/identity, or a combine body. */
interface ExprContext {
  stmtIndex: number;
  /** In a combine body: the names of its two operands. */
  combine?: { left: string; right: string; locals: Map<string, TensorSymbol>; /** Its lets defined further down. */ later: Map<string, A.Span> };
  /** Identity values: constants only. */
  constantOnly?: boolean;
}

export function check(file: A.RnnFile): { checked: CheckedFile; diagnostics: Diagnostic[] } {
  return new Checker(file).run();
}

class Checker {
  private readonly ds: Diagnostic[] = [];
  private readonly symbols = new Map<string, RnnSymbol>();
  private readonly lhsDims = new Map<A.Stmt, string[]>();
  private readonly updateOf = new Map<string, number>();

  /** `rnn name grid {`: states are read at a neighbour (`h.left`, `h.up`) before their update. */
  private readonly grid: boolean;

  constructor(private readonly file: A.RnnFile) {
    this.grid = file.direction?.name === 'grid';
  }

  run() {
    if (this.file.direction && this.file.direction.name !== 'reversed' && this.file.direction.name !== 'grid') {
      const notes = ['`rnn NAME reversed { ... }` runs time backward, `rnn NAME grid { ... }` over a 2-D grid of positions; without a word there it runs forward in time'];
      this.ds.push(diagnostic('RNN0504', this.file.direction.span, { name: this.file.direction.name }, { notes }));
    }
    if (this.grid && this.file.monoid) {
      this.ds.push(diagnostic('RNN0511', { start: this.file.monoid.span.start, end: this.file.monoid.span.start + 'monoid'.length }));
    }
    this.declareDims();
    this.declareTensors();
    this.file.stmts.forEach((s, i) => this.statement(s, i));
    for (const sym of this.symbols.values()) {
      if (sym.kind === 'state' && !this.updateOf.has(sym.name) && !this.file.monoid) {
        this.ds.push(diagnostic('RNN0206', sym.span, { name: sym.name }));
      }
    }
    if (this.file.monoid) this.monoid(this.file.monoid);
    if (![...this.symbols.values()].some((s) => s.kind === 'state')) {
      this.ds.push(diagnostic('RNN0503', this.file.name.span, { name: this.file.name.name }));
    }
    this.file.structures.forEach((s) => this.structure(s));
    this.ds.push(...checkDirections(this.file, this.symbols));
    return { checked: { symbols: this.symbols, lhsDims: this.lhsDims, updateOf: this.updateOf }, diagnostics: this.ds };
  }

  private declare(sym: RnnSymbol): boolean {
    const previous = this.symbols.get(sym.name);
    if (previous) {
      this.ds.push(diagnostic('RNN0202', sym.span, { name: sym.name }, { labels: [{ span: previous.span, message: 'first declared here' }] }));
      return false;
    }
    this.symbols.set(sym.name, sym);
    return true;
  }

  private declareDims() {
    for (const d of this.file.dims) {
      if (d.size !== undefined && (!Number.isInteger(d.size) || d.size < 1)) {
        this.ds.push(diagnostic('RNN0308', d.sizeSpan!, { name: d.name.name, value: d.size }));
      } else if (d.size !== undefined && d.size > MAX_DIM_SIZE) {
        // Kernels index with 32-bit integers: a larger size cannot even be written in WGSL.
        this.ds.push(diagnostic('RNN0312', d.sizeSpan!, { name: d.name.name, value: d.size, max: MAX_DIM_SIZE }));
      }
      this.declare({ kind: 'dim', name: d.name.name, span: d.name.span, ...(d.size !== undefined ? { size: d.size } : {}) });
    }
  }

  private dimNames(): string[] {
    return [...this.symbols.values()].filter((s) => s.kind === 'dim').map((s) => s.name);
  }

  private declareTensors() {
    for (const t of this.file.tensors) {
      for (const d of t.shape.indices) {
        const sym = this.symbols.get(d.name);
        if (!sym || sym.kind !== 'dim') {
          const fresh = ['K', 'M', 'N', 'P', 'Q', 'R', 'S'].find((n) => !this.symbols.has(n)) ?? 'K_';
          const notes = isConstantIndex(d)
            ? [`a tensor's sizes are named dims: declare \`dims ${fresh} = ${d.name}\` and write \`${t.shape.name.name}[${t.shape.indices.map((i) => (i === d ? fresh : i.name)).join(', ')}]\``]
            : didYouMean(d.name, this.dimNames());
          this.ds.push(diagnostic('RNN0203', d.span, { name: d.name }, { notes }));
        }
      }
      this.declare({ kind: t.role, name: t.shape.name.name, dims: t.shape.indices.map((d) => d.name), span: t.shape.name.span, definedAt: -1 });
    }
    // Initial values are checked once every param is known.
    for (const t of this.file.tensors) {
      if (t.role === 'state' && t.init && !this.validInit(t.init, t.shape.indices.map((d) => d.name))) {
        this.ds.push(diagnostic('RNN0501', t.init.span, { name: t.shape.name.name }, { notes: this.initNotes(t.init, t.shape.indices.map((d) => d.name)) }));
      }
    }
  }

  /** Why an initial value is rejected, when the reason is more specific than the message. */
  private initNotes(e: A.Expr, dims: string[]): string[] {
    if (e.kind !== 'ref' || e.field) return [];
    const sym = this.symbols.get(e.name.name);
    if (!sym) return didYouMean(e.name.name, this.namesOf(['param']));
    if (sym.kind === 'input') return [`\`${sym.name}\` is an input, which exists only inside a step; declare a \`param\` for a learned initial state`];
    if (sym.kind === 'param' && e.indices.length > 0) return [`write the param without indices: \`= ${sym.name}\``];
    if (sym.kind === 'param') return [`\`${sym.name}\` has shape [${sym.dims.join(', ')}] but the state has shape [${dims.join(', ')}]`];
    return [];
  }

  private validInit(e: A.Expr, dims: string[]): boolean {
    if (constantValue(e) !== undefined) return true;
    if (e.kind !== 'ref' || e.indices.length > 0 || e.field) return false;
    const sym = this.symbols.get(e.name.name);
    return sym?.kind === 'param' && sym.dims.join(',') === dims.join(',');
  }

  private statement(s: A.Stmt, index: number) {
    const scope: IndexScope = { bound: new Set(), dims: new Map() };
    const lhsName = s.lhs.name.name;
    const seen = new Set<string>();
    for (const i of s.lhs.indices) {
      if (this.constantIndex(i, 'left')) continue;
      if (seen.has(i.name)) this.ds.push(diagnostic('RNN0305', i.span, { index: i.name }));
      seen.add(i.name);
      scope.bound.add(i.name);
      this.indexName(i);
    }
    if (s.kind === 'update') {
      const sym = this.symbols.get(lhsName);
      if (!sym) {
        this.ds.push(diagnostic('RNN0201', s.lhs.name.span, { name: lhsName }, { notes: didYouMean(lhsName, this.namesOf(['state'])) }));
      } else if (sym.kind !== 'state') {
        this.ds.push(diagnostic('RNN0205', s.lhs.name.span, { name: lhsName, what: describeKind(sym.kind) }));
      } else {
        const previous = this.updateOf.get(lhsName);
        if (previous !== undefined) {
          this.ds.push(diagnostic('RNN0207', s.lhs.name.span, { name: lhsName }, { labels: [{ span: this.file.stmts[previous]!.lhs.span, message: 'first updated here' }] }));
        } else this.updateOf.set(lhsName, index);
        if (s.lhs.indices.length !== sym.dims.length) {
          this.ds.push(diagnostic('RNN0307', s.lhs.span, { name: lhsName, expected: sym.dims.join(', '), found: s.lhs.indices.map((i) => i.name).join(', ') }));
        } else {
          s.lhs.indices.forEach((i, k) => scope.dims.set(i.name, { dim: sym.dims[k]!, span: i.span }));
        }
      }
    }
    const errorsBefore = this.ds.length;
    const type = this.expr(s.rhs, scope, { stmtIndex: index });
    if (type === 'bool') this.ds.push(diagnostic('RNN0404', s.rhs.span, { name: lhsName }));
    // An index left without a range because its read was already reported is not a second problem.
    const rhsFailed = this.ds.length > errorsBefore;

    const dims: string[] = [];
    for (const i of s.lhs.indices) {
      const d = scope.dims.get(i.name);
      if (!d && !rhsFailed && !isConstantIndex(i)) this.ds.push(diagnostic('RNN0306', i.span, { index: i.name }));
      dims.push(d?.dim ?? '?');
    }
    const declared = this.symbols.get(lhsName);
    if (s.kind !== 'update' && declared && (declared.kind === 'input' || declared.kind === 'param' || declared.kind === 'state')) {
      // `let x = ...` over a declared tensor: say what it is rather than only "already declared".
      const notes = declared.kind === 'state' ? [`a state is updated with \`<-\`: \`${lhsName}${s.lhs.indices.length ? `[${s.lhs.indices.map((i) => i.name).join(', ')}]` : ''} <- ...\``] : [];
      this.ds.push(diagnostic('RNN0502', s.lhs.name.span, { what: describeKind(declared.kind), name: lhsName }, { labels: [{ span: declared.span, message: 'declared here' }], notes }));
    } else if (s.kind !== 'update') {
      const kind = s.kind === 'let' ? 'let' : 'output';
      this.declare({ kind, name: lhsName, dims, span: s.lhs.name.span, definedAt: index });
    }
    this.lhsDims.set(s, dims);
  }

  /** `x[n, 0]`: a number where an index belongs is reported (RNN0314); true when it is one. */
  private constantIndex(index: A.Name, where: 'left' | 'read'): boolean {
    if (!isConstantIndex(index)) return false;
    const note =
      where === 'read'
        ? 'to read a fixed slice, declare it as an input or param of its own (for `x[n, 0]`, e.g. `input x0[N]`)'
        : 'a left side names an index for each dim and defines every element';
    this.ds.push(diagnostic('RNN0314', index.span, { index: index.name }, { notes: [note] }));
    return true;
  }

  /** An index must not share its name with a dim or a tensor: `x[x]` or `h[D]` reads as something it is not. */
  private indexName(index: A.Name, locals?: Map<string, TensorSymbol>) {
    const sym = locals?.get(index.name) ?? this.symbols.get(index.name);
    if (!sym) return;
    const note = sym.kind === 'dim' ? `indices are conventionally lowercase: \`${index.name.toLowerCase()}\` ranges over dim \`${index.name}\`` : 'rename the index, e.g. to a single lowercase letter';
    this.ds.push(diagnostic('RNN0311', index.span, { index: index.name, what: describeKind(sym.kind), name: sym.name }, { labels: [{ span: sym.span, message: `\`${sym.name}\` is declared here` }], notes: [note] }));
  }

  /** `structure [state:] kind[(rank)] [over semiring]`: names the analysis understands, and a rank exactly for lowrank. */
  private structure(s: A.StructureDecl) {
    if (s.state) {
      const sym = this.symbols.get(s.state.name);
      if (!sym || sym.kind !== 'state') this.ds.push(diagnostic('RNN0612', s.state.span, { name: s.state.name }, { notes: didYouMean(s.state.name, this.namesOf(['state'])) }));
    }
    const kind = s.kind.name;
    if (!(structureKinds as readonly string[]).includes(kind)) {
      this.ds.push(diagnostic('RNN0602', s.kind.span, { name: kind, expected: structureKinds.join(', ') }, { notes: didYouMean(kind, structureKinds) }));
    } else if (kind === 'lowrank' && s.rank === undefined) {
      this.ds.push(diagnostic('RNN0610', s.kind.span));
    } else if (kind !== 'lowrank' && s.rank !== undefined) {
      this.ds.push(diagnostic('RNN0611', s.kind.span, { name: kind }));
    }
    if (s.rank !== undefined && (!Number.isInteger(s.rank) || s.rank < 1)) {
      this.ds.push(diagnostic('RNN0613', s.kind.span, { value: s.rank }));
    }
    if (s.semiring && !(semirings as readonly string[]).includes(s.semiring.name)) {
      this.ds.push(diagnostic('RNN0603', s.semiring.span, { name: s.semiring.name, expected: semirings.join(', ') }, { notes: didYouMean(s.semiring.name, semirings) }));
    }
  }

  private namesOf(kinds: RnnSymbol['kind'][]): string[] {
    return [...this.symbols.values()].filter((s) => kinds.includes(s.kind)).map((s) => s.name);
  }

  private isDim(name: string): boolean {
    return this.symbols.get(name)?.kind === 'dim';
  }

  private bindIndex(scope: IndexScope, index: A.Name, dim: string) {
    const known = scope.dims.get(index.name);
    if (!known) scope.dims.set(index.name, { dim, span: index.span });
    // A dim that is not declared was reported where it was used; a mismatch with it is a follow-on.
    else if (known.dim !== dim && this.isDim(dim) && this.isDim(known.dim)) {
      this.ds.push(
        diagnostic('RNN0302', index.span, { index: index.name, first: known.dim, second: dim }, { labels: [{ span: known.span, message: `\`${index.name}\` ranges over \`${known.dim}\` here` }] }),
      );
    }
  }

  private expr(e: A.Expr, scope: IndexScope, ctx: ExprContext): Type {
    switch (e.kind) {
      case 'number':
        return 'f32';
      case 'neg':
        this.arith(e.operand, scope, ctx, 'negation needs a number');
        return 'f32';
      case 'binary': {
        if (infixBuiltins[e.op]?.result === 'bool') {
          this.arith(e.left, scope, ctx, `\`${e.op}\` compares numbers`);
          this.arith(e.right, scope, ctx, `\`${e.op}\` compares numbers`);
          return 'bool';
        }
        this.arith(e.left, scope, ctx, `use \`select(cond, a, b)\` to choose between values`);
        this.arith(e.right, scope, ctx, `use \`select(cond, a, b)\` to choose between values`);
        return 'f32';
      }
      case 'call':
        return this.call(e, scope, ctx);
      case 'reduce': {
        if (!isReducer(e.op.name)) {
          this.ds.push(diagnostic('RNN0209', e.op.span, { name: e.op.name }, { notes: didYouMean(e.op.name, reducers) }));
        }
        if (scope.bound.has(e.index.name)) {
          this.ds.push(diagnostic('RNN0304', e.index.span, { index: e.index.name }));
          this.arith(e.body, scope, ctx, 'a reduction adds numbers');
          return 'f32';
        }
        if (!usesIndex(e.body, e.index.name)) this.ds.push(diagnostic('RNN0309', e.index.span, { index: e.index.name }));
        this.indexName(e.index, ctx.combine?.locals);
        scope.bound.add(e.index.name);
        this.arith(e.body, scope, ctx, 'a reduction combines numbers');
        scope.bound.delete(e.index.name);
        // The index does not escape: another reduction may reuse the name with another dim.
        scope.dims.delete(e.index.name);
        return 'f32';
      }
      case 'ref':
        this.ref(e, scope, ctx);
        return 'f32';
    }
  }

  private arith(e: A.Expr, scope: IndexScope, ctx: ExprContext, hint: string) {
    if (this.expr(e, scope, ctx) === 'bool') this.ds.push(diagnostic('RNN0401', e.span, { hint }));
  }

  private call(e: Extract<A.Expr, { kind: 'call' }>, scope: IndexScope, ctx: ExprContext): Type {
    const name = e.fn.name;
    const fn = Object.hasOwn(callableBuiltins, name) ? callableBuiltins[name] : undefined;
    if (fn === undefined) {
      const notes = isReducer(name) ? [`\`${name}\` is a reduction: write \`${name}(i: ...)\` with the index it runs over`] : didYouMean(name, Object.keys(callableBuiltins));
      this.ds.push(diagnostic('RNN0204', e.fn.span, { name, builtins: callableNames.join(', ') }, { notes }));
      e.args.forEach((a) => this.expr(a, scope, ctx));
      return 'f32';
    }
    const arity = fn.params.length;
    if (e.args.length !== arity) {
      const plural = (n: number) => `${n} argument${n === 1 ? '' : 's'}`;
      this.ds.push(diagnostic('RNN0403', e.span, { name, expected: plural(arity), found: plural(e.args.length) }));
    }
    // Argument types from the builtin table; only select takes a boolean (its condition).
    const hint = fn.kind === 'select' ? 'both branches of `select` must be numbers' : `\`${name}\` takes numbers`;
    e.args.forEach((a, k) => {
      if (fn.params[k] !== 'bool') this.arith(a, scope, ctx, hint);
      else if (this.expr(a, scope, ctx) !== 'bool') this.ds.push(diagnostic('RNN0402', a.span));
    });
    return fn.result;
  }

  private ref(e: Extract<A.Expr, { kind: 'ref' }>, scope: IndexScope, ctx: ExprContext) {
    const name = e.name.name;
    let sym: RnnSymbol | undefined;
    const neighbour = e.field && !ctx.combine ? this.neighbourRead(e) : undefined;
    if (neighbour === 'reported') return;
    if (neighbour) {
      sym = neighbour;
    } else if (e.field) {
      if (!ctx.combine || (name !== ctx.combine.left && name !== ctx.combine.right)) {
        this.ds.push(diagnostic('RNN0211', e.span, { name, field: e.field.name }));
        return;
      }
      sym = this.symbols.get(e.field.name);
      if (!sym || sym.kind !== 'state') {
        this.ds.push(diagnostic('RNN0210', e.field.span, { name, field: e.field.name }, { notes: didYouMean(e.field.name, this.namesOf(['state'])) }));
        return;
      }
    } else {
      sym = ctx.combine?.locals.get(name) ?? this.symbols.get(name);
      // A combine runs its body top to bottom too: a let further down is not defined yet.
      const laterLocal = ctx.combine?.later.get(name);
      if (laterLocal && !ctx.combine?.locals.has(name)) {
        this.ds.push(diagnostic('RNN0208', e.name.span, { name }, { labels: [{ span: laterLocal, message: 'defined here' }] }));
        return;
      }
      const later = sym ? undefined : this.file.stmts.find((s) => s.kind !== 'update' && s.lhs.name.name === name);
      if (later && !ctx.combine && !ctx.constantOnly) {
        this.ds.push(diagnostic('RNN0208', e.name.span, { name }, { labels: [{ span: later.lhs.name.span, message: 'defined here' }] }));
        return;
      }
      if (!sym && scope.bound.has(name) && !e.bracketed) {
        // `select(p == q, ...)`: an index names a position, not a number.
        const note = `a value that depends on the position must come from a tensor indexed by \`${name}\`, e.g. a param`;
        this.ds.push(diagnostic('RNN0313', e.name.span, { index: name }, { notes: [note] }));
        return;
      }
      if (!sym || sym.kind === 'dim') {
        const candidates = [...this.namesOf(['input', 'param', 'state', 'let', 'output']), ...(ctx.combine?.locals.keys() ?? [])];
        const notes = sym?.kind === 'dim' ? [`\`${name}\` is a dim; write an index such as \`${name.toLowerCase()}\` inside brackets`] : didYouMean(name, candidates);
        this.ds.push(diagnostic('RNN0201', e.name.span, { name }, { notes }));
        return;
      }
      if ((sym.kind === 'let' || sym.kind === 'output') && sym.definedAt >= ctx.stmtIndex && !ctx.combine?.locals.has(name)) {
        this.ds.push(diagnostic('RNN0208', e.name.span, { name }, { labels: [{ span: sym.span, message: 'defined here' }] }));
        return;
      }
      if (this.grid && !this.file.monoid && sym.kind === 'state' && !ctx.combine && !ctx.constantOnly && !this.updatedBefore(name, ctx.stmtIndex)) {
        // A grid position has no "previous step": before its update a state exists only at the neighbours.
        const notes = [`\`${name}.left\` is the state at the same row, previous column; \`${name}.up\` at the previous row, same column (the initial value outside the grid)`];
        this.ds.push(diagnostic('RNN0508', e.name.span, { name }, { notes }));
        return;
      }
      if (ctx.constantOnly || (ctx.combine && sym.kind !== 'param' && !ctx.combine.locals.has(name))) {
        const note = ctx.constantOnly ? 'an identity is made of constants' : `a combine reads only \`${ctx.combine!.left}.field\`, \`${ctx.combine!.right}.field\`, params and its own lets`;
        this.ds.push(diagnostic('RNN0614', e.name.span, { what: describeKind(sym.kind), name, part: ctx.constantOnly ? 'identity' : 'combine' }, { notes: [note] }));
        return;
      }
    }
    if (e.indices.length !== sym.dims.length) {
      const rank = (n: number) => (n === 0 ? 'no indices' : `${n} ${n === 1 ? 'index' : 'indices'}`);
      this.ds.push(diagnostic('RNN0301', e.span, { name: e.field ? `${name}.${e.field.name}` : name, expected: rank(sym.dims.length), found: rank(e.indices.length) }));
      return;
    }
    const seen = new Set<string>();
    e.indices.forEach((index, k) => {
      if (this.constantIndex(index, 'read')) return;
      if (seen.has(index.name)) this.ds.push(diagnostic('RNN0310', index.span, { index: index.name, name }));
      seen.add(index.name);
      if (!scope.bound.has(index.name)) {
        const dimHint = this.symbols.get(index.name)?.kind === 'dim' ? [`\`${index.name}\` is a dim; on the left side write an index such as \`${index.name.toLowerCase()}\``] : [];
        this.ds.push(diagnostic('RNN0303', index.span, { index: index.name }, { notes: dimHint }));
        return;
      }
      this.bindIndex(scope, index, (sym as TensorSymbol).dims[k]!);
    });
  }

  /** Whether state `name` was updated by a statement before `stmtIndex` (so a bare read is the new value). */
  private updatedBefore(name: string, stmtIndex: number): boolean {
    const at = this.updateOf.get(name);
    return at !== undefined && at < stmtIndex;
  }

  /**
   * `h.left` / `h.up` outside a combine: a grid cell's read of a state at a neighbour. Returns the
   * state's symbol, 'reported' after a diagnostic, or undefined when it is no neighbour read (a
   * field of something else, which the combine rules report as before).
   */
  private neighbourRead(e: Extract<A.Expr, { kind: 'ref' }>): TensorSymbol | 'reported' | undefined {
    const name = e.name.name;
    const field = e.field!.name;
    const sym = this.symbols.get(name);
    if (!sym || sym.kind !== 'state') return undefined;
    const isNeighbour = field === 'left' || field === 'up';
    if (!this.grid) {
      if (!isNeighbour) return undefined;
      const notes = [`neighbours exist on a grid of positions: \`rnn ${this.file.name.name} grid { ... }\`; in time, \`${name}\` before its update is the previous step's value`];
      this.ds.push(diagnostic('RNN0509', e.span, { name, field, cell: this.file.name.name }, { notes }));
      return 'reported';
    }
    if (!isNeighbour) {
      this.ds.push(diagnostic('RNN0510', e.field!.span, { name, field }, { notes: didYouMean(field, ['left', 'up']) }));
      return 'reported';
    }
    return sym;
  }

  private monoid(m: A.MonoidDecl) {
    const states = [...this.symbols.values()].filter((s): s is TensorSymbol => s.kind === 'state');
    if (this.updateOf.size > 0) {
      const first = this.file.stmts[[...this.updateOf.values()][0]!]!;
      this.ds.push(diagnostic('RNN0607', first.span));
    }
    // Point at the `monoid` keyword: the whole block would make a code frame of many lines.
    const keyword = { start: m.span.start, end: m.span.start + 'monoid'.length };
    if (m.element.length === 0) this.ds.push(diagnostic('RNN0604', keyword, { what: 'an `element` (what one step contributes)' }));
    if (m.identity.length === 0) this.ds.push(diagnostic('RNN0604', keyword, { what: 'an `identity`' }));
    if (!m.combine) {
      this.ds.push(diagnostic('RNN0604', keyword, { what: 'a `combine(a, b) { ... }`' }));
    }
    const stepEnd = this.file.stmts.length; // element fields may read every let of the step
    // Checks `state[...] = expr` assignments; returns the states assigned.
    // Checks `state[...] = expr` assignments, each in its context; returns the states assigned.
    const assignFields = (part: string, assigns: [A.FieldAssign, ExprContext][]): Set<string> => {
      const assigned = new Map<string, A.Span>();
      for (const [f, ctx] of assigns) {
        const sym = this.symbols.get(f.lhs.name.name);
        if (!sym || sym.kind !== 'state') {
          this.ds.push(diagnostic('RNN0606', f.lhs.name.span, { name: f.lhs.name.name }, { notes: didYouMean(f.lhs.name.name, states.map((s) => s.name)) }));
          continue;
        }
        const first = assigned.get(sym.name);
        if (first) this.ds.push(diagnostic('RNN0616', f.lhs.name.span, { part, name: sym.name }, { labels: [{ span: first, message: 'first assigned here' }] }));
        else assigned.set(sym.name, f.lhs.name.span);
        this.assignment(f, sym.dims, ctx);
      }
      return new Set(assigned.keys());
    };
    const fields = (part: string, assigns: A.FieldAssign[], ctx: ExprContext, span: A.Span) => {
      const assigned = assignFields(part, assigns.map((f): [A.FieldAssign, ExprContext] => [f, ctx]));
      // A missing part is reported once (RNN0604), not once per state.
      if (assigns.length > 0) for (const s of states) if (!assigned.has(s.name)) this.ds.push(diagnostic('RNN0605', span, { part, name: s.name }));
    };
    const partSpan = (assigns: A.FieldAssign[]) => (assigns.length ? { start: assigns[0]!.span.start, end: assigns.at(-1)!.span.end } : keyword);
    fields('element', m.element, { stmtIndex: stepEnd }, partSpan(m.element));
    fields('identity', m.identity, { stmtIndex: stepEnd, constantOnly: true }, partSpan(m.identity));
    if (m.combine) {
      const { left, right } = { left: m.combine.left.name, right: m.combine.right.name };
      // With one name for both, `a.h` would silently read the left operand.
      if (left === right) this.ds.push(diagnostic('RNN0617', m.combine.right.span, { name: right }));
      // The body runs top to bottom: each statement sees the lets above it (as lowering builds them).
      const locals = new Map<string, TensorSymbol>();
      const later = new Map<string, A.Span>();
      for (const b of [...m.combine.body].reverse()) if (b.kind === 'let') later.set(b.lhs.name.name, b.lhs.name.span);
      const here = (): ExprContext => ({ stmtIndex: stepEnd, combine: { left, right, locals: new Map(locals), later } });
      const fieldAssigns: [A.FieldAssign, ExprContext][] = [];
      for (const b of m.combine.body) {
        if (b.kind === 'let') {
          const previous = locals.get(b.lhs.name.name);
          if (previous) this.ds.push(diagnostic('RNN0202', b.lhs.name.span, { name: b.lhs.name.name }, { labels: [{ span: previous.span, message: 'first declared here' }] }));
          const dims = this.assignment(b, undefined, here());
          locals.set(b.lhs.name.name, { kind: 'let', name: b.lhs.name.name, dims, span: b.lhs.name.span, definedAt: -1 });
        } else fieldAssigns.push([b, here()]);
      }
      // Field assignments are checked like the element's, but in the combine's context.
      const assigned = assignFields('combine', fieldAssigns);
      const combineHead = { start: m.combine.span.start, end: m.combine.right.span.end + 1 };
      for (const s of states) if (!assigned.has(s.name)) this.ds.push(diagnostic('RNN0605', combineHead, { part: 'combine', name: s.name }));
    }
  }

  /** Checks `lhs[i..] = rhs`; with `dims`, the left side must cover exactly those dims. Returns the left side's dims. */
  private assignment(f: A.FieldAssign, dims: string[] | undefined, ctx: ExprContext): string[] {
    const scope: IndexScope = { bound: new Set(f.lhs.indices.map((i) => i.name)), dims: new Map() };
    f.lhs.indices.forEach((i) => this.constantIndex(i, 'left') || this.indexName(i, ctx.combine?.locals));
    if (dims) {
      if (f.lhs.indices.length !== dims.length) {
        this.ds.push(diagnostic('RNN0307', f.lhs.span, { name: f.lhs.name.name, expected: dims.join(', '), found: f.lhs.indices.map((i) => i.name).join(', ') }));
      } else f.lhs.indices.forEach((i, k) => scope.dims.set(i.name, { dim: dims[k]!, span: i.span }));
    }
    if (this.expr(f.rhs, scope, ctx) === 'bool') this.ds.push(diagnostic('RNN0404', f.rhs.span, { name: f.lhs.name.name }));
    return f.lhs.indices.map((i) => {
      const d = scope.dims.get(i.name);
      if (!d && !isConstantIndex(i)) this.ds.push(diagnostic('RNN0306', i.span, { index: i.name }));
      return d?.dim ?? '?';
    });
  }
}

function describeKind(kind: RnnSymbol['kind']): string {
  return { dim: 'a dim', input: 'an input', param: 'a param', state: 'a state', let: 'a let', output: 'an output' }[kind];
}

/** A number written where an index belongs (`x[n, 0]`); the parser keeps it as a name for the checker to report. */
const isConstantIndex = (index: A.Name): boolean => /^[0-9.]/.test(index.name);

function usesIndex(e: A.Expr, index: string): boolean {
  switch (e.kind) {
    case 'number':
      return false;
    case 'ref':
      // A bare `j` in `sum(j: j)` is a use, reported as an index used as a value (RNN0313).
      return e.indices.some((i) => i.name === index) || (e.name.name === index && !e.bracketed && !e.field);
    case 'neg':
      return usesIndex(e.operand, index);
    case 'binary':
      return usesIndex(e.left, index) || usesIndex(e.right, index);
    case 'call':
      return e.args.some((a) => usesIndex(a, index));
    case 'reduce':
      return e.index.name !== index && usesIndex(e.body, index);
  }
}

/** The value of a constant expression (numbers, inf, negation), or undefined. */
export function constantValue(e: A.Expr): number | undefined {
  if (e.kind === 'number') return e.value;
  if (e.kind === 'neg') {
    const v = constantValue(e.operand);
    return v === undefined ? undefined : -v;
  }
  return undefined;
}
