// A small typed WGSL AST, shared by the sequential and scan backends (after Futhark's
// ImpGen/WGSL.hs). Backends build values of these types; `printModule` (print.ts) renders them in a
// fixed order, so the same AST always prints the same bytes.

export type ScalarName = 'f32' | 'f16' | 'u32' | 'i32' | 'bool';

export type Type =
  | { kind: 'scalar'; name: ScalarName }
  | { kind: 'vec'; size: 2 | 3 | 4; elem: Type }
  | { kind: 'array'; elem: Type; size?: number | string }
  | { kind: 'atomic'; elem: Type }
  | { kind: 'named'; name: string };

export const f32: Type = { kind: 'scalar', name: 'f32' };
export const u32: Type = { kind: 'scalar', name: 'u32' };
export const i32: Type = { kind: 'scalar', name: 'i32' };
export const bool: Type = { kind: 'scalar', name: 'bool' };
export const vec = (size: 2 | 3 | 4, elem: Type): Type => ({ kind: 'vec', size, elem });
/** `array<elem, size>`, or a runtime-sized `array<elem>` without a size. */
export const arrayOf = (elem: Type, size?: number | string): Type => (size === undefined ? { kind: 'array', elem } : { kind: 'array', elem, size });
export const atomic = (elem: Type): Type => ({ kind: 'atomic', elem });
export const named = (name: string): Type => ({ kind: 'named', name });

export type BinaryOp = '*' | '/' | '%' | '+' | '-' | '<<' | '>>' | '<' | '>' | '<=' | '>=' | '==' | '!=' | '&' | '|' | '^' | '&&' | '||';
export type UnaryOp = '-' | '!' | '~' | '&' | '*';

export type Expr =
  /** A literal; f32 values print with the shortest decimal that round-trips through f32 (finite only). */
  | { kind: 'literal'; type: ScalarName; value: number | boolean }
  | { kind: 'ident'; name: string }
  | { kind: 'unary'; op: UnaryOp; arg: Expr }
  | { kind: 'binary'; op: BinaryOp; left: Expr; right: Expr }
  /** A call of a function, builtin or type constructor; `template` prints as `fn<T>(...)` (bitcast<f32>, vec3<u32>). */
  | { kind: 'call'; fn: string; template?: Type; args: Expr[] }
  | { kind: 'index'; base: Expr; index: Expr }
  | { kind: 'member'; base: Expr; name: string };

export type AssignOp = '=' | '+=' | '-=' | '*=' | '/=' | '%=' | '&=' | '|=' | '^=';

export type Stmt =
  | { kind: 'let'; name: string; type?: Type; init: Expr }
  | { kind: 'var'; name: string; type?: Type; init?: Expr }
  | { kind: 'assign'; target: Expr; op: AssignOp; value: Expr }
  | { kind: 'increment'; target: Expr; op: '++' | '--' }
  | { kind: 'if'; cond: Expr; then: Stmt[]; else?: Stmt[] }
  /** `for (init; cond; update) { body }`; init is a let/var, update an assignment or increment. */
  /** `trips`: the constant trip count of a counted loop (literal bound), which the unroll budget may keep from the driver's unroller. */
  | { kind: 'for'; init?: Stmt; cond?: Expr; update?: Stmt; body: Stmt[]; trips?: number }
  | { kind: 'loop'; body: Stmt[] }
  | { kind: 'return'; value?: Expr }
  | { kind: 'break' }
  | { kind: 'continue' }
  | { kind: 'call'; call: Expr & { kind: 'call' } }
  | { kind: 'block'; body: Stmt[] }
  /** A `//` comment line (or lines, split on newlines). */
  | { kind: 'comment'; text: string }
  | { kind: 'blank' };

export interface StructMember {
  name: string;
  type: Type;
  attributes?: string[];
}

export interface Struct {
  name: string;
  members: StructMember[];
}

/** Module-scope `const` or `override`. */
export interface Constant {
  name: string;
  type?: Type;
  value?: Expr;
  override?: boolean;
  comment?: string;
}

export type AddressSpace = 'uniform' | 'storage' | 'workgroup' | 'private';

/** A module-scope variable: a resource binding (group/binding set), workgroup or private memory. */
export interface Global {
  name: string;
  space: AddressSpace;
  access?: 'read' | 'read_write';
  type: Type;
  group?: number;
  binding?: number;
  init?: Expr;
  comment?: string;
}

export interface Param {
  name: string;
  type: Type;
  /** e.g. `builtin(global_invocation_id)`, printed with a leading `@`. */
  attributes?: string[];
}

export interface Function {
  name: string;
  params: Param[];
  returnType?: Type;
  body: Stmt[];
  comment?: string;
}

