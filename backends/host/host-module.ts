// The typed TypeScript host module written next to a generated sequential kernel: `stream<Name>`
// compiles the kernel once and keeps params and state on the GPU, so a sequence runs in pieces
// (`run`), one step at a time (`step`, for decoding after a parallel prefill handed over with
// `setState`), with the state read back only when asked; `run<Name>` is one piece of a new stream.
// Pipelines and buffers come from the shared runtime (`rnnc/runtime`: compiled once per device,
// pooled across calls), which uses WebGPU alone, so the module runs in a browser as well as under
// Node's `webgpu`. Where the plan runs the step as a kernel of its own (SeqStepKernel: a dispatch
// per step, the states swapping between two buffers kept for the stream's life), the module runs
// that kernel instead of the loop. The text it shares with the scan and chunk host modules is in
// host-parts.ts.
import type { Module } from '../../src/compiler/ir/ir.js';
import type { SeqKernel } from '../wgsl-seq/emit.js';
import { HALF_ROLES } from '../wgsl-seq/layout.js';
import { tensorsOf } from '../../src/compiler/ir/ir.js';
import {
  access,
  checkFunctionText,
  formatHostModule,
  headerText,
  bufferBytesText,
  halfFeatureCheckText,
  pascal,
  readResultsText,
  runtimeImportText,
  runtimeNames,
  runTypesText,
  scaleCode,
  seqLayoutPackingText,
  seqLayoutSlicesText,
  templateText,
} from './host-parts.js';

/** `half`: the kernel stores inputs, params and outputs as f16 (the plan's f16-storage precision; HALF_ROLES). */
export async function hostModule(m: Module, k: SeqKernel, sourcePath: string, { half = false }: { half?: boolean } = {}): Promise<string> {
  // Only the staged backward's rest keeps its locals in a storage buffer, and the driver runs it: no host module has the buffer.
  if (k.locals) throw new Error(`host module: ${m.name} keeps its lets and states in a storage buffer (SeqKernel.locals), which generated host modules do not allocate`);
  const T = pascal(m.name);
  const buffers = k.layout.buffers;
  const has = (role: string) => buffers.some((b) => b.role === role);
  const elementsOf = (role: string) => {
    const b = buffers.find((x) => x.role === role)!;
    return `${b.perUnit} * ${scaleCode(b.scale)}`;
  };
  const bytesOf = (role: string) => bufferBytesText(elementsOf(role), half && HALF_ROLES.has(role));
  const elements = (dims: string[]) => dims.reduce((n, d) => n * k.dims[d]!, 1);
  // The step kernel, when the plan picked it (never with f16 storage): init, then a dispatch per step.
  const step = k.step && !half ? k.step : undefined;
  const header = step ? step.stateFloats(0) : 0;
  const perSequence = step ? step.stateFloats(1) - header : 0;
  const statesBytes = `(${header} + batch * ${perSequence}) * 4`;
  // Buffers kept for the stream's life (params, state) and those taken from the pool per call (inputs, lengths, outputs).
  const kept = ['uniforms', ...(has('weights') ? ['weightsBuffer'] : []), 'state', 'state_outBuffer', ...(step ? ['statesA', 'statesB'] : [])];
  const bound: Record<string, string> = { inputs: 'inputsBuffer', weights: 'weightsBuffer', state_in: 'state', lengths: 'lengthsBuffer', outputs: 'outputsBuffer', state_out: 'state_outBuffer' };
  // With a pre-pass (the state-independent products of every step, into scratch), each call runs it first.
  const pre = k.prepass && k.scratch ? { ...k.prepass, scratch: k.scratch } : undefined;
  /** A pass's bind group 0 as `[binding, buffer]` pairs. */
  const entries = (bindings: number[], extra: string[] = []) =>
    `[${[
      ...(bindings.includes(0) ? ['[0, uniforms]'] : []),
      ...buffers.filter((b) => bindings.includes(b.binding)).map((b) => `[${b.binding}, ${bound[b.role]}]`),
      ...(pre && bindings.includes(pre.scratch.binding) ? [`[${pre.scratch.binding}, scratchBuffer]`] : []),
      // vec4 views: the same buffer bound again.
      ...k.views.filter((v) => bindings.includes(v.binding)).map((v) => `[${v.binding}, ${bound[v.buffer]}]`),
      ...extra,
    ].join(', ')}]`;
  // A reversed cell's pieces run last first; a bidirectional one reads each sequence both ways, so it runs in one piece.
  const bidirectional = m.tensors.some((t) => t.reversed);
  const directionDoc = m.reversed
    ? `\n *\n * Time runs backward in this cell: each piece runs its steps last first, so a sequence's pieces go in\n * last piece first (the first \`run\` continues from the sequence's end).`
    : bidirectional
      ? `\n *\n * A bidirectional cell reads each sequence in both directions, so a stream runs one piece: after a\n * \`run\` or \`step\`, another throws until \`setState\` starts the sequences again.`
      : '';
  const perCall = ['inputsBuffer', 'lengthsBuffer', ...(has('outputs') ? ['outputsBuffer'] : []), ...(pre ? ['scratchBuffer'] : [])];

  const prepassText = pre
    ? `      // The state-independent part of every step first (one invocation per step).
      { pipeline: prepass, bindings: ${entries(pre.bindings)}, dispatch: grid(Math.ceil((batch * T) / ${pre.rowsPerWorkgroup})) } as const,
`
    : '';
  const loopPassesText = () => `${k.strategy === 'workgroup' && k.sequencesPerWorkgroup > 1 ? `    // A workgroup runs ${k.sequencesPerWorkgroup} sequences in lockstep.\n` : ''}    const groups = ${
    k.strategy === 'invocation'
      ? `Math.ceil((batch * ${k.unitsPerSequence}) / ${k.workgroupSize})`
      : k.sequencesPerWorkgroup > 1
        ? `Math.ceil((batch * ${k.unitsPerSequence}) / ${k.sequencesPerWorkgroup})`
        : `batch * ${k.unitsPerSequence}`
  };
    const passes = [
${prepassText}      { pipeline, bindings: ${entries(k.bindings)}, dispatch: grid(groups) } as const,
    ];`;
  // The step kernel: `init` copies the state into statesA (and state_out: a run without steps), then
  // step t reads statesA/statesB and writes the other; its last step writes state_out too.
  const stepPassesText = (s: NonNullable<SeqKernel['step']>) => `    // ${s.blocks} workgroup${s.blocks > 1 ? 's' : ''} per ${s.tile} sequence${s.tile > 1 ? 's (members past the batch compute and write nothing)' : ''}, one dispatch per step.
    const stepGroups = grid(${s.blocks} * Math.ceil(batch / ${s.tile}));
    const stepBindings = ${entries(s.bindings)} as const;
    const passes = [
${prepassText}      { pipeline: init, bindings: ${entries(s.initBindings, [`[${s.stateNext}, statesA]`])}, dispatch: grid(Math.ceil((batch * ${perSequence}) / ${s.workgroupSize})) } as const,
      // The two state buffers swap every step: step t reads one and writes the other.
      ...Array.from({ length: T }, (_, t) => {
        const [cur, next] = t % 2 === 0 ? [statesA, statesB] : [statesB, statesA];
        return { pipeline, bindings: [...stepBindings, [${s.stateCur}, cur], [${s.stateNext}, next]], dispatch: stepGroups } as const;
      }),
    ];`;

  const code = `
