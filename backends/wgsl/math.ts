// Numerically safe f32 helpers for the .rnn builtins, as WGSL AST functions. Backends ask for the
// ones they use; `mathPrelude` closes over their dependencies and returns them in a fixed order.
//
// Why not the WGSL builtins directly: `tanh` is lowered by some drivers (Mesa among them) as
// (e^2x - 1) / (e^2x + 1), which loses all relative precision near 0; sigmoid and softplus written
// naively overflow exp; logaddexp(-inf, -inf) is NaN by the textbook formula; and WGSL has no
// infinity or NaN literal (a constant expression may not overflow), so both are built at run time.
import { bin, call, un, callT, f32, id, ifS, letS, lit, u32, type Expr, type Function, type Global, type Stmt } from './ast.js';

export type MathHelper = 'inf' | 'nan' | 'is_nan' | 'min' | 'max' | 'log1p_unit' | 'sigmoid' | 'softplus' | 'tanh' | 'logaddexp';

/** The largest finite f32: `abs(x) > F32_MAX` is an overflow-safe test for ±inf. */
export const F32_MAX = 3.4028234663852886e38;

export const helperName: Record<MathHelper, string> = {
  inf: 'f32_inf',
  nan: 'f32_nan',
  is_nan: 'is_nan',
  min: 'min_nan',
  max: 'max_nan',
  log1p_unit: 'log1p_unit',
  sigmoid: 'sigmoid',
  softplus: 'softplus',
  tanh: 'tanh_safe',
  logaddexp: 'logaddexp',
};

const dependsOn: Record<MathHelper, MathHelper[]> = {
  inf: [],
  nan: [],
  is_nan: [],
  min: ['is_nan'],
  max: ['is_nan'],
  log1p_unit: [],
  sigmoid: [],
  softplus: ['log1p_unit'],
  tanh: [],
  logaddexp: ['log1p_unit', 'min', 'max'],
};

const order: MathHelper[] = ['inf', 'nan', 'is_nan', 'min', 'max', 'log1p_unit', 'sigmoid', 'softplus', 'tanh', 'logaddexp'];

/** Call a helper. */
export const callHelper = (h: MathHelper, ...args: Expr[]): Expr => call(helperName[h], ...args);

const x = id('x');
const ret = (value: Expr): Stmt => ({ kind: 'return', value });
const f = (v: number) => lit.f32(v);
/** Horner's scheme: c0 + z * (c1 + z * (c2 + ...)). */
const horner = (z: Expr, coeffs: number[]): Expr => coeffs.slice(0, -1).reduceRight<Expr>((acc, c) => bin('+', f(c), bin('*', z, acc)), f(coeffs[coeffs.length - 1]!));
const unary = (name: string, body: Stmt[], comment: string): Function => ({ name, params: [{ name: 'x', type: f32 }], returnType: f32, body, comment });

