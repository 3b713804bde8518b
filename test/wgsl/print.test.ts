import { describe, expect, it } from 'vitest';
import { arrayOf, assign, bin, blank, call, callS, callT, comment, emptyModule, f32, forRange, id, ifS, index, letS, lit, member, named, u32, un, varS, vec } from '../../backends/wgsl/ast.js';
import { formatF32, printExpr, printModule } from '../../backends/wgsl/print.js';

describe('formatF32', () => {
  it('prints the shortest decimal that round-trips through f32, with a suffix', () => {
    expect(formatF32(1)).toBe('1.0f');
    expect(formatF32(0.1)).toBe('0.1f');
    expect(formatF32(-2.5)).toBe('-2.5f');
    expect(formatF32(0.000001)).toBe('0.000001f');
    expect(formatF32(1e-7)).toBe('1e-7f');
    expect(formatF32(3.4028234663852886e38)).toBe('3.402823466e+38f'); // Tint rejects 3.4028235e+38 (beyond the largest f32 before rounding)
    expect(formatF32(1 / 3)).toBe('0.33333334f');
    expect(formatF32(-0)).toBe('-0.0f');
    expect(formatF32(16777217)).toBe('16777216.0f');
  });
  it('refuses infinity and NaN, which have no WGSL literal', () => {
    expect(() => formatF32(Infinity)).toThrow(/bitcast/);
    expect(() => formatF32(NaN)).toThrow(/bitcast/);
  });
});

describe('printExpr', () => {
  const [a, b, c] = [id('a'), id('b'), id('c')];
  it('parenthesizes only where the grammar or associativity needs it', () => {
    expect(printExpr(bin('+', bin('*', a, b), c))).toBe('a * b + c');
    expect(printExpr(bin('*', bin('+', a, b), c))).toBe('(a + b) * c');
    expect(printExpr(bin('-', a, bin('-', b, c)))).toBe('a - (b - c)');
    expect(printExpr(bin('-', bin('-', a, b), c))).toBe('a - b - c');
    expect(printExpr(bin('<', bin('+', a, b), c))).toBe('a + b < c');
    expect(printExpr(bin('==', bin('<', a, b), lit.bool(true)))).toBe('(a < b) == true');
    expect(printExpr(bin('&&', bin('<', a, b), bin('||', a, c)))).toBe('a < b && (a || c)');
    expect(printExpr(bin('&', bin('&', a, b), c))).toBe('a & b & c');
    expect(printExpr(bin('&', a, bin('+', b, c)))).toBe('a & (b + c)');
    expect(printExpr(bin('<<', bin('+', a, b), lit.u32(2)))).toBe('(a + b) << 2u');
    expect(printExpr(un('-', bin('+', a, b)))).toBe('-(a + b)');
    expect(printExpr(un('-', lit.f32(-1)))).toBe('-(-1.0f)');
    expect(printExpr(bin('*', a, lit.f32(-2)))).toBe('a * -2.0f');
  });
  it('prints calls, templates, indexing and members', () => {
    expect(printExpr(callT('bitcast', f32, lit.u32(0x7f800000)))).toBe('bitcast<f32>(2139095040u)');
    expect(printExpr(index(member(id('p'), 'x'), bin('+', a, lit.u32(1))))).toBe('p.x[a + 1u]');
    expect(printExpr(call('max', a, lit.i32(-3)))).toBe('max(a, -3i)');
  });
});

describe('printModule', () => {
  it('walks a module in a fixed order with 4-space indentation', () => {
    const m = emptyModule();
    m.header = 'generated';
    m.structs.push({ name: 'Params', members: [{ name: 'batch', type: u32 }, { name: 'T', type: u32 }] });
    m.constants.push({ name: 'N', value: lit.u32(8), comment: 'state size' });
    m.globals.push({ name: 'params', space: 'uniform', type: named('Params'), group: 0, binding: 0 });
    m.globals.push({ name: 'data', space: 'storage', access: 'read_write', type: arrayOf(f32), group: 0, binding: 1 });
    m.globals.push({ name: 'tile', space: 'workgroup', type: arrayOf(f32, 'N') });
    m.functions.push({ name: 'twice', params: [{ name: 'x', type: f32 }], returnType: f32, body: [{ kind: 'return', value: bin('*', lit.f32(2), id('x')) }] });
    m.entryPoints.push({
      name: 'main',
      stage: 'compute',
      workgroupSize: [64],
      params: [{ name: 'gid', type: vec(3, u32), attributes: ['builtin(global_invocation_id)'] }],
      body: [
        letS('i', member(id('gid'), 'x')),
        ifS(bin('>=', id('i'), member(id('params'), 'batch')), [{ kind: 'return' }]),
        varS('acc', f32, lit.f32(0)),
        blank,
        comment('sum over N'),
        forRange('n', lit.u32(0), id('N'), [assign(id('acc'), index(id('data'), id('n')), '+=')]),
        ifS(bin('>', id('acc'), lit.f32(0)), [callS('workgroupBarrier')], [ifS(lit.bool(false), [{ kind: 'break' }], [{ kind: 'continue' }])]),
        assign(index(id('data'), id('i')), call('twice', id('acc'))),
      ],
    });
    expect(printModule(m)).toBe(`// generated

struct Params {
    batch: u32,
    T: u32,
}

// state size
const N = 8u;

@group(0) @binding(0)
var<uniform> params: Params;

@group(0) @binding(1)
var<storage, read_write> data: array<f32>;

var<workgroup> tile: array<f32, N>;

fn twice(x: f32) -> f32 {
    return 2.0f * x;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
    let i = gid.x;
    if i >= params.batch {
        return;
    }
    var acc: f32 = 0.0f;

    // sum over N
    for (var n = 0u; n < N; n++) {
        acc += data[n];
    }
    if acc > 0.0f {
        workgroupBarrier();
    } else if false {
        break;
    } else {
        continue;
    }
    data[i] = twice(acc);
}
`);
  });
});
