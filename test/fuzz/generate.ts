// A generator of valid .rnn cells, built from the grammar (grammar/GRAMMAR.md) and the checker's
// rules: every name is declared, every index is bound and ranges over one dim, every left-side index
// is used on the right, comparisons appear only as `select` conditions. Each state follows a family
// of updates the structure analysis knows (diagonal over each semiring, dense, low-rank, nonlinear,
// independent, a declared monoid), and a `structure` line is declared only where the family fixes
// it, so a generated cell that does not check clean is a bug in the generator or the compiler.
import { binaryFunctions, reducers, unaryFunctions } from '../../src/compiler/builtins.js';
import type { Choices } from './choices.js';

export interface GeneratedCell {
  text: string;
  /** Sizes for the dims the text declares without one (bind them with `bindDims(module, dimSizes)`). */
  dimSizes: Record<string, number>;
  /** One family per state, in declaration order (`diagonal/sum_prod`, `monoid/affine`, ...). */
  families: string[];
}

export interface GenerateOptions {
  /**
   * Numbers a float32 kernel and a float64 reference agree on over a short run: no edge constants
   * (1e38, denormals, inf), no division, decays in (0, 1). For the cells that are run on Dawn.
   */
  tame?: boolean;
}

type Role = 'input' | 'param' | 'state' | 'let' | 'output';
interface Tensor {
  name: string;
  dims: string[];
  role: Role;
  /** Reads no state, directly or through lets (inputs, params, constants only). */
  stateFree: boolean;
}
/** Precedence of the text's top operator: 1 additive, 2 multiplicative, 3 unary, 4 primary. */
interface Ex {
  text: string;
  prec: number;
  uses: Set<string>;
}
type Var = { name: string; dim: string };

const DIM_NAMES = ['D', 'N', 'K', 'V', 'H', 'M'];
const DIM_SIZES = [1, 2, 3, 4, 8, 16, 5, 7];
// Index names: single lowercase letters that no tensor name (x0, w0, h0, g0, y0, e0) can equal.
const INDEX_LETTERS = ['i', 'j', 'k', 'l', 'm', 'n', 'p', 'q', 'r', 's', 'u', 'v', 'z'];
const PLAIN_NUMBERS = ['1', '0', '2', '0.5', '.5', '1.5', '3', '0.25', '1.0', '2.', '0.9', '10', '1e-6', '0.000001', '1E1', '7e+0', '0.1'];
const EDGE_NUMBERS = ['1e38', '3.4028234e38', '1e-38', '1e-45', '1e-50', '65504', '16777217', 'inf', '0.0', '00012', '123456789'];
const COMPARISONS = ['<', '<=', '>', '>=', '==', '!='];

const primary = (text: string, uses: Iterable<string> = []): Ex => ({ text, prec: 4, uses: new Set(uses) });
const union = (...xs: Ex[]) => new Set(xs.flatMap((x) => [...x.uses]));
const paren = (e: Ex, min: number): string => (e.prec >= min ? e.text : `(${e.text})`);
const call = (fn: string, ...args: Ex[]): Ex => primary(`${fn}(${args.map((a) => a.text).join(', ')})`, union(...args));
/** `l op r`, left-associative: the right operand of `-` or `/` needs parentheses at the same level. */
function binary(op: '+' | '-' | '*' | '/', l: Ex, r: Ex): Ex {
  const prec = op === '+' || op === '-' ? 1 : 2;
  return { text: `${paren(l, prec)} ${op} ${paren(r, prec + 1)}`, prec, uses: union(l, r) };
}
const neg = (e: Ex): Ex => ({ text: `-${paren(e, 3)}`, prec: 3, uses: e.uses });

/** The cell under construction: declarations are collected as they are needed and printed at the end. */
class Cell {
  readonly dims: { name: string; size: number; declared: boolean }[] = [];
  readonly tensors: Tensor[] = [];
  readonly stateInits = new Map<string, string>();
  private counters: Record<string, number> = {};

  constructor(readonly c: Choices) {}

  fresh(prefix: string): string {
    const n = (this.counters[prefix] = (this.counters[prefix] ?? -1) + 1);
    return `${prefix}${n}`;
  }

