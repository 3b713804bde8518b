// The typed TypeScript host module written next to a generated sequential kernel: `stream<Name>`
// compiles the kernel once and keeps params and state on the GPU, so a sequence runs in pieces
// (`run`), one step at a time (`step`, for decoding after a parallel prefill handed over with
// `setState`), with the state read back only when asked; `run<Name>` is one piece of a new stream. It depends on nothing but WebGPU, so it runs in a browser as well as under Node's `webgpu`.
// The parts it shares with the scan and chunk host modules are in host-parts.ts.
import type { Module } from '../../src/compiler/ir/ir.js';
import type { SeqKernel } from '../wgsl-seq/emit.js';
import { tensorsOf } from '../../src/compiler/ir/ir.js';
import {
  access,
  checkFunctionText,
  formatHostModule,
  headerText,
  pascal,
  readbackText,
  runTypesText,
  scaleCode,
  seqLayoutPackingText,
  seqLayoutSlicesText,
  templateText,
  uploadText,
} from './host-parts.js';

export async function hostModule(m: Module, k: SeqKernel, sourcePath: string): Promise<string> {
  const T = pascal(m.name);
  const buffers = k.layout.buffers;
  const has = (role: string) => buffers.some((b) => b.role === role);
  const bytesOf = (role: string) => {
    const b = buffers.find((x) => x.role === role)!;
    return `${b.perUnit} * ${scaleCode(b.scale)} * 4`;
  };
  const elements = (dims: string[]) => dims.reduce((n, d) => n * k.dims[d]!, 1);
  // Buffers kept for the stream's life (params, state) and those made per call (inputs, lengths, outputs).
  const kept = ['uniforms', ...(has('weights') ? ['weightsBuffer'] : []), 'state', 'state_outBuffer'];
  const bound: Record<string, string> = { inputs: 'inputsBuffer', weights: 'weightsBuffer', state_in: 'state', lengths: 'lengthsBuffer', outputs: 'outputsBuffer', state_out: 'state_outBuffer' };
  // With a pre-pass (the state-independent products of every step, into scratch), each call runs it first.
  const pre = k.prepass && k.scratch ? { ...k.prepass, scratch: k.scratch } : undefined;
  const entries = (bindings: number[]) =>
    [
      ...(bindings.includes(0) ? ['        { binding: 0, resource: { buffer: uniforms } },'] : []),
      ...buffers.filter((b) => bindings.includes(b.binding)).map((b) => `        { binding: ${b.binding}, resource: { buffer: ${bound[b.role]} } },`),
      ...(pre && bindings.includes(pre.scratch.binding) ? [`        { binding: ${pre.scratch.binding}, resource: { buffer: scratchBuffer } },`] : []),
      // vec4 views: the same buffer bound again.
      ...k.views.filter((v) => bindings.includes(v.binding)).map((v) => `        { binding: ${v.binding}, resource: { buffer: ${bound[v.buffer]} } },`),
    ].join('\n');
  const mainBindings = k.bindings;

  const code = `
${headerText(m, 'sequential kernel', sourcePath)}

export const ${m.name}Wgsl = \`${templateText(k.wgsl)}\`;
${pre ? `\n/** The pre-pass: what does not depend on the state, for every step, into scratch; dispatched before the kernel. */\nexport const ${m.name}ProjectWgsl = \`${templateText(pre.wgsl)}\`;\n` : ''}
${runTypesText(m, k.dims)}

export interface ${T}StreamOptions {
  batch: number;
  params: ${T}Params;
  /** The state to start from; a missing state starts at the spec's initial value. */
  initialState?: ${T}State;
}

/**
 * A batch of sequences run in pieces, the state kept on the GPU between calls: \`run\` continues every
 * sequence by T steps, \`step\` by one (token-by-token decoding), \`setState\` starts again from a given
 * state (e.g. the final state of a parallel prefill). Pieces give the result of one long run.
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

/** Compiles the kernel once and keeps the params and the state on the GPU for a stream of calls. */
export async function stream${T}(device: GPUDevice, options: ${T}StreamOptions): Promise<${T}Stream> {
  const { batch } = options;
  if (!(Number.isInteger(batch) && batch >= 1)) throw new Error('${m.name}: batch must be a positive integer');
${tensorsOf(m, 'param')
  .map((t) => `  check('params.${t.name}', options.params${access(t.name)}, ${elements(t.dims)});`)
  .join('\n')}
${has('weights') ? `  const run = { params: options.params };\n${seqLayoutPackingText(m, buffers, ['weights'])}` : ''}

${uploadText}
  const uniforms = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
${has('weights') ? '  const weightsBuffer = upload(weights, usage.read);' : ''}
  const state = device.createBuffer({ size: ${bytesOf('state_in')}, usage: usage.read | GPUBufferUsage.COPY_SRC });
  const state_outBuffer = device.createBuffer({ size: ${bytesOf('state_out')}, usage: usage.write });
  const module = device.createShaderModule({ code: ${m.name}Wgsl });
  const pipeline = await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: '${k.entryPoint}' } });
