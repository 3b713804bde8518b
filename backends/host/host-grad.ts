// The host module's gradient function: `grad<Name>(device, run)` (file `<cell>.grad.ts`, written by
// `rnnc compile --grad`) runs the forward cell saving its states, then the backward cells, on the GPU,
// through the gradient cells' own generated modules (`run<Saving>`, `run<Backward>`, one
// `run<Accumulation>` per param), on the one-cell schedule of `<cell>.grad.json` (src/runtime/bptt.ts
// without checkpoints, staging or the time-sum kernel). It returns the gradients in the contract's
// shapes: per input [batch, T, ...], per param [...] summed over the batch and time, per state the
// initial state's [batch, ...]; and the forward run's outputs and final states. A bidirectional cell
// is its two parts, each with its own cells; their gradients join (runtime/reference/grad-parts.ts).
import { tensorsOf, type Module, type Tensor } from '../../src/compiler/ir/ir.js';
import { tensorSize, type DimSizes } from '../../src/compiler/ir/dims.js';
import type { BackwardRoles } from '../../src/compiler/grad/reverse.js';
import { access, field, formatHostModule, optionalAccess, pascal } from './host-parts.js';

/** One direction's cells: a cell's, or one part's of a bidirectional cell. */
export interface HostGradPart {
  /** The forward cell (or part). */
  cell: Module;
  saving: Module;
  /** Forward state → the saving cell's output holding it before each step. */
  saved: Map<string, string>;
  /** The backward cell (with params split out, the adjoint recurrence). */
  backward: Module;
  roles: BackwardRoles;
  /** Per param with an accumulation cell: the cell and its state, the param's gradient per sequence. */
  accumulations: { param: string; adjoint: string; module: Module }[];
}

/** The generated module's helper for the params the backward step reads transposed. */
const TRANSPOSE = `
/** An [a, b] array as [b, a] (row-major). */
function transpose(m: Float32Array, a: number, b: number): Float32Array {
  const out = new Float32Array(a * b);
  for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) out[j * a + i] = m[i * b + j]!;
  return out;
}
`;

const shapeText = (t: Tensor, sizes: DimSizes, lead: string[]) => `[${[...lead, ...t.dims.map((d) => `${d}=${sizes[d]}`)].join(', ')}]`;

/**
 * The gradient function's module for `cell` (its parts: one, or a bidirectional cell's two). `fileOf`:
 * a gradient cell's host module file, without `.ts` (`lru_saving.scan` for a scan module).
 */
