// Maps over time whose outputs are products of params with a step's vectors. The inputs' gradients
// of a split backward (src/compiler/grad/split.ts, `inputs.map`) read the state only through the
// carried gate adjoints: LSTM's `d_x[j] = Σ_g Σ_k W_g_T[j, k] · d_g[k]` is, over all steps, a matrix
// product [steps, 4H] × [4H, X]. In the backward loop it doubled the step's work (LSTM X = H = 128:
// the loop 1,110 ms with it, 606 without); the time-sum kernel unrolls every output point into one
// invocation, which stops at a few hundred terms a step.
//
// Here a workgroup takes ROWS output points and WORKGROUP steps (one per invocation); each invocation
// keeps ROWS sums in registers and writes its step's ROWS points. Steps past a sequence's length are 0.
// With subgroups (of at least 8) and a reduction of whole blocks of 32 floats, as the seq pre-pass
// does (backends/wgsl-seq/prepass-subgroup.ts): each lane holds 8 quads of its step's vector, and for
// each point the subgroup loads 8 consecutive weight quads of its row, a lane each, and hands them
// round with `subgroupBroadcast`: lavapipe loads an address lane by lane even where every invocation
// reads the same one. Without them every invocation loads each weight itself.
import type { Def, Module, Node } from '../../src/compiler/ir/ir.js';
import { tensorSize, type DimSizes } from '../../src/compiler/ir/dims.js';
import { flatWorkgroupIndex, gridDispatch, MAX_WORKGROUPS_PER_DIMENSION } from '../lower/grid.js';
import { arrayOf, assign, bin, call, emptyModule, f32, forRange, id, ifS, index, letS, lit, member, named, u32, varS, vec, workgroupEntry, type Expr, type Stmt } from '../wgsl/ast.js';
import { printModule } from '../wgsl/print.js';
import { joinPieces, paramsBuffer, pieceLengths, stepsOf, timePieces, type CompiledTimeSum, type TimeSumResult } from './time-sum.js';
import { BROADCAST_LANES } from './outer-sum.js';
import type { GpuBufferSpec, GpuPass } from '../job.js';

/** Steps per workgroup, one per invocation. */
const WORKGROUP = 64;
/** Output points a workgroup computes: one register each per invocation. */
const ROWS = 16;
const SIZES_BYTES = 16;
/** The floats of a block of the reduction: a weight quad for each of the BROADCAST_LANES lanes. */
const BLOCK = 4 * BROADCAST_LANES;

/** One term `Σ_k param[j…, k] · input[k]` of an output point j…. */
interface Term {
  param: string;
  input: string;
  /** The reduced dimension's size (the input's elements). */
  length: number;
}

/** An output `out[j…] = Σ_terms Σ_k param[j…, k] · input[k]`. */
export interface WeightsOutput {
  output: string;
  size: number;
  terms: Term[];
}

/** The leaves of a sum of terms (an `add` tree). */
function addends(d: Def, k: number): number[] {
  const n = d.nodes[k]!;
  return n.op === 'binary' && n.fn === 'add' ? [...addends(d, n.args[0]), ...addends(d, n.args[1])] : [k];
}

/** `reduce.sum k (param[vars…, k] · input[k])` in either operand order, or undefined. */
function termOf(m: Module, d: Def, k: number, sizes: DimSizes): Term | undefined {
  const r = d.nodes[k]!;
  if (r.op !== 'reduce' || r.fn !== 'sum') return undefined;
  const product = d.nodes[r.args[0]]!;
  if (product.op !== 'binary' || product.fn !== 'mul') return undefined;
  const loads = product.args.map((a) => d.nodes[a]!) as Node[];
  const param = loads.find((l) => l.op === 'load' && l.source === 'param');
  const input = loads.find((l) => l.op === 'load' && l.source === 'input');
  if (param?.op !== 'load' || input?.op !== 'load') return undefined;
  const vars = d.vars.map((v) => v.name);
  if (input.index.length !== 1 || input.index[0] !== r.over.name) return undefined;
  if (param.index.join(',') !== [...vars, r.over.name].join(',')) return undefined;
  const tensor = (name: string) => m.tensors.find((t) => t.name === name)!;
  if (tensor(input.tensor).dims.length !== 1 || tensor(param.tensor).dims.length !== vars.length + 1) return undefined;
  return { param: param.tensor, input: input.tensor, length: sizes[r.over.dim]! };
}

