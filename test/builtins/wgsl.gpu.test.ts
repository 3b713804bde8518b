// Each builtin's WGSL form (the table's data, emitted by the shared lowering's applyBuiltin) computes
// the builtin's float64 meaning on Dawn: within float32 accuracy on finite operands, and exactly on
// the special values the WGSL helpers handle themselves (WGSL leaves ±inf and NaN in its own
// builtins implementation-defined, so those are checked on the CPU only, in table.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scalarBuiltins, type ScalarBuiltin } from '../../src/compiler/builtins.js';
import { applyBuiltin } from '../../backends/lower/builtin.js';
import { arrayOf, assign, bin, call, emptyModule, f32, id, ifS, index, letS, lit, member, workgroupEntry, type Expr } from '../../backends/wgsl/ast.js';
import { mathPrelude, type MathHelper } from '../../backends/wgsl/math.js';
import { printModule } from '../../backends/wgsl/print.js';
import { GpuSession } from '../../src/runtime/dawn/runtime.js';

const WORKGROUP = 64;
const scalar = Object.values(scalarBuiltins);

/** `o[k] = b(x[k], y[k])` (a boolean operand is `c[k] > 0`; a boolean result is stored as 1 or 0). */
function kernel(b: ScalarBuiltin, n: number): string {
  const used = new Set<MathHelper>();
  const f32Operands = [id('xv'), id('yv')];
  const operands = b.params.map((t) => (t === 'bool' ? bin('>', id('cv'), lit.f32(0)) : f32Operands.shift()!));
  let value: Expr = applyBuiltin(b.name, operands, (h) => (used.add(h), h));
  if (b.result === 'bool') value = call('select', lit.f32(0), lit.f32(1), value);
  const m = emptyModule();
  ['x', 'y', 'c'].forEach((name, binding) => m.globals.push({ name, space: 'storage', access: 'read', type: arrayOf(f32), group: 0, binding }));
  m.globals.push({ name: 'o', space: 'storage', access: 'read_write', type: arrayOf(f32), group: 0, binding: 3 });
  const prelude = mathPrelude(used);
  m.globals.push(...prelude.globals);
  m.functions.push(...prelude.functions);
  m.entryPoints.push(
    workgroupEntry(WORKGROUP, [
      letS('k', bin('+', bin('*', member(id('wid'), 'x'), lit.u32(WORKGROUP)), id('lid'))),
      ifS(bin('>=', id('k'), lit.u32(n)), [{ kind: 'return' }]),
      // Every shader reads all three inputs, so that one bind group layout fits them all.
      letS('xv', index(id('x'), id('k'))),
      letS('yv', index(id('y'), id('k'))),
      letS('cv', index(id('c'), id('k'))),
      assign(index(id('o'), id('k')), value),
    ]),
  );
  return printModule(m);
}

/** The table's meaning on float32 operands, as the kernel stores it. */
function meaning(b: ScalarBuiltin, x: number, y: number, c: number): number {
  switch (b.kind) {
    case 'unary':
      return b.f64(x);
    case 'binary':
      return b.f64(x, y);
    case 'comparison':
      return b.f64(x, y) ? 1 : 0;
    case 'select':
      return b.f64(c > 0, x, y);
  }
}

/** Runs every builtin's kernel on the same operands; the outputs by builtin name. */
async function runAll(session: GpuSession, x: number[], y: number[], c: number[]): Promise<Record<string, Float32Array>> {
  const n = x.length;
  const bytes = 4 * n;
  const input = (name: string, values: number[]) => ({ name, bytes, usage: 'storage-read' as const, data: Float32Array.from(values) });
  const result = await session.run({
    shaders: scalar.map((b) => ({ label: b.name, code: kernel(b, n) })),
    buffers: [input('x', x), input('y', y), input('c', c), ...scalar.map((b) => ({ name: `o_${b.name}`, bytes, usage: 'storage' as const, read: true }))],
    passes: scalar.map((b) => ({
      shader: b.name,
      bindings: [...['x', 'y', 'c'].map((buffer, binding) => ({ binding, buffer })), { binding: 3, buffer: `o_${b.name}` }],
      dispatch: [Math.ceil(n / WORKGROUP)],
    })),
  });
  return Object.fromEntries(scalar.map((b) => [b.name, new Float32Array(result.buffers[`o_${b.name}`]!)]));
}