${pre ? `  const prepass = await device.createComputePipelineAsync({ layout: 'auto', compute: { module: device.createShaderModule({ code: ${m.name}ProjectWgsl }), entryPoint: '${pre.entryPoint}' } });
` : ''}  let live = true;

  const setState = (initial?: ${T}State) => {
    const run = { params: options.params, initialState: initial };
${seqLayoutPackingText(m, buffers, ['state_in']).replace(/^/gm, '  ')}
    device.queue.writeBuffer(state, 0, state_in);
  };
  setState(options.initialState);

  const runSteps = async (stepInputs: ${T}Inputs, T: number, given?: Int32Array): Promise<${T}Outputs> => {
    if (!live) throw new Error('${m.name}: the stream was destroyed');
    if (!(Number.isInteger(T) && T >= 1)) throw new Error('${m.name}: T must be a positive integer');
${tensorsOf(m, 'input')
  .map((t) => `    check('inputs.${t.name}', stepInputs${access(t.name)}, batch * T * ${elements(t.dims)});`)
  .join('\n')}
    const lengths = new Uint32Array(batch).fill(T);
    if (given) {
      check('lengths', given, batch);
      given.forEach((n, b) => {
        if (!(n >= 0)) throw new Error(\`${m.name}: lengths[\${b}] is negative\`);
        lengths[b] = Math.min(n, T);
      });
    }
    const run = { inputs: stepInputs };
${seqLayoutPackingText(m, buffers, ['inputs']).replace(/^/gm, '  ')}
    device.queue.writeBuffer(uniforms, 0, new Uint32Array([batch, T, 0, 0]));
    const inputsBuffer = upload(inputs, usage.read);
    const lengthsBuffer = upload(lengths, usage.read);
${has('outputs') ? `    const outputsBuffer = device.createBuffer({ size: ${bytesOf('outputs')}, usage: usage.write });
` : ''}${pre ? `    const scratchBuffer = device.createBuffer({ size: ${pre.scratch.perStep} * batch * T * 4, usage: GPUBufferUsage.STORAGE });
` : ''}    const bindGroup = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [
${entries(mainBindings)}
      ],
    });
    const groups = ${k.strategy === 'workgroup' ? `batch * ${k.unitsPerSequence}` : `Math.ceil((batch * ${k.unitsPerSequence}) / ${k.workgroupSize})`};
    const x = Math.min(groups, 65535);
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
${
  pre
    ? `    // The state-independent part of every step first (one invocation per step).
    const rows = Math.ceil((batch * T) / ${pre.workgroupSize});
    pass.setPipeline(prepass);
    pass.setBindGroup(
      0,
      device.createBindGroup({
        layout: prepass.getBindGroupLayout(0),
        entries: [
${entries(pre.bindings).replace(/^/gm, '    ')}
        ],
      }),
    );
    pass.dispatchWorkgroups(Math.min(rows, 65535), Math.ceil(rows / Math.min(rows, 65535)), 1);
`
    : ''
}    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, Math.ceil(groups / x), 1);
    pass.end();
    // The next call starts where this one ended, without the state leaving the GPU.
    encoder.copyBufferToBuffer(state_outBuffer, 0, state, 0, ${bytesOf('state_out')});
${
  has('outputs')
    ? `${readbackText.replace(/^/gm, '  ')}
    const outputsRead = readback(outputsBuffer, ${bytesOf('outputs')});
    device.queue.submit([encoder.finish()]);
    await outputsRead.mapAsync(GPUMapMode.READ);
    const outputs = new Float32Array(outputsRead.getMappedRange().slice(0));
    for (const b of [outputsRead, inputsBuffer, lengthsBuffer, outputsBuffer${pre ? ', scratchBuffer' : ''}]) b.destroy();
    return ${seqLayoutSlicesText(m, buffers, 'outputs')};`
    : `    // A cell without outputs (a sum over time): only its state, which stays on the GPU.
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
    for (const b of [inputsBuffer, lengthsBuffer${pre ? ', scratchBuffer' : ''}]) b.destroy();
    return {};`
}
  };

  return {
    batch,
    run: runSteps,
    step: (inputs) => runSteps(inputs, 1),
    async state() {
      if (!live) throw new Error('${m.name}: the stream was destroyed');
      const encoder = device.createCommandEncoder();
${readbackText.replace(/^/gm, '    ')}
      const stateRead = readback(state, ${bytesOf('state_in')});
      device.queue.submit([encoder.finish()]);
      await stateRead.mapAsync(GPUMapMode.READ);
      const state_out = new Float32Array(stateRead.getMappedRange().slice(0));
      stateRead.destroy();
      return ${seqLayoutSlicesText(m, buffers, 'state_out')};
    },
    setState,
    destroy() {
      live = false;
      for (const b of [${kept.join(', ')}]) b.destroy();
    },
  };
}

/** Runs the kernel once over a batch of sequences. */
export async function run${T}(device: GPUDevice, run: ${T}Run): Promise<${T}Result> {
  const { batch, T } = run;
  if (!(Number.isInteger(batch) && batch >= 1 && Number.isInteger(T) && T >= 1)) throw new Error('${m.name}: batch and T must be positive integers');
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
