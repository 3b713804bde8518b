// Gradients of reversed and bidirectional cells on the reference interpreter (CPU): the tape against
// central differences of the float64 loss, and the compiler's backward steps run on the shared BPTT
// schedule (a reversed cell's backward walks time forward; a bidirectional cell as its two parts,
// their gradients joined) against the tape, with and without checkpoints.
import { describe, expect, it } from 'vitest';
import { bindDims } from '../../src/compiler/ir/dims.js';
import { differentiate } from '../../src/compiler/grad/reverse.js';
import { interpretGrad } from '../../src/runtime/reference/grad.js';
import { interpretBackward } from '../../src/runtime/reference/grad-step.js';
import { casesFor, checkFiniteDifferences } from './helpers.js';
import { directionCells, moduleOf } from './directions-cells.js';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { plan } from '../../src/driver/compile.js';
import { gradFiles, planGrad } from '../../src/driver/grad.js';
import { gradReport, referenceGradients } from '../../src/cli/grad.js';
import { passes, runPipeline } from '../../src/driver/pipeline.js';
import { SourceFile } from '../../src/compiler/diagnostics/render.js';

function expectClose(what: string, a: Float64Array, b: Float64Array | undefined): void {
  expect(b, what).toBeDefined();
  expect(b!.length, what).toBe(a.length);
  const scale = Math.max(1, ...Array.from(a, Math.abs));
  for (let i = 0; i < a.length; i++) if (!(Math.abs(a[i]! - b![i]!) <= 1e-12 * scale)) throw new Error(`${what}[${i}]: tape ${a[i]}, pass ${b![i]} (scale ${scale})`);
}

describe.each(directionCells)('%s', (_label, text) => {
  const m = moduleOf(text);
  const cases = casesFor(m, bindDims(m));

  it.each(cases.map((c) => [c.label, c] as const))('%s: the tape equals central differences; the backward steps equal the tape', async (label, c) => {
    const tape = interpretGrad(m, c.shape, c.data, c.upstream);
    checkFiniteDifferences(m, c, tape, `${m.name} ${label}`);
    const pass = await interpretBackward(m, c.shape, c.data, c.upstream);
    for (const kind of ['inputs', 'params', 'initial'] as const) {
      expect(Object.keys(pass[kind]).sort(), kind).toEqual(Object.keys(tape[kind]).sort());
      for (const [name, a] of Object.entries(tape[kind])) expectClose(`${kind} ${name}`, a, pass[kind][name]);
    }
    for (const [name, a] of Object.entries(tape.forward.outputs)) expectClose(`output ${name}`, a, pass.forward.outputs[name]);
    for (const [name, a] of Object.entries(tape.forward.final)) expectClose(`final ${name}`, a, pass.forward.final[name]);
  });

  it('checkpoints (segments run in the cell direction, last first backward) change nothing, to the bit', async () => {
    const c = cases[2]!;
    const all = await interpretBackward(m, c.shape, c.data, c.upstream);
    for (const C of [1, 4, 5]) {
      const checkpointed = await interpretBackward(m, c.shape, c.data, c.upstream, undefined, { checkpoint: C });
      for (const kind of ['inputs', 'params', 'initial'] as const) expect(checkpointed[kind], `C = ${C}: ${kind}`).toEqual(all[kind]);
      expect(checkpointed.forward).toEqual(all.forward);
    }
  });
});

describe('the pass and time directions', () => {
  it('differentiates a reversed cell (the step is the same either way) and refuses a fused bidirectional one, naming the split', () => {
    const [[, reversed], , [, bidirectional]] = directionCells as [[string, string], [string, string], [string, string]];
    expect(differentiate(moduleOf(reversed)).module.reversed).toBeUndefined();
    expect(() => differentiate(moduleOf(bidirectional))).toThrow(/two parts \(splitDirections\)/);
  });
});

describe('rnnc run --grad and compile --grad on a bidirectional cell (planned, not run)', () => {
  const m = moduleOf(directionCells[2]![1]);
  const g = planGrad(plan(m, analyse(m).analysis, { mode: 'seq' }), 'seq');

  it("--json's grad section reports each part's backward kernels and direction", () => {
    const report = gradReport(g, undefined, {}, []);
    expect(report.parts?.map((p) => [p.direction, p.name, p.backward.mode, p.backward.direction])).toEqual([
      ['forward', 'bimamba_forward', 'seq', 'reversed'],
      ['reversed', 'bimamba_reversed', 'seq', 'forward'],
    ]);
  });

  it("--verify's reference (referenceGradients) is the tape's gradients of the whole cell", async () => {
    const c = casesFor(m, bindDims(m))[1]!;
    const ref = await referenceGradients(g, c.shape, c.data, c.upstream);
    const tape = interpretGrad(m, c.shape, c.data, c.upstream);
    for (const kind of ['inputs', 'params', 'initial'] as const) for (const [name, a] of Object.entries(tape[kind])) expectClose(`${kind} ${name}`, a, ref[kind][name]);
  });

  it("compile --grad writes each part's cells and schedule, and the cell's schedule names them", async () => {
    const files = await gradFiles(g, 'examples/bimamba.rnn');
    const names = files.map((f) => f.name);
    for (const part of ['bimamba_forward', 'bimamba_reversed']) for (const suffix of ['.grad.json', '_saving.wgsl', '_grad.wgsl']) expect(names).toContain(part + suffix);
    const schedule = JSON.parse(files.find((f) => f.name === 'bimamba.grad.json')!.text);
    expect(schedule.parts.map((p: { schedule: string }) => p.schedule)).toEqual(['bimamba_forward.grad.json', 'bimamba_reversed.grad.json']);
  });
});

describe('explain --after grad on time directions', () => {
  it('prints a bidirectional cell as its two parts, each differentiated', () => {
    const { state, reached } = runPipeline(new SourceFile('bimamba.rnn', directionCells[2]![1]), 'grad');
    expect(reached).toBe('grad');
    const text = passes.find((p) => p.name === 'grad')!.print(state);
    expect(text).toContain('; the part bimamba_forward');
    expect(text).toContain('; the part bimamba_reversed');
    expect(text).toContain('rnn bimamba_reversed_grad');
  });

  it('prints a reversed cell differentiated', () => {
    const { state, reached } = runPipeline(new SourceFile('lru_rev.rnn', directionCells[1]![1]), 'grad');
    expect(reached).toBe('grad');
    expect(passes.find((p) => p.name === 'grad')!.print(state)).toContain('rnn lru_rev_grad');
  });
});