let session: GpuSession;
beforeAll(async () => {
  session = await GpuSession.open();
});
afterAll(async () => {
  await session?.close();
});

describe('WGSL forms on Dawn', () => {
  it('agree with the float64 meanings on finite operands, within float32 accuracy', async () => {
    const grid = [-20, -3.25, -1, -0.5, 0, 0.25, 1, 2.5, 7, 20].map(Math.fround);
    const pairs = grid.flatMap((x) => grid.map((y) => [x, y] as const));
    const x = pairs.map((p) => p[0]);
    const y = pairs.map((p) => p[1]);
    const c = pairs.map((_, k) => (k % 3 === 0 ? 1 : -1));
    const out = await runAll(session, x, y, c);
    const wrong: string[] = [];
    for (const b of scalar) {
      pairs.forEach((_, k) => {
        const expected = meaning(b, x[k]!, y[k]!, c[k]!);
        // Where the meaning is not finite (log(0), sqrt(-1), 1/0) WGSL does not define the result.
        if (!Number.isFinite(expected)) return;
        // exp has 3 + 2|x| ulps in WGSL, log an absolute 2^-21 near 1: 1e-5 covers both and is far
        // below what a wrong form (another function, swapped operands) gives.
        const got = out[b.name]![k]!;
        if (!(Math.abs(got - expected) <= 1e-5 * Math.max(1, Math.abs(expected)))) wrong.push(`${b.name}(${b.params.length === 1 ? x[k] : `${x[k]}, ${y[k]}`}${b.kind === 'select' ? `; c = ${c[k]}` : ''}) = ${got} on Dawn, ${expected} in the table`);
      });
    }
    expect([...new Set(wrong)]).toEqual([]);
  });

  it('give the table’s special values where a WGSL helper defines them (logaddexp, sigmoid, softplus, tanh)', async () => {
    const inf = Infinity;
    const cases: [string, number, number][] = [
      ['logaddexp', inf, inf], ['logaddexp', -inf, -inf], ['logaddexp', inf, -inf], ['logaddexp', -inf, inf], ['logaddexp', -inf, 3], ['logaddexp', 2, -inf],
      ['sigmoid', inf, 0], ['sigmoid', -inf, 0], ['sigmoid', 1000, 0], ['sigmoid', -1000, 0],
      ['softplus', inf, 0], ['softplus', -inf, 0], ['softplus', 1000, 0], ['softplus', -1000, 0],
      ['tanh', inf, 0], ['tanh', -inf, 0], ['tanh', 1000, 0], ['tanh', -1000, 0], ['tanh', 1e-30, 0],
    ];
    const out = await runAll(session, cases.map((k) => k[1]), cases.map((k) => k[2]), cases.map(() => 1));
    const got = cases.map(([name], k) => out[name]![k]!);
    const expected = cases.map(([name, a, b]) => Math.fround(meaning(scalarBuiltins[name]!, a, b, 1)));
    expect(got).toEqual(expected);
  });

  it('propagate NaN through min, max, relu and logaddexp, as the reference does (WGSL leaves min and max of NaN to the implementation)', async () => {
    const cases: [string, number, number][] = [
      ['min', NaN, 1], ['min', 1, NaN], ['min', NaN, -Infinity], ['max', NaN, 1], ['max', 1, NaN], ['max', Infinity, NaN],
      ['relu', NaN, 0], ['logaddexp', NaN, 1], ['logaddexp', 1, NaN], ['logaddexp', -Infinity, NaN],
      ['min', -0, 2], ['max', 3, -Infinity], ['relu', -2, 0],
    ];
    const out = await runAll(session, cases.map((k) => k[1]), cases.map((k) => k[2]), cases.map(() => 1));
    const got = cases.map(([name], k) => out[name]![k]!);
    const expected = cases.map(([name, a, b]) => Math.fround(meaning(scalarBuiltins[name]!, a, b, 1)));
    expect(expected.slice(0, 10).every(Number.isNaN)).toBe(true);
    expect(got).toEqual(expected);
  });
});