${headerText(m, 'sequential kernel', sourcePath)}
${runtimeImportText(runtimeNames(half))}

${
  step
    ? `/**
 * One step of the cell (entry point \`main\`, dispatched once per step) and \`init\` (the state into the
 * first state buffer, step index 0). The states swap between two buffers every step; their first
 * ${header} floats are a header (the step index, as a float, in the first).
 */
export const ${m.name}StepWgsl = \`${templateText(step.wgsl)}\`;`
    : `export const ${m.name}Wgsl = \`${templateText(k.wgsl)}\`;`
}
${pre ? `\n/** The pre-pass: what does not depend on the state, for every step, into scratch; dispatched before the kernel. */\nexport const ${m.name}ProjectWgsl = \`${templateText(pre.wgsl)}\`;\n` : ''}
${runTypesText(m, k.dims, half)}

export interface ${T}StreamOptions {
  batch: number;
  params: ${T}Params;
  /** The state to start from; a missing state starts at the spec's initial value. */
  initialState?: ${T}State;
}

/**
 * A batch of sequences run in pieces, the state kept on the GPU between calls: \`run\` continues every
 * sequence by T steps, \`step\` by one (token-by-token decoding), \`setState\` starts again from a given
 * state (e.g. the final state of a parallel prefill). Pieces give the result of one long run.${directionDoc}
 */
export interface ${T}Stream {
  readonly batch: number;
  /** Runs T more steps of every sequence (\`lengths\`: fewer for some; those keep their state and output zeros after). */
  run(inputs: ${T}Inputs, T: number, lengths?: Int32Array): Promise<${T}Outputs>;
  /** One more step of every sequence: inputs [batch, 1, ...]. */
  step(inputs: ${T}Inputs): Promise<${T}Outputs>;
  /** The current state, read back. */
  state(): Promise<Required<${T}State>>;
  /** Replaces the current state; a missing state takes the spec's initial value. */
  setState(state?: ${T}State): void;
  /** Frees the GPU buffers; the stream cannot run after. */
  destroy(): void;
}

${checkFunctionText(m)}