export function hostGradModule(cell: Module, parts: HostGradPart[], sizes: DimSizes, sourcePath: string, fileOf: (cell: string) => string): Promise<string> {
  const P = pascal(cell.name);
  const n = (t: Tensor) => tensorSize(t, sizes);
  const fields = (ts: Tensor[], lead: string[], optional = false) => ts.map((t) => `  /** ${shapeText(t, sizes, lead)} */\n  ${field(t.name)}${optional ? '?' : ''}: Float32Array;`).join('\n');
  const inputs = tensorsOf(cell, 'input');
  const params = tensorsOf(cell, 'param');
  const states = tensorsOf(cell, 'state');
  const outputs = tensorsOf(cell, 'output');
  const imports = parts.flatMap((p) => [p.saving, p.backward, ...p.accumulations.map((a) => a.module)].map((m) => `import { run${pascal(m.name)} } from './${fileOf(m.name)}.js';`));
  const list = (names: string[]) => JSON.stringify(names);

  const partFunction = (p: HostGradPart, k: number) => {
    const m = p.cell;
    const byName = new Map(m.tensors.map((t) => [t.name, t]));
    const size = (name: string) => n(byName.get(name)!);
    // The backward walks the forward's opposite direction: by itself where its direction differs, else on reversed copies.
    const hostReverses = (p.backward.reversed === true) === (m.reversed === true);
    const names = (x: Module, role: Tensor['role']) => tensorsOf(x, role).map((t) => t.name);
    const back = [
      ...tensorsOf(m, 'input').map((x) => `${field(x.name)}: rev(run.inputs${access(x.name)}, ${size(x.name)})`),
      ...p.roles.savedStates.map((r) => `${field(r.input)}: rev(saving.outputs${access(p.saved.get(r.state)!)}, ${size(r.state)})`),
      ...p.roles.upstreamOutputs.map((r) => `${field(r.input)}: rev(run.upstream?.outputs${optionalAccess(r.output)} ?? zeros(batch * T * ${size(r.output)}), ${size(r.output)})`),
    ];
    const backwardStates = new Set(names(p.backward, 'state'));
    const initial = p.roles.stateAdjoints.filter((r) => backwardStates.has(r.adjoint)).map((r) => `${field(r.adjoint)}: run.upstream?.final${optionalAccess(r.state)} ?? zeros(batch * ${size(r.state)})`);
    const accumulated = new Map(p.accumulations.map((a, j) => [a.param, { ...a, result: `acc${j}` }]));
    // The params the backward step reads transposed (BackwardRoles.transposedParams), beside the forward's.
    const transposes = p.roles.transposedParams.map((r) => {
      const [a, b] = byName.get(r.of)!.dims.map((d) => sizes[d]!);
      return `${field(r.param)}: transpose(run.params${access(r.of)}, ${a}, ${b})`;
    });
    const paramsFrom = transposes.length ? 'backParams' : 'run.params';
    const accRuns = p.accumulations.map(
      (a, j) =>
        `const acc${j} = await run${pascal(a.module.name)}(device, { batch, T, inputs: pick({ ...back, ...backward.outputs }, ${list(names(a.module, 'input'))}) as any, params: pick(${paramsFrom}, ${list(names(a.module, 'param'))}) as any, ...(lengths ? { lengths } : {}) });`,
    );
    const paramGrad = (r: BackwardRoles['paramAdjoints'][number]) => {
      const a = accumulated.get(r.param);
      if (a) return `sumBatch(${a.result}.finalState${access(a.adjoint)}, batch)`;
      if (backwardStates.has(r.adjoint)) return `sumBatch(backward.finalState${access(r.adjoint)}, batch)`;
      return `zeros(${size(r.param)})`;
    };
    const initParams = tensorsOf(m, 'state').flatMap((s) => (s.init?.kind === 'param' ? [`if (!run.initialState${optionalAccess(s.name)}) addTo(params${access(s.init.name)}, sumBatch(initial${access(s.name)}, batch));`] : []));
    return `
/** The ${m.reversed ? 'reversed' : 'forward'} ${parts.length > 1 ? `part (${m.name})` : 'cell'}: saving forward, then the backward cells${hostReverses ? ' on its steps reversed here' : ' (walking time the other way themselves)'}. */
async function part${k}(device: GPUDevice, run: ${P}GradRun): Promise<Grads> {
  const { batch, T, lengths } = run;
  const rev = (a: Float32Array, n: number) => ${hostReverses ? 'reverseSteps(a, batch, T, n, lengths)' : 'a'};
  const saving = await run${pascal(p.saving.name)}(device, { batch, T, inputs: pick(run.inputs, ${list(names(m, 'input'))}) as any, params: pick(run.params, ${list(names(m, 'param'))}) as any, ...(run.initialState ? { initialState: pick(run.initialState, ${list(names(m, 'state'))}) as any } : {}), ...(lengths ? { lengths } : {}) });
  const back: Record<string, Float32Array> = { ${back.join(', ')} };
  ${transposes.length ? `const backParams: Record<string, Float32Array> = { ...run.params, ${transposes.join(', ')} };\n  ` : ''}const backward = await run${pascal(p.backward.name)}(device, { batch, T, inputs: pick(back, ${list(names(p.backward, 'input'))}) as any, params: pick(${paramsFrom}, ${list(names(p.backward, 'param'))}) as any, initialState: { ${initial.join(', ')} } as any, ...(lengths ? { lengths } : {}) });
  ${accRuns.join('\n  ')}
  const initial: Record<string, Float32Array> = { ${p.roles.stateAdjoints.map((r) => `${field(r.state)}: backward.finalState${access(r.adjoint)}`).join(', ')} };
  const params: Record<string, Float32Array> = { ${p.roles.paramAdjoints.map((r) => `${field(r.param)}: ${paramGrad(r)}`).join(', ')} };
  ${initParams.join('\n  ')}
  return {
    inputs: { ${p.roles.inputAdjoints.map((r) => `${field(r.input)}: rev(backward.outputs${access(r.adjoint)}, ${size(r.input)})`).join(', ')} },
    params,
    initial,
    outputs: pick(saving.outputs, ${list(names(m, 'output'))}),
    finalState: pick(saving.finalState, ${list(names(m, 'state'))}),
  };
}`;
  };

  const code = `// ${cell.name}.grad.ts: the gradient function generated by rnnc from ${sourcePath}; do not edit.
// grad${P} runs the saving forward cell, then the backward cells, through their generated modules
// (the schedule of ${cell.name}.grad.json, without checkpoints). Layouts are row-major float32.
${imports.join('\n')}

export interface ${P}GradRun {
  batch: number;
  T: number;
  inputs: {
${fields(inputs, ['batch', 'T'])}
  };
  params: {
${fields(params, [])}
  };
  /** Initial state per sequence; a missing state starts at the spec's initial value. */
  initialState?: {
${fields(states, ['batch'], true)}
  };
  /** Steps per sequence (default T): no gradient flows from later steps. */
  lengths?: Int32Array;
  /** The upstream gradients (of the loss Σ upstream · outputs + Σ upstream · final states); a missing one is 0. */
  upstream?: {
    outputs?: {
${fields(outputs, ['batch', 'T'], true)}
    };
    final?: {
${fields(states, ['batch'], true)}
    };
  };
}

export interface ${P}Gradients {
  /** Per input, its gradient: 0 past a sequence's length. */
  inputs: {
${fields(inputs, ['batch', 'T'])}
  };
  /** Per param, its gradient summed over the batch and time (a param that initialises a state also gets that state's gradient where no initial state was given). */
  params: {
${fields(params, [])}
  };
  /** Per state, the gradient of its initial value. */
  initial: {
${fields(states, ['batch'])}
  };
  /** The forward run's outputs and final states. */
  outputs: {
${fields(outputs, ['batch', 'T'])}
  };
  finalState: {
${fields(states, ['batch'])}
  };
}

type Grads = { [K in keyof ${P}Gradients]: Record<string, Float32Array> };

const zeros = (n: number) => new Float32Array(n);

/** The named arrays of a record that has them. */
function pick(from: object | undefined, names: string[]): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const name of names) {
    const a = (from as Record<string, Float32Array> | undefined)?.[name];
    if (a) out[name] = a;
  }
  return out;
}

/** Each sequence's valid steps of a [batch, T, n] array in reverse order (its own inverse); later steps 0. */
function reverseSteps(a: Float32Array, batch: number, T: number, n: number, lengths?: Int32Array): Float32Array {
  const out = new Float32Array(batch * T * n);
  for (let b = 0; b < batch; b++) {
    const length = Math.max(0, Math.min(T, lengths ? lengths[b]! : T));
    for (let t = 0; t < length; t++) out.set(a.subarray((b * T + t) * n, (b * T + t + 1) * n), (b * T + length - 1 - t) * n);
  }
  return out;
}

/** A [batch, ...] array summed over the batch (in float64). */
function sumBatch(a: Float32Array, batch: number): Float32Array {
  const n = a.length / batch;
  const sum = new Float64Array(n);
  for (let b = 0; b < batch; b++) for (let i = 0; i < n; i++) sum[i]! += a[b * n + i]!;
  return Float32Array.from(sum);
}

function addTo(into: Float32Array, a: Float32Array): void {
  for (let i = 0; i < into.length; i++) into[i]! += a[i]!;
}
${parts.some((p) => p.roles.transposedParams.length) ? TRANSPOSE : ''}${parts.map(partFunction).join('\n')}

/** The gradients of Σ upstream · outputs + Σ upstream · final states with respect to the inputs, params and initial states, and the forward results. */
export async function grad${P}(device: GPUDevice, run: ${P}GradRun): Promise<${P}Gradients> {
  const { batch, T } = run;
  const parts: Grads[] = [];
  ${parts.map((_, k) => `parts.push(await part${k}(device, run));`).join('\n  ')}
  // An input's and a param's gradient: the sum of the parts' (0 where none reads it).
  const sum = (kind: 'inputs' | 'params', name: string, length: number) => {
    const total = zeros(length);
    for (const p of parts) if (p[kind][name]) addTo(total, p[kind][name]!);
    return total;
  };
  const joined = (kind: 'initial' | 'outputs' | 'finalState') => Object.assign({}, ...parts.map((p) => p[kind]));
  return {
    inputs: { ${inputs.map((x) => `${field(x.name)}: sum('inputs', ${JSON.stringify(x.name)}, batch * T * ${n(x)})`).join(', ')} },
    params: { ${params.map((x) => `${field(x.name)}: sum('params', ${JSON.stringify(x.name)}, ${n(x)})`).join(', ')} },
    initial: joined('initial'),
    outputs: joined('outputs'),
    finalState: joined('finalState'),
  };
}
`;
  return formatHostModule(code);
}