export interface EntryPoint extends Function {
  stage: 'compute';
  workgroupSize: [number, number?, number?];
}

export interface Module {
  /** A comment block at the top of the file. */
  header?: string;
  enables: string[];
  structs: Struct[];
  constants: Constant[];
  globals: Global[];
  functions: Function[];
  entryPoints: EntryPoint[];
}

/** `main` over one workgroup per (x, y) grid cell: the builtins every generated kernel reads. */
export const workgroupEntry = (workgroupSize: number, body: Stmt[]): EntryPoint => ({
  name: 'main',
  stage: 'compute',
  workgroupSize: [workgroupSize],
  params: [
    { name: 'wid', type: vec(3, u32), attributes: ['builtin(workgroup_id)'] },
    { name: 'nwg', type: vec(3, u32), attributes: ['builtin(num_workgroups)'] },
    { name: 'lid', type: u32, attributes: ['builtin(local_invocation_index)'] },
  ],
  body,
});

export const emptyModule = (): Module => ({ enables: [], structs: [], constants: [], globals: [], functions: [], entryPoints: [] });

// Expression and statement builders: short names keep emitters readable.
export const lit = {
  f32: (value: number): Expr => ({ kind: 'literal', type: 'f32', value }),
  u32: (value: number): Expr => ({ kind: 'literal', type: 'u32', value }),
  i32: (value: number): Expr => ({ kind: 'literal', type: 'i32', value }),
  bool: (value: boolean): Expr => ({ kind: 'literal', type: 'bool', value }),
};
export const id = (name: string): Expr => ({ kind: 'ident', name });
export const bin = (op: BinaryOp, left: Expr, right: Expr): Expr => ({ kind: 'binary', op, left, right });
export const un = (op: UnaryOp, arg: Expr): Expr => ({ kind: 'unary', op, arg });
export const call = (fn: string, ...args: Expr[]): Expr & { kind: 'call' } => ({ kind: 'call', fn, args });
export const callT = (fn: string, template: Type, ...args: Expr[]): Expr & { kind: 'call' } => ({ kind: 'call', fn, template, args });
export const index = (base: Expr, i: Expr): Expr => ({ kind: 'index', base, index: i });
export const member = (base: Expr, name: string): Expr => ({ kind: 'member', base, name });

/** An expression's direct subexpressions, in source order. */
export function childExprs(e: Expr): Expr[] {
  switch (e.kind) {
    case 'unary':
      return [e.arg];
    case 'binary':
      return [e.left, e.right];
    case 'call':
      return e.args;
    case 'index':
      return [e.base, e.index];
    case 'member':
      return [e.base];
    default:
      return [];
  }
}

/** The expression with `f` applied to each direct subexpression (leaves as they are). */
export function mapChildren(e: Expr, f: (x: Expr) => Expr): Expr {
  switch (e.kind) {
    case 'unary':
      return { ...e, arg: f(e.arg) };
    case 'binary':
      return { ...e, left: f(e.left), right: f(e.right) };
    case 'call':
      return { ...e, args: e.args.map(f) };
    case 'index':
      return { ...e, base: f(e.base), index: f(e.index) };
    case 'member':
      return { ...e, base: f(e.base) };
    default:
      return e;
  }
}

export const letS = (name: string, init: Expr, type?: Type): Stmt => (type ? { kind: 'let', name, type, init } : { kind: 'let', name, init });
export const varS = (name: string, type?: Type, init?: Expr): Stmt => ({ kind: 'var', name, ...(type ? { type } : {}), ...(init ? { init } : {}) });
export const assign = (target: Expr, value: Expr, op: AssignOp = '='): Stmt => ({ kind: 'assign', target, op, value });
export const ifS = (cond: Expr, then: Stmt[], otherwise?: Stmt[]): Stmt => (otherwise ? { kind: 'if', cond, then, else: otherwise } : { kind: 'if', cond, then });
export const callS = (fn: string, ...args: Expr[]): Stmt => ({ kind: 'call', call: call(fn, ...args) });
export const comment = (text: string): Stmt => ({ kind: 'comment', text });
export const blank: Stmt = { kind: 'blank' };

/** `for (var v = from; v < to; v += step) { body }` over u32 (step 1 prints `v++`). */
export function forRange(v: string, from: Expr, to: Expr, body: Stmt[], step: Expr = lit.u32(1)): Stmt {
  const unitStep = step.kind === 'literal' && step.value === 1;
  return {
    kind: 'for',
    init: varS(v, undefined, from),
    cond: bin('<', id(v), to),
    update: unitStep ? { kind: 'increment', target: id(v), op: '++' } : assign(id(v), step, '+='),
    body,
  };
}