  add(role: Role, dims: string[], stateFree = role === 'input' || role === 'param'): Tensor {
    const prefix = { input: 'x', param: 'w', state: 'h', let: 'g', output: 'y' }[role];
    const t = { name: this.fresh(prefix), dims, role, stateFree };
    this.tensors.push(t);
    return t;
  }

  /** An input or param with these dims: an existing one, or a new one. */
  source(dims: string[]): Tensor {
    const fits = this.tensors.filter((t) => (t.role === 'input' || t.role === 'param') && t.dims.join() === dims.join());
    if (fits.length > 0 && this.c.chance(0.7)) return this.c.pick(fits);
    return this.add(this.c.chance(0.6) ? 'input' : 'param', dims);
  }
}

/** Index names of one statement: never two bound at once, never a tensor's or a dim's name. */
class Scope {
  /** `counter` is shared by every scope derived from one statement's, so names never repeat in it. */
  constructor(
    readonly vars: Var[] = [],
    private readonly counter = { next: 0 },
  ) {}
  fresh(dim: string): Var {
    const k = this.counter.next++;
    const letter = INDEX_LETTERS[k % INDEX_LETTERS.length]!;
    return { name: k < INDEX_LETTERS.length ? letter : `${letter}${Math.floor(k / INDEX_LETTERS.length)}`, dim };
  }
  with(...vs: Var[]): Scope {
    return new Scope([...this.vars, ...vs], this.counter);
  }
  /** No index bound, but the statement's names still taken: for a scalar inside the statement. */
  empty(): Scope {
    return new Scope([], this.counter);
  }
}

class ExprGen {
  constructor(
    readonly c: Choices,
    readonly cell: Cell,
    readonly options: GenerateOptions,
  ) {}

  number(): Ex {
    const { c } = this;
    const edge = !this.options.tame && c.chance(0.15);
    const text = c.pick(edge ? EDGE_NUMBERS : PLAIN_NUMBERS);
    return text !== 'inf' && !edge && c.chance(0.15) ? neg(primary(text)) : primary(text);
  }

  /**
   * A reference to `t` in `scope`: each of its dims gets an index of the scope over that dim, or, where
   * none is left, a new index bound by a reduction around the reference. `force` puts a given index at
   * one position (so that a left-side index is used).
   */
  ref(t: Tensor, scope: Scope, pool: Tensor[], depth: number, force?: { position: number; v: Var }): Ex {
    const used = new Set<string>();
    const free: Var[] = [];
    const names = t.dims.map((dim, k) => {
      if (force && force.position === k) {
        used.add(force.v.name);
        return force.v.name;
      }
      const candidates = scope.vars.filter((v) => v.dim === dim && !used.has(v.name) && v.name !== force?.v.name);
      if (candidates.length > 0 && this.c.chance(0.85)) {
        const v = this.c.pick(candidates);
        used.add(v.name);
        return v.name;
      }
      const v = scope.fresh(dim);
      free.push(v);
      return v.name;
    });
    let e = primary(names.length ? `${t.name}[${names.join(', ')}]` : t.name, names);
    // Bind the new indices innermost first; the body may also read other things over them.
    for (let k = free.length - 1; k >= 0; k--) {
      const v = free[k]!;
      const inner = scope.with(...free.slice(0, k + 1));
      if (depth > 0 && this.c.chance(0.4)) e = binary(this.c.pick(['*', '+'] as const), e, this.expr(inner, pool, depth - 1));
      e = this.reduction(v, e);
      e.uses.delete(v.name);
    }
    return e;
  }

  reduction(v: Var, body: Ex): Ex {
    const op = this.c.pick(reducers);
    return primary(`${op}(${v.name}: ${body.text})`, body.uses);
  }

  /** Some tensor of the pool that has `dim` (a new input or param if none). */
  tensorWith(dim: string, pool: Tensor[]): { t: Tensor; position: number } {
    const fits = pool.filter((t) => t.dims.includes(dim));
    const t = fits.length > 0 && this.c.chance(0.8) ? this.c.pick(fits) : this.cell.source(this.c.chance(0.5) ? [dim] : this.shapeWith(dim));
    if (!pool.includes(t)) pool.push(t);
    const positions = t.dims.flatMap((d, k) => (d === dim ? [k] : []));
    return { t, position: this.c.pick(positions) };
  }

