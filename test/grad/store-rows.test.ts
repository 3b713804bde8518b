// The scan kernels of a diagonal cell's backward (the saving forward, the adjoint core): the store
// phase writes each step's outputs as rows of vec4s with every point unrolled (backends/wgsl-scan/
// states.ts, outputRowsFit), and a value two element fields share is computed once
// (backends/wgsl-scan/cse.ts). What these kernels compute is checked on Dawn against the float64
// reference by test/grad/kernels.gpu.test.ts, test/grad/directions.gpu.test.ts and the scan examples;
// here, that the kernels take these forms (CPU only).
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { frontEnd } from '../../src/driver/front-end.js';
import { emit, plan } from '../../src/driver/compile.js';
import { planGrad, type GradPlanOptions } from '../../src/driver/grad.js';
import type { Analysis } from '../../src/compiler/analyse/types.js';
import type { Module } from '../../src/compiler/ir/ir.js';
import type { Compilation } from '../../src/compiler/plan/plan.js';
import { dedupeLets } from '../../backends/wgsl/cse.js';
import { bin, call, id, letS, varS, f32, lit, assign, forRange, type Stmt } from '../../backends/wgsl/ast.js';

const grad = (cell: string, dims: Record<string, number> = {}, options: GradPlanOptions = {}) => {
  const fe = frontEnd(readFileSync(`examples/${cell}.rnn`, 'utf8')) as { module: Module; analysis: Analysis };
  return planGrad(plan(fe.module, fe.analysis, { mode: 'auto', dims }), 'auto', options);
};
const kernel = (c: Compilation, name: string) => emit(c).kernels.find((k) => k.file === `${c.module.name}.${name}.wgsl`)!.wgsl;
const fn = (wgsl: string, name: string) => wgsl.slice(wgsl.indexOf(`fn ${name}(`), wgsl.indexOf('\n}\n', wgsl.indexOf(`fn ${name}(`)));

describe('the store phase in rows', () => {
  it.each(['gla', 'mamba_s6', 'lru'])('%s: the saving cell and the core write vec4 rows, no loop over points', (cell) => {
    const g = grad(cell, {}, { sampleCheckpoints: false });
    for (const c of [g.forward, g.saving, g.staged!.core]) {
      const steps = kernel(c, 'scan_steps');
      expect(steps, c.module.name).toMatch(/var<storage, read_write> outputs: array<vec4<f32>>;/);
      const store = fn(steps, 'store_step');
      expect(store, c.module.name).not.toMatch(/\bfor \(/);
      expect(store, c.module.name).toMatch(/outputs\[o_row\d+ \+ 0u\] = select\(vec4<f32>\(/);
    }
  });

  // The staged backward's checkpoints (src/driver/grad.ts SampledCheckpoints): the saved states at each
  // run's first position and the carried adjoints at its last, stored only there, into a row per run.
  // (Gla's runs are 32 steps with the gate's identity, which keeps F (8 floats) a step, not S (64).)
  it.each([
    ['gla', 32],
    ['mamba_s6', 32],
    ['lru', 32],
  ])('%s: the staged saving cell and core store their checkpoints once a run of %i steps', (cell, every) => {
    const st = grad(cell).staged!;
    for (const [c, at] of [
      [st.saving!, 'first'],
      [st.core, 'last'],
    ] as const) {
      const store = fn(kernel(c, 'scan_steps'), 'store_step');
      const sampled = at === 'first' ? `if o_row\\d+_p % ${every}u == 0u {` : `if o_row\\d+_p % ${every}u == ${every - 1}u \\|\\| o_row\\d+_p == len - 1u {`;
      expect(store, c.module.name).toMatch(new RegExp(sampled));
      expect(store, c.module.name).toMatch(new RegExp(`\\(b \\* \\(\\(U\\.T \\+ ${every - 1}u\\) / ${every}u\\) \\+ o_row\\d+_p / ${every}u\\)`));
      expect(store, c.module.name).not.toMatch(/\bfor \(/);
    }
  });

  it('an output of 3 floats a step keeps the scalar store (gla with V = 3)', () => {
    const g = grad('gla', { V: 3 });
    const steps = kernel(g.forward, 'scan_steps');
    expect(steps).toMatch(/var<storage, read_write> outputs: array<f32>;/);
    expect(fn(steps, 'store_step')).toMatch(/\bfor \(/);
  });
});

describe('shared element values', () => {
  it("mamba_s6's core computes each decay exp(-step * exp(A_log)) once a step, and exp(A_log) once a thread", () => {
    const core = kernel(grad('mamba_s6').staged!.core, 'scan_steps');
    expect(fn(core, 'element').match(/\bexp\(/g)).toHaveLength(1);
    expect(fn(core, 'invariants').match(/\bexp\(/g)).toHaveLength(1);
  });

  it('dedupeLets drops a let an earlier one in scope has, and keeps lets that read a var', () => {
    const body: Stmt[] = [
      letS('a', bin('*', id('x'), id('y'))),
      varS('acc', f32, lit.f32(0)),
      forRange('i', lit.u32(0), lit.u32(4), [
        letS('b', bin('*', id('x'), id('y'))),
        letS('c', call('exp', id('b'))),
        letS('d', call('exp', id('a'))),
        letS('e', bin('+', id('acc'), id('d'))),
        assign(id('acc'), id('e')),
        letS('f', bin('+', id('acc'), id('d'))),
      ]),
      letS('g', call('exp', id('a'))),
      { kind: 'return', value: bin('+', id('c'), id('g')) },
    ];
    const names = (stmts: Stmt[]): string[] => stmts.flatMap((s) => (s.kind === 'let' ? [s.name] : s.kind === 'for' ? names(s.body) : []));
    const out = dedupeLets(body);
    // b is a; d is c (exp(a) once b is renamed); e and f read the var acc; g is not seen inside the loop's scope.
    expect(names(out)).toEqual(['a', 'c', 'e', 'f', 'g']);
  });
});