/**
 * The weights-map form of a cell: no state, and every output a sum of terms `Σ_k param[j…, k] ·
 * input[k]`; undefined where it is not one.
 */
export function weightsMapForm(m: Module, sizes: DimSizes): WeightsOutput[] | undefined {
  if (m.monoid || m.reversed || m.tensors.some((t) => t.role === 'state')) return undefined;
  const outputs: WeightsOutput[] = [];
  for (const d of m.step) {
    if (d.kind === 'let') continue;
    if (d.kind !== 'output') return undefined;
    const terms = addends(d, d.root).map((k) => termOf(m, d, k, sizes));
    if (terms.some((t) => !t)) return undefined;
    outputs.push({ output: d.target, size: tensorSize(m.tensors.find((t) => t.name === d.target)!, sizes), terms: terms as Term[] });
  }
  return outputs.length ? outputs : undefined;
}

/** The kernel of one output: ROWS of its points for WORKGROUP steps per workgroup. */
/** Whether an output takes the subgroup form: every reduction whole blocks (its params' offsets are then quads too: compileWeightsMap). */
const blocked = (o: WeightsOutput) => o.terms.every((t) => t.length % BLOCK === 0);

function kernelOf(o: WeightsOutput, label: string, paramOffset: Map<string, number>, inputs: string[], subgroups: boolean): { label: string; code: string; rowBlocks: number; broadcast: boolean } {
  const perGroup = Math.min(ROWS, o.size);
  const rowBlocks = Math.ceil(o.size / perGroup);
  const u = lit.u32;
  const sizes = (name: string) => member(id('sizes'), name);
  // The tail block's rows past the output read its last point's weights and are not written.
  const rowOf = (r: Expr): Expr => (o.size % perGroup === 0 ? bin('+', id('j0'), r) : call('min', bin('+', id('j0'), r), u(o.size - 1)));
  const rowAt = (r: number): Expr => rowOf(u(r));
  const plainSum = (term: Term, n: number): Stmt => {
    const k = `k${n}`;
    const x = index(id(`in_${inputs.indexOf(term.input)}`), bin('+', bin('*', id('row'), u(term.length)), id(k)));
    const weight = (r: number) => index(id('params'), bin('+', bin('*', rowAt(r), u(term.length)), bin('+', u(paramOffset.get(term.param)!), id(k))));
    return forRange(k, u(0), u(term.length), [letS(`x${n}`, x), ...Array.from({ length: perGroup }, (_, r) => assign(id(`acc_${r}`), bin('+', id(`acc_${r}`), bin('*', weight(r), id(`x${n}`)))))]);
  };
  // A block of 32 floats of the reduction at a time: the step's 8 quads per lane, then per point the
  // row's 8 weight quads, a lane each (consecutive: one vector load), broadcast and dotted.
  const broadcastSum = (term: Term, n: number): Stmt => {
    const kb = `kb${n}`;
    const quads = term.length / 4;
    const x = (i: number) => index(id(`in4_${inputs.indexOf(term.input)}`), bin('+', bin('+', bin('*', id('row'), u(quads)), bin('*', id(kb), u(BROADCAST_LANES))), u(i)));
    const weights = (r: string) => index(id('params4'), bin('+', bin('+', bin('+', bin('*', rowOf(id(r)), u(quads)), u(paramOffset.get(term.param)! / 4)), bin('*', id(kb), u(BROADCAST_LANES))), id('sid')));
    const r = `r${n}`;
    const dots = Array.from({ length: BROADCAST_LANES }, (_, i) => call('dot', call('subgroupBroadcast', id('wq'), u(i)), id(`x${n}_${i}`)));
    const row: Stmt[] = [letS('wq', weights(r)), assign(index(id('acc'), id(r)), dots.reduce((sum, d) => bin('+', sum, d), index(id('acc'), id(r)) as Expr))];
    // Both loops bounded by a uniform the compiler cannot see is 0, so that Mesa keeps them loops (all
    // unrolled, H = 128's took 9-12 s to compile cold) while the broadcasts stay in uniform control flow.
    const kept = (count: number) => bin('+', u(count), sizes('zero'));
    return forRange(kb, u(0), kept(term.length / BLOCK), [...Array.from({ length: BROADCAST_LANES }, (_, i) => letS(`x${n}_${i}`, x(i))), forRange(r, u(0), kept(perGroup), row)]);
  };
  const broadcast = subgroups && blocked(o);
  const sums: Stmt[] = o.terms.map((term, n) => (broadcast ? broadcastSum(term, n) : plainSum(term, n)));
  const writes = Array.from({ length: perGroup }, (_, r): Stmt => {
    const acc = broadcast ? index(id('acc'), u(r)) : id(`acc_${r}`);
    const store = assign(index(id('out'), bin('+', bin('*', id('row'), u(o.size)), bin('+', id('j0'), u(r)))), call('select', lit.f32(0), acc, bin('<', id('t'), id('len'))));
    return o.size % perGroup === 0 ? store : ifS(bin('<', bin('+', id('j0'), u(r)), u(o.size)), [store]);
  });
  const body: Stmt[] = [
    letS('w', flatWorkgroupIndex()),
    letS('j0', bin('*', bin('%', id('w'), u(rowBlocks)), u(perGroup))),
    letS('tb', bin('/', id('w'), u(rowBlocks))),
    letS('blocks', bin('/', bin('+', sizes('T'), u(WORKGROUP - 1)), u(WORKGROUP))),
    letS('b', bin('/', id('tb'), id('blocks'))),
    ifS(bin('>=', id('b'), sizes('seqs')), [{ kind: 'return' }]),
    letS('t', bin('+', bin('*', bin('%', id('tb'), id('blocks')), u(WORKGROUP)), id('lid'))),
    // Broadcasting, every lane takes part: a lane past the sequence computes on its last step, writing nothing.
    ...(broadcast ? [] : [ifS(bin('>=', id('t'), sizes('T')), [{ kind: 'return' }])]),
    letS('len', call('min', index(id('lengths'), id('b')), sizes('T'))),
    letS('row', bin('+', bin('*', id('b'), sizes('T')), broadcast ? call('min', id('t'), bin('-', sizes('T'), u(1))) : id('t'))),
    ...(broadcast ? [varS('acc', arrayOf(f32, perGroup))] : Array.from({ length: perGroup }, (_, r) => varS(`acc_${r}`, f32, lit.f32(0)))),
    ...sums,
    ...(broadcast ? [ifS(bin('<', id('t'), sizes('T')), writes)] : writes),
  ];
  const entry = workgroupEntry(WORKGROUP, body);
  const code = printModule({
    ...emptyModule(),
    ...(broadcast ? { enables: ['subgroups'] } : {}),
    header: `${label}: per step, ${o.output} = ${o.terms.map((t) => `${t.param} · ${t.input}`).join(' + ')}; ${perGroup} of its ${o.size} points per workgroup, a step per invocation${broadcast ? `, the weights ${BROADCAST_LANES} quads at a time, a lane each, broadcast` : ''}`,
    structs: [{ name: 'Sizes', members: ['T', 'seqs', 'zero', 'pad'].map((name) => ({ name, type: u32 })) }],
    globals: [
      { name: 'sizes', space: 'uniform', type: named('Sizes'), group: 0, binding: 0 },
      { name: 'lengths', space: 'storage', access: 'read', type: arrayOf(u32), group: 0, binding: 1 },
      broadcast ? { name: 'params4', space: 'storage', access: 'read', type: arrayOf(vec(4, f32)), group: 0, binding: 2 } : { name: 'params', space: 'storage', access: 'read', type: arrayOf(f32), group: 0, binding: 2 },
      { name: 'out', space: 'storage', access: 'read_write', type: arrayOf(f32), group: 0, binding: 3 },
      ...inputs.map((_, i) => ({ name: broadcast ? `in4_${i}` : `in_${i}`, space: 'storage' as const, access: 'read' as const, type: arrayOf(broadcast ? vec(4, f32) : f32), group: 0, binding: 4 + i })),
    ],
    entryPoints: [broadcast ? { ...entry, params: [...entry.params, { name: 'sid', type: u32, attributes: ['builtin(subgroup_invocation_id)'] }] } : entry],
  });
  return { label, code, rowBlocks, broadcast };
}