  shapeWith(dim: string): string[] {
    const other = this.c.pick(this.cell.dims).name;
    return this.c.chance(0.5) ? [dim, other] : [other, dim];
  }

  /** An f32 expression over `scope`, reading tensors of `pool`. */
  expr(scope: Scope, pool: Tensor[], depth: number): Ex {
    const { c } = this;
    if (depth <= 0 || c.chance(0.25)) return pool.length > 0 && c.chance(0.75) ? this.ref(c.pick(pool), scope, pool, 0) : this.number();
    const sub = () => this.expr(scope, pool, depth - 1);
    const tame = this.options.tame;
    switch (c.pick(['arith', 'ref', 'unary', 'binaryFn', 'select', 'reduce', 'neg', 'parens'] as const)) {
      case 'arith':
        return binary(c.pick(tame ? (['+', '-', '*'] as const) : (['+', '-', '*', '/'] as const)), sub(), sub());
      case 'ref':
        return pool.length > 0 ? this.ref(c.pick(pool), scope, pool, depth - 1) : this.number();
      case 'unary': {
        // Tame runs stay in the functions whose float32 results track float64 closely on any input.
        const fns = tame ? (['sigmoid', 'tanh', 'relu', 'abs', 'softplus'] as const) : unaryFunctions;
        return call(c.pick(fns), sub());
      }
      case 'binaryFn':
        return call(c.pick(binaryFunctions), sub(), sub());
      case 'select': {
        const [l, r] = [sub(), sub()];
        const condition = this.expr(scope, pool, depth - 1);
        const other = this.expr(scope, pool, depth - 1);
        const text = `select(${paren(condition, 1)} ${c.pick(COMPARISONS)} ${paren(other, 1)}, ${l.text}, ${r.text})`;
        return primary(text, union(condition, other, l, r));
      }
      case 'reduce': {
        if (this.cell.dims.length === 0) return sub();
        const dim = c.pick(this.cell.dims).name;
        const v = scope.fresh(dim);
        const inner = scope.with(v);
        const { t, position } = this.tensorWith(dim, pool);
        let body = this.ref(t, inner, pool, depth - 1, { position, v });
        if (c.chance(0.5)) body = binary(c.pick(['+', '*', '-'] as const), body, this.expr(inner, pool, depth - 1));
        const e = this.reduction(v, body);
        e.uses.delete(v.name);
        return e;
      }
      case 'neg':
        return neg(sub());
      case 'parens': {
        const e = sub();
        return primary(`(${e.text})`, e.uses);
      }
    }
  }

  /** `e`, extended so that it uses every index of `vars` (a left side's indices must all appear on the right). */
  covering(e: Ex, vars: Var[], scope: Scope, pool: Tensor[]): Ex {
    for (const v of vars) {
      if (e.uses.has(v.name)) continue;
      const { t, position } = this.tensorWith(v.dim, pool);
      const r = this.ref(t, scope, pool, 0, { position, v });
      e = this.c.pick([() => binary('+', e, r), () => binary('*', e, r), () => binary('-', e, r), () => call('max', e, r)])();
    }
    return e;
  }
}

const STATE_FAMILIES = [
  'diagonal/sum_prod',
  'diagonal/max_plus',
  'diagonal/max_min',
  'diagonal/log',
  'dense/sum_prod',
  'dense/max_plus',
  'dense/max_min',
  'dense/log',
  'lowrank/sum_prod',
  'nonlinear',
  'independent',
  'gated',
] as const;
type Family = (typeof STATE_FAMILIES)[number];
const MONOIDS = ['affine', 'maxsum', 'softmax'] as const;

/** The `structure` a family fixes, or undefined where the generator does not claim one. */
function declaredStructure(family: Family): string | undefined {
  const [kind, semiring] = family.split('/');
  if (kind === 'diagonal' || (kind === 'dense' && semiring !== 'log')) return `${kind} over ${semiring}`;
  if (kind === 'lowrank') return 'lowrank(1) over sum_prod';
  if (family === 'independent') return 'diagonal';
  if (family === 'nonlinear') return 'sequential';
  return undefined;
}

