// The split of a bidirectional cell into its two directions (src/compiler/ir/split-directions.ts):
// what each part holds (its inputs, params, states, lets and outputs; the lets of params it reads
// from the other part; no block flags left), that each part is a well-formed module the analysis
// takes, and that the two parts run on the reference interpreter give the cell's own results (variable
// lengths, given initial states, odd T).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import { tensorsOf, type Module } from '../../src/compiler/ir/ir.js';
import { verifyModule } from '../../src/compiler/ir/verify.js';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { hasErrors } from '../../src/compiler/diagnostics/diagnostic.js';
import { splitDirections } from '../../src/compiler/ir/split-directions.js';
import { interpret, type RunData } from '../../src/runtime/reference/interpreter.js';
import { randomLengths, randomRunData } from '../../src/driver/data.js';
import { BIDELTA } from './bidirectional-cells.js';
import { passes, runPipeline } from '../../src/driver/pipeline.js';
import { SourceFile } from '../../src/compiler/diagnostics/render.js';

const moduleOf = (text: string): Module => {
  const r = frontEnd(text);
  if (!r.module) throw new Error(r.diagnostics.map((d) => `${d.code} ${d.message}`).join('\n'));
  return r.module;
};

const bimamba = moduleOf(readFileSync('examples/bimamba.rnn', 'utf8'));
const bidelta = moduleOf(BIDELTA);

/** role → names, in declaration order. */
const holds = (m: Module) => Object.fromEntries((['input', 'param', 'state', 'let', 'output'] as const).map((role) => [role, tensorsOf(m, role).map((t) => t.name)]));

describe('splitDirections', () => {
  it('bimamba: each part holds what it reads, and nothing of the other', () => {
    const [f, r] = splitDirections(bimamba)!;
    expect(f!.direction).toBe('forward');
    expect(f!.module.name).toBe('bimamba_forward');
    expect(f!.module.reversed).toBeUndefined();
    expect(holds(f!.module)).toEqual({ input: ['x', 'dt_f', 'B_f', 'C_f'], param: ['A_log_f', 'Dskip'], state: ['hf'], let: ['step_f'], output: ['yf'] });
    expect(r!.direction).toBe('reversed');
    expect(r!.module.name).toBe('bimamba_reversed');
    expect(r!.module.reversed).toBe(true);
    expect(holds(r!.module)).toEqual({ input: ['x', 'dt_b', 'B_b', 'C_b'], param: ['A_log_b'], state: ['hb'], let: ['step_b'], output: ['yb'] });
    // The block's flags are gone: in a part of its own, the direction is the module's.
    for (const { module } of [f!, r!]) {
      expect(module.tensors.filter((t) => t.reversed)).toEqual([]);
      expect(module.step.flatMap((d) => d.nodes).filter((n) => n.op === 'load' && n.reversed)).toEqual([]);
      expect(module.structures.map((s) => s.kind)).toEqual(['diagonal']);
    }
  });

  it('lets of params go to every part that reads them (either way), and a state initialised by a param takes it along', () => {
    const [f, r] = splitDirections(bidelta)!;
    // `half` (a let of params outside the block) is read by the block; `two` (inside it) by the forward part.
    expect(holds(f!.module)).toEqual({ input: ['q', 'k', 'v', 'b'], param: ['scale'], state: ['S'], let: ['half', 'kn', 'beta', 'pred', 'two'], output: ['o'] });
    expect(holds(r!.module)).toEqual({ input: ['q', 'v', 'kb', 'bb'], param: ['scale', 'R0'], state: ['R'], let: ['half', 'two', 'knb', 'betab', 'predb'], output: ['ob'] });
    expect(r!.module.tensors.find((t) => t.name === 'R')!.init).toEqual({ kind: 'param', name: 'R0' });
  });

  it.each([
    ['bimamba', bimamba],
    ['bidelta', bidelta],
  ] as const)('%s: each part is a well-formed module the analysis takes', (_, m) => {
    for (const { module } of splitDirections(m)!) {
      expect(verifyModule(module)).toEqual([]);
      const a = analyse(module);
      expect(hasErrors(a.diagnostics)).toBe(false);
      expect(a.analysis.direction).toBe(module.reversed ? 'reversed' : undefined);
    }
  });

  it('plan: chunk plans the two parts (the fused kernel takes one direction), seq keeps one kernel; explain --after plan prints each part', () => {
    const { state } = runPipeline(new SourceFile('bidelta.rnn', BIDELTA), 'plan', { mode: 'chunk' });
    expect(state.compilation!.parts?.map((p) => [p.module.name, p.plan.mode])).toEqual([
      ['bidelta_forward', 'chunk'],
      ['bidelta_reversed', 'chunk'],
    ]);
    const printed = JSON.parse(passes.find((p) => p.name === 'plan')!.print(state));
    expect(printed.parts.map((p: { direction: string; module: string; mode: string }) => [p.direction, p.module, p.mode])).toEqual([
      ['forward', 'bidelta_forward', 'chunk'],
      ['reversed', 'bidelta_reversed', 'chunk'],
    ]);
    expect(runPipeline(new SourceFile('bidelta.rnn', BIDELTA), 'plan', { mode: 'seq' }).state.compilation!.parts).toBeUndefined();
  });

  it('is undefined for a cell without a `reversed` block', () => {
    expect(splitDirections(moduleOf(readFileSync('examples/mamba_s6.rnn', 'utf8')))).toBeUndefined();
  });

  // [batch, T, variable lengths, given initial states]
  it.each([
    ['bimamba', 3, 37, true, true],
    ['bimamba', 2, 65, false, false],
    ['bidelta', 4, 37, true, true],
    ['bidelta', 1, 1, false, true],
  ] as const)('%s: the two parts on the reference = the cell (batch %i, T %i, variable %s, initial %s)', (name, batch, T, variable, initial) => {
    const m = name === 'bimamba' ? bimamba : bidelta;
    const sizes = bindDims(m);
    const lengths = variable ? randomLengths(batch, T, 5) : undefined;
    const shape = { batch, T, sizes, ...(lengths ? { lengths } : {}) };
    const d = randomRunData(m, shape, 11, { initial });
    const whole = interpret(m, shape, d);
    const outputs: Record<string, Float64Array> = {};
    const final: Record<string, Float64Array> = {};
    for (const { module } of splitDirections(m)!) {
      const only = (from: Record<string, Float32Array | Float64Array> | undefined, role: 'input' | 'param' | 'state') => Object.fromEntries(tensorsOf(module, role).map((t) => [t.name, from![t.name]!]));
      const data: RunData = { inputs: only(d.inputs, 'input'), params: only(d.params, 'param'), ...(d.initial ? { initial: only(d.initial, 'state') } : {}) };
      const got = interpret(module, shape, data);
      Object.assign(outputs, got.outputs);
      Object.assign(final, got.final);
    }
    expect(Object.keys(outputs).sort()).toEqual(tensorsOf(m, 'output').map((t) => t.name).sort());
    expect(outputs).toEqual(whole.outputs);
    expect(final).toEqual(whole.final);
  });
});
