// The shared lowering (backends/lower): reductions unrolled or looped, values placed outside the
// loops they do not depend on, constants folded in float32 with non-finite results kept out of
// WGSL constant expressions, evaluation over many points looped, and the workgroup grid.
import { describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import type { Def } from '../../src/compiler/ir/ir.js';
import { arrayOf, assign, bin, callS, f32, id, index, lit, member, named, u32, type Stmt, type Type } from '../../backends/wgsl/ast.js';
import { budgetUnrolling, countedLoop, unrolledAccesses } from '../../backends/wgsl/unroll-budget.js';
import { printExpr, printModule } from '../../backends/wgsl/print.js';
import { emptyModule } from '../../backends/wgsl/ast.js';
import { Lowerer, offsetExpr } from '../../backends/lower/expr.js';
import { overPoints } from '../../backends/lower/points.js';
import { UNROLL_MAX } from '../../backends/lower/reduce.js';
import { flatWorkgroupIndex, gridDispatch } from '../../backends/lower/grid.js';

/** The definition of output `y` of a one-output cell with the given dims and body. */
function outputDef(dims: string, body: string, decls = 'param p[N, N]'): { def: Def; sizes: Record<string, number> } {
  const text = `rnn t {\n  dims ${dims}\n  input x[N]\n  ${decls}\n  state h[N] = 0\n  h[i] <- h[i] + x[i]\n  output y[i] = ${body}\n}\n`;
  const { module } = frontEnd(text);
  if (!module) throw new Error(`does not check:\n${text}`);
  const sizes = Object.fromEntries(module.dims.map((d) => [d.name, d.size!]));
  return { def: module.step.find((d) => d.kind === 'output')!, sizes };
}

/** The statements and value of `def` at i = `i`, with every load read from an array named after its tensor. */
function lower(def: Def, sizes: Record<string, number>, i: number | 'run-time' = 0): { code: string; value: string; helpers: string[] } {
  const lw = new Lowerer({ resolve: (n, values) => index(id(n.tensor), offsetExpr(values, values.map((_, k) => (k === values.length - 1 ? 1 : sizes.N!)))), sizes, prefix: 'v' });
  const value = lw.evaluate(def, [i === 'run-time' ? id('i') : i]);
  const fn = { name: 'f', params: [], body: lw.stmts as Stmt[] };
  return { code: printModule({ ...emptyModule(), functions: [fn] }), value: printExpr(value), helpers: [...lw.helpers].sort() };
}

describe('reductions', () => {
  it(`unrolls a reduction over ${UNROLL_MAX} terms or fewer`, () => {
    const { def, sizes } = outputDef(`N = ${UNROLL_MAX}`, 'sum(j: p[i, j] * x[j])');
    const { code } = lower(def, sizes);
    expect(code).not.toMatch(/for \(/);
    expect(code.match(/\* x\[/g)).toHaveLength(UNROLL_MAX);
  });

  it('loops over a longer reduction, computing what does not depend on its index before the loop', () => {
    const { def, sizes } = outputDef('N = 8', 'sum(j: exp(x[i]) * p[i, j])');
    const { code } = lower(def, sizes, 'run-time');
    expect(code).toContain(
      ['    var vacc0: f32 = 0.0f;', '    let v2 = exp(x[i]);', '    for (var vj_1 = 0u; vj_1 < 8u; vj_1++) {', '        let v3 = v2 * p[i * 8u + vj_1];', '        vacc0 = vacc0 + v3;', '    }'].join('\n'),
    );
  });

  it('starts max and logsumexp at -inf and min at +inf, through the f32_inf helper', () => {
    for (const [fn, init] of [['max', '-f32_inf()'], ['min', 'f32_inf()'], ['logsumexp', '-f32_inf()']] as const) {
      const { def, sizes } = outputDef('N = 8', `${fn}(j: p[i, j])`);
      const { code, helpers } = lower(def, sizes);
      expect(code).toContain(`var vacc0: f32 = ${init};`);
      expect(helpers).toContain('inf');
    }
  });
});

describe('constants', () => {
  it.each([
    ['1 / 0', 'f32_inf()'],
    ['3e38 * 10', 'f32_inf()'],
    ['exp(100)', 'f32_inf()'],
    ['log(0)', '-f32_inf()'],
    ['0 / 0', 'f32_nan()'],
    ['sqrt(0 - 1)', 'f32_nan()'],
    ['1 / 3', '0.33333334f'],
    ['select(1 < 2, 5, 1 / 0)', '5.0f'],
  ])('folds %s in float32 to %s', (expr, folded) => {
    const { def, sizes } = outputDef('N = 2', `x[i] + (${expr})`);
    const { code, value } = lower(def, sizes);
    expect(value).toBe('v0');
    // Only the addition of x is left to run time: the constant is folded, never a WGSL constant expression.
    expect(code.match(/let /g)).toHaveLength(1);
    expect(code).toContain(`let v0 = x[0u] + ${folded};`);
  });

  it('picks the branch of a select whose condition is constant, and keeps a run-time one', () => {
    const { def, sizes } = outputDef('N = 2', 'select(2 > 1, x[i], 1 / 0) + select(x[i] > 0, 1, 0)');
    const { code } = lower(def, sizes);
    expect(code).toContain('let v0 = x[0u] > 0.0f;');
    expect(code).toContain('let v1 = select(0.0f, 1.0f, v0);');
    expect(code).toContain('let v2 = x[0u] + v1;');
  });
});

describe('points', () => {
  const write = (count: number) => {
    const lw = new Lowerer({ resolve: () => lit.f32(0), sizes: { A: count, B: 2 }, prefix: '' });
    overPoints(lw, ['A', 'B'], { A: count, B: 2 }, (point, flat) => [assign(index(id('out'), typeof flat === 'number' ? lit.u32(flat) : flat), typeof point[0] === 'number' ? lit.f32(point[0]) : id('a'))]);
    return printModule({ ...emptyModule(), functions: [{ name: 'f', params: [], body: lw.stmts }] });
  };
  it('writes one statement per point up to the unroll limit', () => {
    expect(write(2)).toContain('out[3u] = 1.0f;');
    expect(write(2)).not.toMatch(/for/);
  });
  it('loops beyond it, one counted loop per dim, the flat index from the coordinates', () => {
    expect(write(8)).toContain(['    for (var p0 = 0u; p0 < 8u; p0++) {', '        for (var p1 = 0u; p1 < 2u; p1++) {', '            out[p0 * 2u + p1] = a;'].join('\n'));
  });
});

describe('the unroll budget', () => {
  const nwg = { name: 'nwg', type: named('vec3<u32>'), attributes: ['builtin(num_workgroups)'] };
  const lid = { name: 'lid', type: u32, attributes: ['builtin(local_invocation_index)'] };
  const module = (body: Stmt[], functions: { name: string; params: { name: string; type: Type }[]; body: Stmt[] }[] = [], params = [nwg, lid]) => ({
    ...emptyModule(),
    globals: [{ name: 'buf', space: 'storage' as const, access: 'read_write' as const, type: arrayOf(f32), group: 0, binding: 0 }],
    functions,
    entryPoints: [{ name: 'main', stage: 'compute' as const, workgroupSize: [1] as [number], params, body }],
  });
  // An access per invocation (its address varies with the invocation), the kind lavapipe compiles slowly.
  const access = (i: string, base = 'lid') => assign(index(id('buf'), bin('+', id(base), id(i))), lit.f32(1));
  const perStep = (body: Stmt[]): Stmt => ({ kind: 'loop', body: [...body, { kind: 'break' }] });

  it('counts the accesses the driver compiles: unrolled loops of 32 trips or fewer multiply, longer ones and calls inline once each', () => {
    const f = { name: 'f', params: [{ name: 'i', type: u32 }], body: [countedLoop('m', lit.u32(0), 4, [access('m', 'i'), access('m', 'i')])] };
    const m = module([countedLoop('k', lit.u32(0), 16, [access('k')]), countedLoop('j', lit.u32(0), 40, [access('j')]), callS('f', id('lid')), callS('f', lit.u32(0))], [f]);
    expect(unrolledAccesses(m)).toEqual([16 + 1 + 8 + 8]);
  });
  it('does not count an access whose address is the same in every invocation (one scalar load)', () => {
    const uniform = assign(index(id('buf'), bin('*', member(id('nwg'), 'x'), id('k'))), lit.f32(1));
    expect(unrolledAccesses(module([countedLoop('k', lit.u32(0), 16, [uniform])]))).toEqual([0]);
  });
  it('merges a load that does not depend on a loop across its copies, unless the loop stores (a store may alias it)', () => {
    const load = (into: string) => ({ kind: 'let' as const, name: into, init: index(id('buf'), id('lid')) });
    expect(unrolledAccesses(module([countedLoop('k', lit.u32(0), 8, [load('a')])]))).toEqual([1]);
    expect(unrolledAccesses(module([countedLoop('k', lit.u32(0), 8, [load('a'), access('k')])]))).toEqual([8 + 8]);
  });
  it('leaves a module within the budget as it is', () => {
    const m = module([countedLoop('k', lit.u32(0), 16, [access('k')])]);
    expect(budgetUnrolling(m)).toBe(m);
  });
  it('keeps the loop that saves the most, declares no_unroll and sets it from the 2-D grid', () => {
    const m = module([countedLoop('k', lit.u32(0), 16, [access('k')]), countedLoop('j', lit.u32(0), 8, [access('j')])]);
    const code = printModule(budgetUnrolling(m, 12));
    expect(code).toContain('var<private> no_unroll: u32;');
    expect(code).toContain(['    no_unroll = nwg.z - 1u;', '    for (var k = 0u; k < 16u + no_unroll; k++) {'].join('\n'));
    expect(code).toContain('for (var j = 0u; j < 8u; j++) {');
  });
  it('keeps loops outside the per-step path first, then the ones in it', () => {
    const m = module([countedLoop('k', lit.u32(0), 8, [access('k')]), perStep([countedLoop('j', lit.u32(0), 16, [access('j')])])]);
    expect(printModule(budgetUnrolling(m, 20))).toContain('for (var k = 0u; k < 8u + no_unroll; k++)');
    expect(printModule(budgetUnrolling(m, 20))).toContain('for (var j = 0u; j < 16u; j++)');
    expect(printModule(budgetUnrolling(m, 4))).toContain('for (var j = 0u; j < 16u + no_unroll; j++)');
  });
  it('never keeps a loop that holds a barrier or a subgroup operation (a private variable is non-uniform to WGSL)', () => {
    const m = module([countedLoop('k', lit.u32(0), 16, [access('k'), callS('workgroupBarrier')])]);
    expect(budgetUnrolling(m, 1)).toBe(m);
  });
  it('refuses an entry point without num_workgroups', () => {
    expect(() => budgetUnrolling(module([countedLoop('k', lit.u32(0), 16, [access('k')])], [], [lid]), 1)).toThrow(/no num_workgroups parameter/);
  });
});

describe('grid', () => {
  it('spreads workgroups over x and y, 65,535 per dimension at most', () => {
    expect(gridDispatch(100)).toEqual([100, 1, 1]);
    expect(gridDispatch(70000)).toEqual([65535, 2, 1]);
    expect(gridDispatch(65535 * 3)).toEqual([65535, 3, 1]);
    expect(printExpr(flatWorkgroupIndex())).toBe('wid.x + wid.y * nwg.x');
  });
});
