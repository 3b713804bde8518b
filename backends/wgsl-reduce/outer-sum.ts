// Sums over time of outer products. A param's accumulation cell (src/compiler/grad/split.ts) whose
// term is one per-step vector times another, `d_W[k, j] <- d_W[k, j] + a[k] · b[j]` (LSTM's and GRU's
// weight gradients: a gate's adjoint times the input or the saved state), is a matrix product over
// the steps, d_W = Σ_t a_tᵀ b_t: |a|·|b| products a step from |a| + |b| floats read. The time-sum
// kernel (time-sum.ts) unrolls every element into one invocation, so it stops at a few hundred; the
// cell's own scan or loop reads both factors for every element at every step.
//
// Here a workgroup takes ROWS elements of one factor and WORKGROUP of the other (the larger, along
// the lanes) over one chunk of a sequence's steps; each invocation keeps ROWS sums in registers, and
// each chunk's partial sums go to the host, which adds them in float64, as time-sum.ts does. With
// subgroups (of at least 8), lane l of each subgroup loads rows l and 8 + l of the step and
// `subgroupBroadcast` hands them round: lavapipe loads an address lane by lane even where every
// invocation reads the same one, so 16 loads a step became 2 (LSTM X = H = 128, T = 8,192: 42 ->
// 13 ms a weight). Without subgroups every invocation loads the rows itself.
import type { Module } from '../../src/compiler/ir/ir.js';
import { tensorSize, type DimSizes } from '../../src/compiler/ir/dims.js';
import { flatWorkgroupIndex, gridDispatch, MAX_WORKGROUPS_PER_DIMENSION } from '../lower/grid.js';
import { arrayOf, assign, bin, call, emptyModule, f32, forRange, id, ifS, index, letS, lit, member, u32, varS, workgroupEntry, type Expr, type Stmt } from '../wgsl/ast.js';
import { printModule } from '../wgsl/print.js';
import { chunkedTimeGlobals, isStepMap, pieceLengths, stepsOf, sumTerm, timePieces, type CompiledTimeSum, type TimeSumResult } from './time-sum.js';
import type { GpuBufferSpec, GpuPass } from '../job.js';

/** Invocations per workgroup: one element of the lanes' factor each. */
const WORKGROUP = 64;
/** Elements of the rows' factor a workgroup sums against each lane's: one register each. */
const ROWS = 16;
/** Rows one subgroup loads at once, a lane each: the least subgroup size the job asks for. */
export const BROADCAST_LANES = 8;
/** Workgroups a piece aims at (chunks of time make up the difference), and the fewest steps in a chunk. */
const TARGET_WORKGROUPS = 256;
const MIN_CHUNK = 64;
const SIZES_BYTES = 16;

/**
 * An accumulation `state[u…, v…] <- state[u…, v…] + first[u…] · second[v…]`: both factors inputs read
 * at their own index variables, the first's before the second's in the state's.
 */
export interface OuterTerm {
  state: string;
  first: { input: string; size: number };
  second: { input: string; size: number };
}

/** The outer-product form of an accumulation cell, or undefined where its term is not one. */
export function outerTerm(m: Module, sizes: DimSizes): OuterTerm | undefined {
  if (!isStepMap(m) || m.tensors.some((t) => t.role === 'output')) return undefined;
  const states = m.tensors.filter((t) => t.role === 'state');
  if (states.length !== 1) return undefined;
  const sum = sumTerm(m, states[0]!.name);
  if (!sum) return undefined;
  const { def, term } = sum;
  const product = def.nodes[term]!;
  if (product.op !== 'binary' || product.fn !== 'mul') return undefined;
  const [a, b] = product.args.map((k) => def.nodes[k]!);
  if (a?.op !== 'load' || b?.op !== 'load' || a.source !== 'input' || b.source !== 'input') return undefined;
  const vars = def.vars.map((v) => v.name).join(',');
  const tensor = (name: string) => m.tensors.find((t) => t.name === name)!;
  for (const [first, second] of [
    [a, b],
    [b, a],
  ] as const) {
    if (first.index.length === 0 || second.index.length === 0 || [...first.index, ...second.index].join(',') !== vars) continue;
    // Each factor read at its own variables, in its dims' order: its flat index is theirs, row-major.
    const aligned = (l: typeof first) => tensor(l.tensor).dims.length === l.index.length && l.index.every((v, i) => def.vars.find((x) => x.name === v)!.dim === tensor(l.tensor).dims[i]);
    if (!aligned(first) || !aligned(second)) continue;
    return { state: def.target, first: { input: first.tensor, size: tensorSize(tensor(first.tensor), sizes) }, second: { input: second.tensor, size: tensorSize(tensor(second.tensor), sizes) } };
  }
  return undefined;
}