export function generateCell(c: Choices, options: GenerateOptions = {}): GeneratedCell {
  const cell = new Cell(c);
  const gen = new ExprGen(c, cell, options);
  const dimCount = c.int(1, 3);
  for (let k = 0; k < dimCount; k++) cell.dims.push({ name: DIM_NAMES[k]!, size: c.pick(DIM_SIZES), declared: !c.chance(0.1) });
  const statements: string[] = [];
  const structures: string[] = [];
  const families: string[] = [];
  const stateFree = () => cell.tensors.filter((t) => t.stateFree && t.role !== 'output');
  const readable = () => cell.tensors.filter((t) => t.role !== 'output' || c.chance(0.5));
  const depth = () => c.int(0, options.tame ? 2 : 3);

  // Step lets that read only inputs and params: what transitions and offsets are made of.
  const letsBefore = c.int(0, 2);
  for (let k = 0; k < letsBefore; k++) statements.push(letStatement(gen, cell, stateFree(), depth(), 'let'));

  const monoid = c.chance(0.12);
  if (monoid) {
    const kind = c.pick(MONOIDS);
    statements.push(...monoidBlock(gen, cell, kind, options));
    families.push(...cell.tensors.filter((t) => t.role === 'state').map(() => `monoid/${kind}`));
  } else {
    const stateCount = c.int(1, 2);
    for (let k = 0; k < stateCount; k++) {
      const family = c.pick(STATE_FAMILIES);
      const update = stateUpdate(gen, cell, family, options, depth);
      if (!update) continue;
      families.push(family);
      statements.push(...update.lines);
      const structure = declaredStructure(family);
      if (structure && c.chance(0.4)) structures.push(`structure ${stateCount === 1 && c.chance(0.5) ? '' : `${update.state}: `}${structure}`);
    }
  }

  const outputs = c.int(monoid ? 1 : 0, 2);
  for (let k = 0; k < outputs; k++) statements.push(letStatement(gen, cell, readable(), depth(), c.chance(0.8) ? 'output' : 'let'));

  return { text: layout(c, cell, statements, structures), dimSizes: Object.fromEntries(cell.dims.filter((d) => !d.declared).map((d) => [d.name, d.size])), families };
}

/** `let g[i] = ...` or `output y[i] = ...` over 0-2 dims, reading `pool`. */
function letStatement(gen: ExprGen, cell: Cell, pool: Tensor[], depth: number, role: 'let' | 'output'): string {
  const { c } = gen;
  const dims = Array.from({ length: c.int(0, 2) }, () => c.pick(cell.dims).name);
  const scope = new Scope();
  const vars = dims.map((d) => scope.fresh(d));
  const inner = scope.with(...vars);
  const readsState = (e: string) => pool.some((t) => !t.stateFree && new RegExp(`\\b${t.name}\\b`).test(e));
  const poolCopy = [...pool];
  const rhs = gen.covering(gen.expr(inner, poolCopy, depth), vars, inner, poolCopy);
  const t = cell.add(role, dims, !readsState(rhs.text));
  return `${role} ${t.name}${vars.length ? `[${vars.map((v) => v.name).join(', ')}]` : ''} = ${rhs.text}`;
}

