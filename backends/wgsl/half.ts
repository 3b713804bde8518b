// f16 storage (src/compiler/plan/precision.ts) as one rewrite of a finished WGSL module, shared by
// every backend: the storage buffers it names become `array<f16>` (or `array<vec4<f16>>` for a vec4
// view), each read of an element is widened (`f32(inputs[i])`, `vec4<f32>(inputs4[q])`) and each
// write narrowed (`outputs[i] = f16(v)`), and the module enables `f16`. Everything else — state,
// accumulators, workgroup memory — keeps its f32 type, so emitters need not know the precision:
// they name which of their buffers hold inputs, params and outputs (their layout decides that).
import { call, type Expr, type Global, type Module, type Stmt, type Type } from './ast.js';

const f16Type: Type = { kind: 'scalar', name: 'f16' };

/** The f16 element type for an f32 buffer element (a scalar or a vec4); undefined for anything else. */
function halfOf(t: Type): Type | undefined {
  if (t.kind === 'scalar' && t.name === 'f32') return f16Type;
  if (t.kind === 'vec' && t.elem.kind === 'scalar' && t.elem.name === 'f32') return { kind: 'vec', size: t.size, elem: f16Type };
  return undefined;
}

/** `f32`/`f16` or `vec4<f32>`/`vec4<f16>`: the constructor that converts to the element type. */
const convert = (t: Type, to: 'f32' | 'f16'): string => (t.kind === 'vec' ? `vec${t.size}<${to}>` : to);

/**
 * `module` with the runtime-sized f32 storage arrays named in `buffers` stored as f16. Throws on an
 * access it cannot rewrite (a pointer to a buffer element): an emitter bug, caught by the tests.
 */
export function storeHalf(module: Module, buffers: ReadonlySet<string>): Module {
  const elements = new Map<string, Type>();
  const globals: Global[] = module.globals.map((g) => {
    if (!buffers.has(g.name) || g.space !== 'storage' || g.type.kind !== 'array' || g.type.size !== undefined) return g;
    const half = halfOf(g.type.elem);
    if (!half) throw new Error(`storeHalf: buffer \`${g.name}\` holds ${g.type.elem.kind}, not f32 or vec<f32>`);
    elements.set(g.name, g.type.elem);
    return { ...g, type: { kind: 'array', elem: half } };
  });
  if (elements.size === 0) return module;

  /** The element type when `e` is `buffer[i]` of a rewritten buffer. */
  const elementAt = (e: Expr): Type | undefined => (e.kind === 'index' && e.base.kind === 'ident' ? elements.get(e.base.name) : undefined);

  const expr = (e: Expr): Expr => {
    switch (e.kind) {
      case 'literal':
      case 'ident':
        return e;
      case 'unary':
        // `&buffer` (arrayLength) keeps its type; a pointer to one element would need its uses rewritten.
        if (e.op === '&' && elementAt(e.arg)) throw new Error('storeHalf: a pointer to an f16 buffer element cannot be rewritten');
        return { ...e, arg: expr(e.arg) };
      case 'binary':
        return { ...e, left: expr(e.left), right: expr(e.right) };
      case 'call':
        return { ...e, args: e.args.map(expr) };
      case 'member':
        return { ...e, base: expr(e.base) };
      case 'index': {
        const rewritten: Expr = { ...e, index: expr(e.index) };
        const t = elementAt(e);
        return t ? call(convert(t, 'f32'), rewritten) : { ...rewritten, base: expr(e.base) };
      }
    }
  };

  /** An assignment's target: the element itself is left an lvalue; only its index is rewritten. */
  const target = (e: Expr): { target: Expr; element?: Type } => {
    const t = elementAt(e);
    if (t && e.kind === 'index') return { target: { ...e, index: expr(e.index) }, element: t };
    if (e.kind === 'member' && elementAt(e.base) && e.base.kind === 'index') return { target: { ...e, base: { ...e.base, index: expr(e.base.index) } }, element: f16Type };
    return { target: expr(e) };
  };

  const stmt = (s: Stmt): Stmt => {
    switch (s.kind) {
      case 'let':
        return { ...s, init: expr(s.init) };
      case 'var':
        return s.init ? { ...s, init: expr(s.init) } : s;
      case 'assign': {
        const { target: to, element } = target(s.target);
        if (!element) return { ...s, target: to, value: expr(s.value) };
        const narrow = element.kind === 'vec' ? convert(element, 'f16') : 'f16';
        const widen = element.kind === 'vec' ? convert(element, 'f32') : 'f32';
        // `x op= v` on an f16 element: the arithmetic in f32, one rounding to f16.
        const value = s.op === '=' ? expr(s.value) : { kind: 'binary' as const, op: s.op.slice(0, -1) as never, left: call(widen, to), right: expr(s.value) };
        return { kind: 'assign', target: to, op: '=', value: call(narrow, value) };
      }
      case 'increment':
        if (target(s.target).element) throw new Error('storeHalf: ++/-- on an f16 buffer element');
        return s;
      case 'if':
        return { ...s, cond: expr(s.cond), then: s.then.map(stmt), ...(s.else ? { else: s.else.map(stmt) } : {}) };
      case 'for':
        return { ...s, ...(s.init ? { init: stmt(s.init) } : {}), ...(s.cond ? { cond: expr(s.cond) } : {}), ...(s.update ? { update: stmt(s.update) } : {}), body: s.body.map(stmt) };
      case 'loop':
      case 'block':
        return { ...s, body: s.body.map(stmt) };
      case 'return':
        return s.value ? { ...s, value: expr(s.value) } : s;
      case 'call':
        return { ...s, call: expr(s.call) as typeof s.call };
      default:
        return s;
    }
  };

  return {
    ...module,
    enables: module.enables.includes('f16') ? module.enables : [...module.enables, 'f16'],
    globals,
    functions: module.functions.map((f) => ({ ...f, body: f.body.map(stmt) })),
    entryPoints: module.entryPoints.map((f) => ({ ...f, body: f.body.map(stmt) })),
  };
}

/** `storeHalf(module, buffers)` when `half`, else `module` as it is (f32 kernels stay byte for byte). */
export const storeHalfWhere = (half: boolean | undefined, module: Module, buffers: ReadonlySet<string>): Module => (half ? storeHalf(module, buffers) : module);