/**
 * A cell that `weightsMapForm` takes, as one job: a shader per output, a pass per output and piece of
 * time. `subgroups`: the device has subgroups of at least BROADCAST_LANES (the plan's target).
 */
export function compileWeightsMap(m: Module, sizes: DimSizes, label = 'weights_map', subgroups = false): CompiledTimeSum {
  const form = weightsMapForm(m, sizes);
  if (!form) throw new Error(`compileWeightsMap: ${m.name} is not a map of params times a step's vectors`);
  const paramOffset = new Map<string, number>();
  let paramFloats = 0;
  for (const t of m.tensors)
    if (t.role === 'param') {
      paramOffset.set(t.name, paramFloats);
      paramFloats += 4 * Math.ceil(tensorSize(t, sizes) / 4); // quads: the subgroup form reads them as vec4s
    }
  const kernels = form.map((o) => {
    const inputs = [...new Set(o.terms.map((t) => t.input))];
    return { o, inputs, ...kernelOf(o, `${label}.${m.name}_${o.output}`, paramOffset, inputs, subgroups) };
  });
  const shaders = kernels.map((k) => ({ label: k.label, code: k.code, entryPoint: 'main' }));
  const inputSize = new Map(form.flatMap((o) => o.terms.map((t) => [t.input, t.length] as const)));
  return {
    shaders,
    prepare({ batch, T }, limits) {
      const pieces = timePieces(T, batch, Math.max(...inputSize.values(), ...form.map((o) => o.size)), limits.maxStorageBufferBindingSize);
      const maxPerDim = limits.maxComputeWorkgroupsPerDimension ?? MAX_WORKGROUPS_PER_DIMENSION;
      const outName = (p: number, name: string) => `out_${name}_${p}`;
      return {
        pieces: pieces.length,
        job(data) {
          const buffers: GpuBufferSpec[] = [paramsBuffer(paramOffset, paramFloats, data.params)];
          const passes: GpuPass[] = [];
          pieces.forEach(({ t0, steps }, p) => {
            buffers.push(pieceLengths(`lengths_${p}`, batch, T, t0, steps, data.lengths));
            buffers.push({ name: `sizes_${p}`, bytes: SIZES_BYTES, usage: 'uniform', data: Uint32Array.of(steps, batch, 0, 0) });
            for (const [name, size] of inputSize) {
              const slice = stepsOf(data.inputs[name]!, batch, T, size, t0, steps);
              buffers.push({ name: `in_${name}_${p}`, bytes: Math.max(4, slice.byteLength), usage: 'storage-read', data: slice });
            }
            for (const k of kernels) {
              buffers.push({ name: outName(p, k.o.output), bytes: Math.max(4, 4 * batch * steps * k.o.size), usage: 'storage', read: true });
              passes.push({
                shader: k.label,
                label: `${k.label} piece ${p}`,
                bindings: [
                  { binding: 0, buffer: `sizes_${p}` },
                  { binding: 1, buffer: `lengths_${p}` },
                  { binding: 2, buffer: 'params' },
                  { binding: 3, buffer: outName(p, k.o.output) },
                  ...k.inputs.map((name, i) => ({ binding: 4 + i, buffer: `in_${name}_${p}` })),
                ],
                dispatch: gridDispatch(batch * Math.ceil(steps / WORKGROUP) * k.rowBlocks, maxPerDim),
              });
            }
          });
          return { shaders, buffers, passes, ...(kernels.some((k) => k.broadcast) ? { requiredFeatures: ['subgroups' as GPUFeatureName], minSubgroupSize: BROADCAST_LANES } : {}) };
        },
        decode(read): TimeSumResult {
          const outputs = Object.fromEntries(kernels.map(({ o }) => [o.output, joinPieces(pieces, batch, T, o.size, (p) => read[outName(p, o.output)]!)]));
          return { sums: {}, outputs };
        },
      };
    },
  };
}