/** One state and its update (with the lets it needs), following `family`. */
function stateUpdate(gen: ExprGen, cell: Cell, family: Family, options: GenerateOptions, depth: () => number): { state: string; lines: string[] } | undefined {
  const { c } = gen;
  const [kind, semiring] = family.split('/') as [string, string | undefined];
  const dimNames = cell.dims.map((d) => d.name);
  // Dense updates mix one vector; low-rank ones a matrix [V, K] along K; the rest any shape.
  const dims =
    kind === 'dense' ? [c.pick(dimNames)] : kind === 'lowrank' ? [c.pick(dimNames), c.pick(dimNames)] : Array.from({ length: c.int(0, 2) }, () => c.pick(dimNames));
  const state = cell.add('state', dims, false);
  cell.stateInits.set(state.name, initialValue(gen, cell, state, semiring, options));
  const scope = new Scope();
  const vars = dims.map((d) => scope.fresh(d));
  const lhsScope = scope.with(...vars);
  const free = cell.tensors.filter((t) => t.stateFree);
  const h = primary(`${state.name}${vars.length ? `[${vars.map((v) => v.name).join(', ')}]` : ''}`, vars.map((v) => v.name));
  const operand = () => gen.expr(lhsScope, free, depth());
  // A decay in (0, 1) for tame runs; anything state-free otherwise.
  const decay = () => (options.tame ? call('sigmoid', operand()) : operand());
  const lhs = h.text;
  const lines: string[] = [];
  let rhs: Ex;
  switch (family) {
    case 'diagonal/sum_prod': {
      const [a, b] = [decay(), operand()];
      rhs = c.pick([
        () => binary('+', binary('*', a, h), b),
        () => binary('+', b, binary('*', h, a)),
        () => binary('*', a, h),
        () => binary('+', h, b),
        () => binary('-', binary('*', a, h), b),
        () => call('select', primary(`${paren(operand(), 1)} > ${paren(operand(), 1)}`), h, binary('+', binary('*', a, h), b)),
      ])();
      break;
    }
    case 'diagonal/max_plus': {
      const [a, b] = [operand(), operand()];
      rhs = c.chance(0.5) ? call('max', binary('+', h, a), b) : call('max', b, binary('+', a, h));
      break;
    }
    case 'diagonal/max_min': {
      const [a, b] = [operand(), operand()];
      rhs = c.chance(0.5) ? call('max', call('min', h, a), b) : call('max', b, call('min', a, h));
      break;
    }
    case 'diagonal/log': {
      const [a, b] = [options.tame ? neg(call('softplus', operand())) : operand(), operand()];
      rhs = c.chance(0.5) ? call('logaddexp', binary('+', h, a), b) : call('logaddexp', b, binary('+', a, h));
      break;
    }
    case 'dense/sum_prod':
    case 'dense/max_plus':
    case 'dense/max_min':
    case 'dense/log': {
      const [d] = dims as [string];
      const W = cell.source([d, d]);
      const j = lhsScope.fresh(d);
      const [i] = vars as [Var];
      const b = gen.covering(operand(), vars, lhsScope, [...free]);
      const w = options.tame && semiring === 'sum_prod' ? `sigmoid(${W.name}[${i.name}, ${j.name}]) / ${cell.dims.find((x) => x.name === d)!.size}` : `${W.name}[${i.name}, ${j.name}]`;
      const hj = `${state.name}[${j.name}]`;
      const text = {
        sum_prod: `sum(${j.name}: ${w} * ${hj}) + ${paren(b, 2)}`,
        max_plus: `max(${j.name}: ${hj} + ${w}) + ${paren(b, 2)}`,
        max_min: `max(${paren(b, 0)}, max(${j.name}: min(${w}, ${hj})))`,
        log: `logsumexp(${j.name}: ${hj} + ${w}) + ${paren(b, 2)}`,
      }[semiring!]!;
      rhs = { text, prec: 1, uses: new Set([i.name]) };
      break;
    }
    case 'lowrank/sum_prod': {
      const [vDim, kDim] = dims as [string, string];
      const [i, j] = vars as [Var, Var];
      const k = cell.source([kDim]);
      const v = cell.source([vDim]);
      const l = lhsScope.fresh(kDim);
      // beta is a scalar: the same transition for every row.
      const scalar = gen.expr(lhsScope.empty(), [...free], depth());
      const beta = options.tame ? call('sigmoid', scalar) : scalar;
      // The prediction either inline or as a let read by the update (as DeltaNet writes it).
      const kn = options.tame ? `${k.name}[${l.name}] / ${cell.dims.find((x) => x.name === kDim)!.size}` : `${k.name}[${l.name}]`;
      let pred = `sum(${l.name}: ${h.text.replace(/\[.*\]/, `[${i.name}, ${l.name}]`)} * ${kn})`;
      if (c.chance(0.5)) {
        const p = cell.add('let', [vDim], false);
        lines.push(`let ${p.name}[${i.name}] = ${pred}`);
        pred = `${p.name}[${i.name}]`;
      }
      const kj = options.tame ? `${k.name}[${j.name}] / ${cell.dims.find((x) => x.name === kDim)!.size}` : `${k.name}[${j.name}]`;
      rhs = { text: `${h.text} - ${paren(beta, 2)} * ${pred} * ${kj} + ${v.name}[${i.name}] * ${k.name}[${j.name}]`, prec: 1, uses: new Set([i.name, j.name]) };
      break;
    }
    case 'nonlinear': {
      const [a, b] = [decay(), operand()];
      rhs = c.pick([
        () => call('tanh', binary('+', binary('*', a, h), b)),
        () => binary('+', binary('*', h, h), b),
        () => binary('*', call('sigmoid', h), a),
        () => call('relu', binary('-', h, b)),
        () => binary('+', call('abs', h), b),
      ])();
      if (options.tame) rhs = call('tanh', rhs);
      break;
    }
    case 'independent':
      rhs = gen.covering(operand(), vars, lhsScope, [...free]);
      break;
    case 'gated': {
      // A gate that reads the state (GRU-like): sequential, with a note on what would make it a scan.
      const g = cell.add('let', dims, false);
      const gateRhs = gen.covering(call('sigmoid', binary('+', h, operand())), vars, lhsScope, [...free]);
      lines.push(`let ${g.name}${vars.length ? `[${vars.map((v) => v.name).join(', ')}]` : ''} = ${gateRhs.text}`);
      const gv = primary(`${g.name}${vars.length ? `[${vars.map((v) => v.name).join(', ')}]` : ''}`, vars.map((v) => v.name));
      rhs = binary('+', binary('*', gv, h), binary('*', binary('-', primary('1'), gv), operand()));
      break;
    }
  }
  lines.push(`${lhs} <- ${rhs.text}`);
  return { state: state.name, lines };
}