/** Compiles the kernel once per device (\`rnnc/runtime\` keeps it) and keeps the params and the state on the GPU for a stream of calls. */
export async function stream${T}(device: GPUDevice, options: ${T}StreamOptions): Promise<${T}Stream> {
  const { batch } = options;
  checkCounts('${m.name}', { batch });${halfFeatureCheckText(m, half)}
${tensorsOf(m, 'param')
  .map((t) => `  check('params.${t.name}', options.params${access(t.name)}, ${elements(t.dims)});`)
  .join('\n')}
${has('weights') ? `  const run = { params: options.params };\n${seqLayoutPackingText(m, buffers, ['weights'], half)}` : ''}

  const gpu = HostGpu.for(device);
${
  step
    ? `  const pipeline = await gpu.pipeline(${m.name}StepWgsl, '${step.entryPoint}');\n  const init = await gpu.pipeline(${m.name}StepWgsl, '${step.initEntryPoint}');`
    : `  const pipeline = await gpu.pipeline(${m.name}Wgsl, '${k.entryPoint}');`
}
${pre ? `  const prepass = await gpu.pipeline(${m.name}ProjectWgsl, '${pre.entryPoint}');\n` : ''}  const uniforms = gpu.buffer(16, UNIFORMS);
${has('weights') ? '  const weightsBuffer = gpu.upload(weights, READ);' : ''}
  const state = gpu.buffer(${bytesOf('state_in')}, WRITE);
  const state_outBuffer = gpu.buffer(${bytesOf('state_out')}, WRITE);${
    step ? `\n  // The step kernel's states: a step reads one and writes the other (header, then the states as \`state\`).\n  const statesA = gpu.buffer(${statesBytes}, WRITE);\n  const statesB = gpu.buffer(${statesBytes}, WRITE);` : ''
  }
  let live = true;${bidirectional ? '\n  let ran = false;' : ''}

  const setState = (initial?: ${T}State) => {${bidirectional ? '\n    ran = false;' : ''}
    const run = { params: options.params, initialState: initial };
${seqLayoutPackingText(m, buffers, ['state_in']).replace(/^/gm, '  ')}
    gpu.write(state, state_in);
  };
  setState(options.initialState);

  const runSteps = async (stepInputs: ${T}Inputs, T: number, given?: Int32Array): Promise<${T}Outputs> => {
    if (!live) throw new Error('${m.name}: the stream was destroyed');${
      bidirectional
        ? `\n    if (ran) throw new Error('${m.name}: a bidirectional cell runs each sequence in one piece: setState() starts the sequences again');\n    ran = true;`
        : ''
    }
    checkCounts('${m.name}', { T });
${tensorsOf(m, 'input')
  .map((t) => `    check('inputs.${t.name}', stepInputs${access(t.name)}, batch * T * ${elements(t.dims)});`)
  .join('\n')}
    const lengths = sequenceLengths('${m.name}', batch, T, given);
    const run = { inputs: stepInputs };
${seqLayoutPackingText(m, buffers, ['inputs'], half).replace(/^/gm, '  ')}
    gpu.write(uniforms, new Uint32Array([batch, T, 0, 0]));
    const inputsBuffer = gpu.upload(inputs, READ);
    const lengthsBuffer = gpu.upload(lengths, READ);
${has('outputs') ? `    const outputsBuffer = gpu.buffer(${bytesOf('outputs')}, WRITE);\n` : ''}${pre ? `    const scratchBuffer = gpu.buffer(${pre.scratch.perStep} * batch * T * 4, WRITE);\n` : ''}${step ? stepPassesText(step) : loopPassesText()}
    // The next call starts where this one ended, without the state leaving the GPU.
    const copies = [[state_outBuffer, state, ${bytesOf('state_out')}]] as const;
${
  has('outputs')
    ? `${readResultsText(['outputs'], `gpu.submit(passes, { copies, reads: [[outputsBuffer, ${half ? `2 * ${elementsOf('outputs')}` : bytesOf('outputs')}]], release: [${perCall.join(', ')}] })`, half ? { outputs: elementsOf('outputs') } : {}).replace(/^/gm, '  ')}
    return ${seqLayoutSlicesText(m, buffers, 'outputs')};`
    : `    // A cell without outputs (a sum over time): only its state, which stays on the GPU.
    await gpu.submit(passes, { copies, release: [${perCall.join(', ')}] });
    return {};`
}
  };

  return {
    batch,
    run: runSteps,
    step: (inputs) => runSteps(inputs, 1),
    async state() {
      if (!live) throw new Error('${m.name}: the stream was destroyed');
${readResultsText(['state_out'], `gpu.submit([], { reads: [[state, ${bytesOf('state_in')}]] })`).replace(/^/gm, '    ')}
      return ${seqLayoutSlicesText(m, buffers, 'state_out')};
    },
    setState,
    destroy() {
      if (!live) return;
      live = false;
      gpu.release(${kept.join(', ')});
    },
  };
}

/** Runs the kernel once over a batch of sequences. */
export async function run${T}(device: GPUDevice, run: ${T}Run): Promise<${T}Result> {
  const { batch, T } = run;
  checkCounts('${m.name}', { batch, T });
  const stream = await stream${T}(device, { batch, params: run.params, ...(run.initialState ? { initialState: run.initialState } : {}) });
  try {
    const outputs = await stream.run(run.inputs, T, run.lengths);
    return { outputs, finalState: await stream.state() };
  } finally {
    stream.destroy();
  }
}
`;
  return formatHostModule(code);
}