/** Whether one sequence's sums of an outer term fit a storage binding (the kernel's partials of one chunk). */
export const outerSumFits = (term: OuterTerm, maxStorageBufferBindingSize: number): boolean => 4 * term.first.size * term.second.size <= maxStorageBufferBindingSize;

interface OuterKernel {
  term: OuterTerm;
  label: string;
  code: string;
  /** Elements of the rows' factor and of the lanes' factor, and the workgroups across each. */
  rows: number;
  cols: number;
  rowBlocks: number;
  colBlocks: number;
}

/**
 * The kernel of one outer term: the larger factor along the lanes. Partial sums are laid out
 * [batch, chunks, first, second], the state's own order, whichever factor the lanes take.
 */
function kernelOf(term: OuterTerm, label: string, subgroups: boolean): OuterKernel {
  const lanesFirst = term.first.size > term.second.size;
  const [rowFactor, colFactor] = lanesFirst ? [term.second, term.first] : [term.first, term.second];
  const rows = rowFactor.size;
  const cols = colFactor.size;
  const perGroup = Math.min(ROWS, rows);
  const rowBlocks = Math.ceil(rows / perGroup);
  const colBlocks = Math.ceil(cols / WORKGROUP);
  const u = lit.u32;
  const sizes = (name: string) => member(id('sizes'), name);
  // The row each register sums: the tail block's rows past the factor read its last one and are not written.
  // Addresses are written `uniform + lane` where no clamp is needed: lavapipe then loads the lanes' run
  // of floats as one vector (the same kernel with `p0 + (k + sid)` took 20 ms where this takes 13).
  const rowLoad = (r: number, lane?: string): Expr => {
    const base = bin('+', bin('*', id('row'), u(rows)), id('p0'));
    if (rows % perGroup === 0) return index(id('rows'), lane ? bin('+', bin('+', base, u(r)), id(lane)) : bin('+', base, u(r)));
    const at = lane ? bin('+', u(r), id(lane)) : u(r);
    return index(id('rows'), bin('+', bin('*', id('row'), u(rows)), call('min', bin('+', id('p0'), at), u(rows - 1))));
  };
  const shared = subgroups ? Math.ceil(perGroup / BROADCAST_LANES) : 0;
  const rowValue = (r: number): Expr => (subgroups ? call('subgroupBroadcast', id(`a${Math.floor(r / BROADCAST_LANES)}`), u(r % BROADCAST_LANES)) : rowLoad(r));
  const laneAt = cols % WORKGROUP === 0 ? bin('+', bin('+', bin('*', id('row'), u(cols)), id('q0')), id('lid')) : bin('+', bin('*', id('row'), u(cols)), call('min', id('q'), u(cols - 1)));
  const loop: Stmt[] = [
    letS('row', bin('+', bin('*', id('b'), sizes('T')), id('t'))),
    letS('x', index(id('lanes'), laneAt)),
    ...Array.from({ length: shared }, (_, k) => letS(`a${k}`, rowLoad(k * BROADCAST_LANES, 'sid'))),
    ...Array.from({ length: perGroup }, (_, r) => assign(id(`acc_${r}`), bin('+', id(`acc_${r}`), bin('*', rowValue(r), id('x'))))),
  ];
  // The partial of (row p, lane q) in [batch, chunks, first, second].
  const partialAt = (p: Expr): Expr => {
    const [f, s] = lanesFirst ? [id('q'), p] : [p, id('q')];
    return bin('+', bin('*', bin('+', bin('*', bin('+', bin('*', id('b'), sizes('chunks')), id('c')), u(term.first.size)), f), u(term.second.size)), s);
  };
  const writes = Array.from({ length: perGroup }, (_, r): Stmt => {
    const store = assign(index(id('partials'), partialAt(bin('+', id('p0'), u(r)))), id(`acc_${r}`));
    return rows % perGroup === 0 ? store : ifS(bin('<', bin('+', id('p0'), u(r)), u(rows)), [store]);
  });
  const body: Stmt[] = [
    letS('w', flatWorkgroupIndex()),
    letS('q0', bin('*', bin('%', id('w'), u(colBlocks)), u(WORKGROUP))),
    letS('q', bin('+', id('q0'), id('lid'))),
    letS('p0', bin('*', bin('%', bin('/', id('w'), u(colBlocks)), u(rowBlocks)), u(perGroup))),
    letS('c', bin('%', bin('/', id('w'), u(colBlocks * rowBlocks)), sizes('chunks'))),
    letS('b', bin('/', id('w'), bin('*', u(colBlocks * rowBlocks), sizes('chunks')))),
    ifS(bin('>=', id('b'), sizes('seqs')), [{ kind: 'return' }]),
    letS('len', call('min', index(id('lengths'), id('b')), sizes('T'))),
    letS('t0', bin('*', id('c'), sizes('chunk'))),
    letS('t1', call('min', bin('+', id('t0'), sizes('chunk')), id('len'))),
    ...Array.from({ length: perGroup }, (_, r) => varS(`acc_${r}`, f32, lit.f32(0))),
    forRange('t', id('t0'), id('t1'), loop),
    ifS(bin('<', id('q'), u(cols)), writes),
  ];
  const entry = workgroupEntry(WORKGROUP, body);
  const code = printModule({
    ...emptyModule(),
    ...(subgroups ? { enables: ['subgroups'] } : {}),
    header: `${label}: the sum over time of ${term.first.input} x ${term.second.input} (${term.first.size} x ${term.second.size}); ${perGroup} rows of ${rowFactor.input} per workgroup${subgroups ? ` (loaded ${BROADCAST_LANES} at a time, a lane each, and broadcast)` : ''} against ${WORKGROUP} lanes of ${colFactor.input}, partial sums per chunk of steps to the host`,
    structs: chunkedTimeGlobals().structs,
    globals: [
      ...chunkedTimeGlobals().globals,
      { name: 'partials', space: 'storage', access: 'read_write', type: arrayOf(f32), group: 0, binding: 2 },
      { name: 'rows', space: 'storage', access: 'read', type: arrayOf(f32), group: 0, binding: 3 },
      { name: 'lanes', space: 'storage', access: 'read', type: arrayOf(f32), group: 0, binding: 4 },
    ],
    entryPoints: [subgroups ? { ...entry, params: [...entry.params, { name: 'sid', type: u32, attributes: ['builtin(subgroup_invocation_id)'] }] } : entry],
  });
  return { term, label, code, rows, cols, rowBlocks, colBlocks };
}