/** A constant the semiring makes sense of (or, sometimes, a param of the state's shape). */
function initialValue(gen: ExprGen, cell: Cell, state: Tensor, semiring: string | undefined, options: GenerateOptions): string {
  const { c } = gen;
  if (c.chance(0.15)) return cell.add('param', state.dims).name;
  if (semiring === 'log' || semiring === 'max_plus') return c.pick(['0', '-inf', '-1']);
  return options.tame ? c.pick(['0', '1', '0.5', '-1']) : c.pick(['0', '1', '0.5', '-1', '-inf', '1e38', '-0']);
}

/** A `monoid { ... }` over two or three new states. */
function monoidBlock(gen: ExprGen, cell: Cell, kind: (typeof MONOIDS)[number], options: GenerateOptions): string[] {
  const { c } = gen;
  const [l, r] = c.pick([['a', 'b'], ['left', 'right'], ['p0', 'p1']] as const);
  const dims = Array.from({ length: c.int(0, 1) }, () => c.pick(cell.dims).name);
  const vec = (t: Tensor) => (t.dims.length ? `[${t.dims.map(() => 'd').join(', ')}]` : '');
  const field = (op: string, t: Tensor) => `${op}.${t.name}${vec(t)}`;
  const free = () => cell.tensors.filter((t) => t.stateFree);
  /** What one step contributes to `t`; a `decay` is kept in (0, 1) for tame runs. */
  const element = (t: Tensor, decay = false) => {
    const scope = new Scope(t.dims.map((d) => ({ name: 'd', dim: d })));
    const e = gen.covering(gen.expr(scope, free(), options.tame ? 1 : 2), scope.vars, scope, free());
    return `${t.name}${vec(t)} = ${options.tame && decay ? `sigmoid(${e.text})` : e.text}`;
  };
  const lines: string[] = [];
  switch (kind) {
    case 'affine': {
      // Composing h -> g * h + x maps (monoid_affine.rnn).
      const [h, g] = [cell.add('state', dims, false), cell.add('state', dims, false)];
      cell.stateInits.set(h.name, '0').set(g.name, '1');
      lines.push(
        `monoid {`,
        `  element  ${element(h)}, ${element(g, true)}`,
        `  identity ${h.name}${vec(h)} = 0, ${g.name}${vec(g)} = 1`,
        `  combine(${l}, ${r}) {`,
        `    ${g.name}${vec(g)} = ${field(l, g)} * ${field(r, g)}`,
        `    ${h.name}${vec(h)} = ${field(r, g)} * ${field(l, h)} + ${field(r, h)}`,
        `  }`,
        `}`,
      );
      break;
    }
    case 'maxsum': {
      const [m, s] = [cell.add('state', dims, false), cell.add('state', dims, false)];
      cell.stateInits.set(m.name, '-inf').set(s.name, '0');
      const e0 = cell.fresh('e');
      lines.push(
        `monoid {`,
        `  identity ${m.name}${vec(m)} = -inf, ${s.name}${vec(s)} = 0`,
        `  element  ${element(m)}, ${element(s)}`,
        `  combine(${l}, ${r}) {`,
        `    let ${e0}${vec(m)} = max(${field(l, m)}, ${field(r, m)})`,
        `    ${s.name}${vec(s)} = ${field(l, s)} + ${field(r, s)}`,
        `    ${m.name}${vec(m)} = ${e0}${vec(m)}`,
        `  }`,
        `}`,
      );
      break;
    }
    case 'softmax': {
      // Attention as an RNN (examples/aaren.rnn): a running max, normaliser and weighted sum.
      const [m, u] = [cell.add('state', [], false), cell.add('state', [], false)];
      const w = cell.add('state', dims, false);
      cell.stateInits.set(m.name, '-inf').set(u.name, '0').set(w.name, '0');
      const [top, ea, eb] = [cell.fresh('e'), cell.fresh('e'), cell.fresh('e')];
      lines.push(
        `monoid {`,
        `  element  ${element(m)}, ${u.name} = 1, ${element(w)}`,
        `  identity ${m.name} = -inf, ${u.name} = 0, ${w.name}${vec(w)} = 0`,
        `  combine(${l}, ${r}) {`,
        `    let ${top} = max(${l}.${m.name}, ${r}.${m.name})`,
        `    let ${ea} = select(${l}.${m.name} > -inf, exp(${l}.${m.name} - ${top}), 0)`,
        `    let ${eb} = select(${r}.${m.name} > -inf, exp(${r}.${m.name} - ${top}), 0)`,
        `    ${m.name} = ${top}`,
        `    ${u.name} = ${l}.${u.name} * ${ea} + ${r}.${u.name} * ${eb}`,
        `    ${w.name}${vec(w)} = ${field(l, w)} * ${ea} + ${field(r, w)} * ${eb}`,
        `  }`,
        `}`,
      );
      break;
    }
  }
  return [lines.join('\n  ')];
}