function helperFunction(h: MathHelper): Function {
  switch (h) {
    case 'inf':
      return { name: helperName.inf, params: [], returnType: f32, body: [ret(callT('bitcast', f32, id('F32_INF_BITS')))], comment: '+infinity (WGSL has no literal for it)' };
    case 'nan':
      return { name: helperName.nan, params: [], returnType: f32, body: [ret(callT('bitcast', f32, id('F32_NAN_BITS')))], comment: 'a quiet NaN (WGSL has no literal for it)' };
    case 'is_nan':
      // On the bits: WGSL lets an implementation assume no NaN in float arithmetic, so `x != x` may fold to false.
      return { name: helperName.is_nan, params: [{ name: 'x', type: f32 }], returnType: { kind: 'scalar', name: 'bool' }, body: [ret(bin('>', bin('&', callT('bitcast', u32, x), lit.u32(0x7fffffff)), lit.u32(0x7f800000)))], comment: 'whether x is a NaN, read from its bits' };
    case 'min':
    case 'max':
      return {
        name: helperName[h],
        params: [
          { name: 'a', type: f32 },
          { name: 'b', type: f32 },
        ],
        returnType: f32,
        body: [ret(call('select', call('select', call(h, id('a'), id('b')), id('b'), callHelper('is_nan', id('b'))), id('a'), callHelper('is_nan', id('a'))))],
        comment: `${h}(a, b), NaN when either is (WGSL leaves ${h} of a NaN to the implementation)`,
      };
    case 'log1p_unit': {
      // log(1 + x) = 2 atanh(y), y = x / (2 + x) in [0, 1/3]: the odd series to y^17 is exact in f32.
      const y2 = id('y2');
      return unary(
        helperName.log1p_unit,
        [letS('y', bin('/', x, bin('+', f(2), x))), letS('y2', bin('*', id('y'), id('y'))), ret(bin('*', bin('*', f(2), id('y')), horner(y2, [1, 1 / 3, 1 / 5, 1 / 7, 1 / 9, 1 / 11, 1 / 13, 1 / 15, 1 / 17])))],
        'log(1 + x) for x in [0, 1], accurate near 0',
      );
    }
    case 'sigmoid':
      return unary(
        helperName.sigmoid,
        [letS('e', call('exp', un('-', call('abs', x)))), letS('s', bin('/', f(1), bin('+', f(1), id('e')))), ret(call('select', bin('*', id('e'), id('s')), id('s'), bin('>=', x, f(0))))],
        '1 / (1 + exp(-x)) without overflow: exp only ever sees -|x|',
      );
    case 'softplus':
      return unary(helperName.softplus, [ret(bin('+', call('max', x, f(0)), callHelper('log1p_unit', call('exp', un('-', call('abs', x))))))], 'log(1 + exp(x)) = max(x, 0) + log(1 + exp(-|x|))');
    case 'tanh': {
      // |x| < 0.5: the Taylor series to x^17 (error < 1e-9 relative); beyond, (1 - e) / (1 + e) with
      // e = exp(-2|x|) <= 0.37 has no cancellation and no overflow.
      const coeffs = [1, -1 / 3, 2 / 15, -17 / 315, 62 / 2835, -1382 / 155925, 21844 / 6081075, -929569 / 638512875, 6404582 / 10854718875];
      return unary(
        helperName.tanh,
        [
          letS('a', call('abs', x)),
          ifS(bin('<', id('a'), f(0.5)), [letS('x2', bin('*', x, x)), ret(bin('*', x, horner(id('x2'), coeffs)))]),
          letS('e', call('exp', bin('*', f(-2), id('a')))),
          ret(bin('*', call('sign', x), bin('/', bin('-', f(1), id('e')), bin('+', f(1), id('e'))))),
        ],
        'tanh, accurate near 0 and saturating without NaN',
      );
    }
    case 'logaddexp':
      return {
        name: helperName.logaddexp,
        params: [
          { name: 'a', type: f32 },
          { name: 'b', type: f32 },
        ],
        returnType: f32,
        body: [
          letS('m', callHelper('max', id('a'), id('b'))),
          ifS(bin('>', call('abs', id('m')), f(F32_MAX)), [ret(id('m'))]),
          ret(bin('+', id('m'), callHelper('log1p_unit', call('exp', bin('-', callHelper('min', id('a'), id('b')), id('m')))))),
        ],
        comment: 'log(exp(a) + exp(b)); ±inf when the larger operand is (the textbook formula gives NaN)',
      };
  }
}

/** The helpers `used` needs (dependencies included), with the globals they read, in a fixed order. */
export function mathPrelude(used: Iterable<MathHelper>): { globals: Global[]; functions: Function[] } {
  const need = new Set<MathHelper>();
  const visit = (h: MathHelper) => {
    if (need.has(h)) return;
    need.add(h);
    dependsOn[h].forEach(visit);
  };
  for (const h of used) visit(h);
  const helpers = order.filter((h) => need.has(h));
  const globals: Global[] = [];
  if (need.has('inf')) globals.push({ name: 'F32_INF_BITS', space: 'private', type: u32, init: lit.u32(0x7f800000), comment: 'a variable, not a constant: a constant expression may not be infinite' });
  if (need.has('nan')) globals.push({ name: 'F32_NAN_BITS', space: 'private', type: u32, init: lit.u32(0x7fc00000), comment: 'a variable, not a constant: a constant expression may not be NaN' });
  return { globals, functions: helpers.map(helperFunction) };
}