/**
 * The sums over time of cells that `outerTerm` takes, in one job: a shader per cell, a pass per cell
 * and piece of time. `subgroups`: the device has subgroups of at least BROADCAST_LANES (the plan's target).
 */
export function compileOuterSum(cells: Module[], sizes: DimSizes, label = 'outer_sum', subgroups = false): CompiledTimeSum {
  const kernels = cells.map((cell, k) => {
    const term = outerTerm(cell, sizes);
    if (!term) throw new Error(`compileOuterSum: ${cell.name} is not a sum over time of an outer product`);
    return kernelOf(term, `${label}.${cell.name}_${k}`, subgroups);
  });
  const rowsOf = (k: OuterKernel) => (k.term.first.size > k.term.second.size ? k.term.second : k.term.first);
  const lanesOf = (k: OuterKernel) => (k.term.first.size > k.term.second.size ? k.term.first : k.term.second);
  const shaders = kernels.map((k) => ({ label: k.label, code: k.code, entryPoint: 'main' }));
  return {
    shaders,
    prepare({ batch, T }, limits) {
      const maxBinding = limits.maxStorageBufferBindingSize;
      const inputSize = new Map(kernels.flatMap((k) => [k.term.first, k.term.second].map((f) => [f.input, f.size] as const)));
      const pieces = timePieces(T, batch, Math.max(...inputSize.values()), maxBinding);
      const maxPerDim = limits.maxComputeWorkgroupsPerDimension ?? MAX_WORKGROUPS_PER_DIMENSION;
      // The partial sums of a pass, [sequences, chunks, rows, cols], must fit one binding too (LSTM
      // H = 1,024 at batch 40: 160 MiB): fewer chunks first, then passes over slices of the batch.
      const fitting = (k: OuterKernel) => Math.floor(maxBinding / (4 * k.rows * k.cols));
      const tooLarge = kernels.find((k) => fitting(k) < 1);
      if (tooLarge) throw new Error(`compileOuterSum: one sequence's sums of ${tooLarge.term.state} (${tooLarge.rows * tooLarge.cols} floats) exceed a binding (outerSumFits)`);
      // Chunks of time per piece and kernel: enough workgroups to fill the device, whole chunks of MIN_CHUNK steps at least.
      const chunking = pieces.map(({ steps }) =>
        kernels.map((k) => {
          const chunks = Math.max(1, Math.min(Math.ceil(steps / MIN_CHUNK), Math.ceil(TARGET_WORKGROUPS / (batch * k.rowBlocks * k.colBlocks)), fitting(k)));
          return { chunks, chunk: Math.max(1, Math.ceil(steps / chunks)) };
        }),
      );
      // Sequences per pass: every kernel's partials of every piece within a binding.
      const perSlice = Math.max(1, Math.min(batch, ...chunking.flatMap((row) => row.map(({ chunks }, c) => Math.floor(fitting(kernels[c]!) / chunks)))));
      const slices = Array.from({ length: Math.ceil(batch / perSlice) }, (_, s) => ({ b0: s * perSlice, nb: Math.min(perSlice, batch - s * perSlice) }));
      const partialName = (p: number, k: number, s: number) => `partials_${p}_${k}_${s}`;
      return {
        pieces: pieces.length,
        job(data) {
          const buffers: GpuBufferSpec[] = [];
          const passes: GpuPass[] = [];
          pieces.forEach(({ t0, steps }, p) =>
            slices.forEach(({ b0, nb }, s) => {
              const at = `${p}_${s}`;
              buffers.push(pieceLengths(`lengths_${at}`, nb, T, t0, steps, data.lengths?.subarray(b0, b0 + nb)));
              for (const [name, size] of inputSize) {
                const slice = stepsOf(data.inputs[name]!.subarray(b0 * T * size, (b0 + nb) * T * size), nb, T, size, t0, steps);
                buffers.push({ name: `in_${name}_${at}`, bytes: Math.max(4, slice.byteLength), usage: 'storage-read', data: slice });
              }
              kernels.forEach((k, c) => {
                const { chunks, chunk } = chunking[p]![c]!;
                buffers.push({ name: `sizes_${at}_${c}`, bytes: SIZES_BYTES, usage: 'uniform', data: Uint32Array.of(steps, chunk, chunks, nb) });
                buffers.push({ name: partialName(p, c, s), bytes: 4 * nb * chunks * k.rows * k.cols, usage: 'storage', read: true });
                passes.push({
                  shader: k.label,
                  label: `${k.label} piece ${p}${slices.length > 1 ? ` sequences ${b0}-${b0 + nb - 1}` : ''}`,
                  bindings: [
                    { binding: 0, buffer: `sizes_${at}_${c}` },
                    { binding: 1, buffer: `lengths_${at}` },
                    { binding: 2, buffer: partialName(p, c, s) },
                    { binding: 3, buffer: `in_${rowsOf(k).input}_${at}` },
                    { binding: 4, buffer: `in_${lanesOf(k).input}_${at}` },
                  ],
                  dispatch: gridDispatch(nb * chunks * k.rowBlocks * k.colBlocks, maxPerDim),
                });
              });
            }),
          );
          return { shaders, buffers, passes, ...(subgroups ? { requiredFeatures: ['subgroups' as GPUFeatureName], minSubgroupSize: BROADCAST_LANES } : {}) };
        },
        decode(read): TimeSumResult {
          const sums: Record<string, Float64Array> = {};
          kernels.forEach((k, c) => {
            const n = k.rows * k.cols;
            const sum = (sums[k.term.state] = new Float64Array(batch * n));
            pieces.forEach((_, p) =>
              slices.forEach(({ b0, nb }, s) => {
                const { chunks } = chunking[p]![c]!;
                const partials = new Float32Array(read[partialName(p, c, s)]!, 0, nb * chunks * n);
                for (let b = 0; b < nb; b++)
                  for (let j = 0; j < chunks; j++) {
                    const from = (b * chunks + j) * n;
                    for (let e = 0; e < n; e++) sum[(b0 + b) * n + e]! += partials[from + e]!;
                  }
              }),
            );
          });
          return { sums, outputs: {} };
        },
      };
    },
  };
}