/** The file: declarations and statements interleaved (declarations may come anywhere), with comments. */
function layout(c: Choices, cell: Cell, statements: string[], structures: string[]): string {
  const shape = (t: Tensor) => `${t.name}${t.dims.length ? `[${t.dims.join(', ')}]` : ''}`;
  const decls: string[] = [];
  const dimItems = cell.dims.map((d) => (d.declared ? `${d.name} = ${d.size}` : d.name));
  decls.push(`dims ${dimItems.join(', ')}`);
  for (const role of ['input', 'param'] as const) {
    const ts = cell.tensors.filter((t) => t.role === role);
    // One line per role, or one per tensor.
    if (ts.length && c.chance(0.7)) decls.push(`${role} ${ts.map(shape).join(', ')}`);
    else for (const t of ts) decls.push(`${role} ${shape(t)}`);
  }
  const states = cell.tensors.filter((t) => t.role === 'state');
  decls.push(`state ${states.map((t) => `${shape(t)} = ${cell.stateInits.get(t.name)}`).join(', ')}`);
  // The dims line first (it reads best), the other declarations anywhere among the statements.
  const body = [...statements];
  for (const d of decls.slice(1)) body.splice(c.chance(0.7) ? 0 : c.int(0, body.length), 0, d);
  body.unshift(decls[0]!);
  body.push(...structures);
  let text = `rnn ${c.pick(['cell', 'fuzz', 'f_1', 'Cell9'])} {\n  `;
  let commented = false;
  body.forEach((line, k) => {
    // Two items may share a line, unless a comment ends the first.
    if (k > 0) text += !commented && c.chance(0.05) ? ' ' : c.chance(0.1) ? '\n\n  ' : '\n  ';
    commented = c.chance(0.1);
    text += commented ? `${line}   // ${c.pick(['a comment', 'x < y', 'rnn { }', 'é'])}` : line;
  });
  return `${c.chance(0.2) ? '// generated\n' : ''}${text}\n}\n`;
}
