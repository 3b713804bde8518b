// The bench's bandwidth yardsticks for a kernel that reads `inBytes` and writes `outBytes` (a scan
// must move at least that: every input once, every output once):
//  - a tuned elementwise kernel moving the same bytes. Each output vec4 sums the input vec4s that map
//    onto it (out[o] = Σ_k in[k·OUT + o]), so no read can be dropped; each invocation handles either
//    a contiguous run of vec4s or, strided, every W-th vec4 of its workgroup's span (consecutive
//    invocations on consecutive vec4s: a GPU's coalesced layout, and on lavapipe, where a SIMD row's
//    consecutive addresses load as one vector, the fastest); several shapes (vec4s per invocation ×
//    workgroup size, run or strided) run in one job and the bench keeps the fastest.
//  - copyBufferToBuffer of half the bytes (each byte copied is read once and written once).
// Byte counts that are not multiples of 16 are padded to the next vec4 (at most 12 bytes more; the
// bench counts the true bytes). Streams over the adapter's storage-binding limit are cut into
// pieces, each its own buffers and dispatch, timed together.
import { flatWorkgroupIndex, gridDispatch } from '../lower/grid.js';
import { arrayOf, assign, bin, call, emptyModule, f32, forRange, id, ifS, index, letS, lit, member, named, u32, varS, vec, workgroupEntry, type Expr, type Stmt } from './ast.js';
import { printModule } from './print.js';
import type { GpuBufferSpec, GpuCopyTiming, GpuJob, GpuPass, GpuShaderSpec } from '../job.js';

/** vec4s per invocation × invocations per workgroup; each invocation's vec4s a contiguous run, or strided by the workgroup size. */
export interface ElementwiseShape {
  perInvocation: number;
  workgroup: number;
  strided?: boolean;
}

/**
 * The shapes a bench run tries (lavapipe: 8 invocations to a SIMD register; a GPU: wide workgroups).
 * On lavapipe at 2^22 steps of (a, b) in, h out, the strided 64x64 took 2.3 ms where the best run
 * took 2.8 (scripts/bench-scan-floors.ts).
 */
export const ELEMENTWISE_SHAPES: readonly ElementwiseShape[] = [
  { perInvocation: 4, workgroup: 64 },
  { perInvocation: 16, workgroup: 64 },
  { perInvocation: 64, workgroup: 64 },
  { perInvocation: 4, workgroup: 256 },
  { perInvocation: 16, workgroup: 256 },
  { perInvocation: 64, workgroup: 256 },
  { perInvocation: 64, workgroup: 64, strided: true },
  { perInvocation: 256, workgroup: 8, strided: true },
];

/** `VxW` for a run of V vec4s per invocation in workgroups of W; `VxWs` strided. */
export const shapeName = (s: ElementwiseShape) => `${s.perInvocation}x${s.workgroup}${s.strided ? 's' : ''}`;

/** A shape from its name (shapeName's inverse), or undefined. */
export function parseShape(name: string): ElementwiseShape | undefined {
  const m = /^(\d+)x(\d+)(s?)$/.exec(name);
  if (!m) return undefined;
  return { perInvocation: Number(m[1]), workgroup: Number(m[2]), ...(m[3] ? { strided: true } : {}) };
}

/** Reads of a round of the inputs past which the sum is a loop rather than straight-line loads. */
const UNROLL_ROUNDS = 4;

/** The kernel's run-time sizes, in vec4s (a uniform): one compiled pipeline serves every length. */
const SIZES_BYTES = 16;


/**
 * The kernel for `rounds` full rounds of the inputs per output (floor(in / out), in vec4s), and
 * with `rest` the inputs past the last full round (outputs o < in − rounds·out read one more).
 * The sizes themselves are a uniform, so that one pipeline per shape and ratio serves every length
 * (lavapipe compiles each new pipeline in 1-3 s, the 64-vec4 shapes in 5-20 s on 2 loaded cores);
 * the rounds are constant, so that their loads are straight-line code.
 */
export function elementwiseKernel(rounds: number, rest: boolean, shape: ElementwiseShape): string {
  const { perInvocation: V, workgroup: W } = shape;
  const OUT = id('out_vec');
  const o = id('o');
  const src = (at: Expr) => index(id('src'), at);
  const read = (k: Expr | number): Expr => src(k === 0 ? o : bin('+', o, k === 1 ? OUT : bin('*', typeof k === 'number' ? lit.u32(k) : k, OUT)));
  const sum: Stmt[] =
    rounds === 0
      ? [varS('acc', vec(4, f32), call('vec4<f32>')), ifS(bin('<', o, id('in_vec')), [assign(id('acc'), src(o))])]
      : [
          varS('acc', undefined, read(0)),
          ...(rounds <= UNROLL_ROUNDS
            ? Array.from({ length: rounds - 1 }, (_, k) => assign(id('acc'), read(k + 1), '+='))
            : [forRange('k', lit.u32(1), lit.u32(rounds), [assign(id('acc'), read(id('k')), '+=')])]),
          ...(rest ? [ifS(bin('<', bin('+', o, bin('*', lit.u32(rounds), OUT)), id('in_vec')), [assign(id('acc'), read(rounds), '+=')])] : []),
        ];
  const body = (at: Expr): Stmt[] => [letS('o', at), ...sum, assign(index(id('dst'), o), id('acc'))];
  const j = id('j');
  // Where an invocation's j-th vec4 is, and whether it (and so its whole workgroup's span, strided) is inside the outputs.
  const [first, at, full]: [Expr, Expr, Expr] = shape.strided
    ? [bin('*', flatWorkgroupIndex(), lit.u32(W * V)), bin('+', bin('+', id('first'), bin('*', j, lit.u32(W))), id('lid')), bin('<=', bin('+', id('first'), lit.u32(W * V)), OUT)]
    : [bin('*', bin('+', bin('*', flatWorkgroupIndex(), lit.u32(W)), id('lid')), lit.u32(V)), bin('+', id('first'), j), bin('<=', bin('+', id('first'), lit.u32(V)), OUT)];
  return printModule({
    ...emptyModule(),
    header: `elementwise yardstick: ${rounds} round(s) of the inputs per output${rest ? ' and a rest' : ''}, ${V} ${shape.strided ? `vec4 per invocation strided by the workgroup (consecutive invocations on consecutive vec4s)` : 'contiguous vec4 per invocation'}, workgroups of ${W}`,
    structs: [{ name: 'Sizes', members: [{ name: 'in_vec', type: u32 }, { name: 'out_vec', type: u32 }] }],
    globals: [
      { name: 'src', space: 'storage', access: 'read', type: arrayOf(vec(4, f32)), group: 0, binding: 0 },
      { name: 'dst', space: 'storage', access: 'read_write', type: arrayOf(vec(4, f32)), group: 0, binding: 1 },
      { name: 'sizes', space: 'uniform', type: named('Sizes'), group: 0, binding: 2 },
    ],
    entryPoints: [
      workgroupEntry(W, [
        letS('in_vec', member(id('sizes'), 'in_vec')),
        letS('out_vec', member(id('sizes'), 'out_vec')),
        letS('first', first),
        ifS(bin('>=', id('first'), OUT), [{ kind: 'return' }]),
        // A full span has a constant trip count (the driver unrolls it up to 32 trips); only the last one's is shorter.
        ifS(
          full,
          [forRange('j', lit.u32(0), lit.u32(V), body(at))],
          shape.strided
            ? [forRange('j', lit.u32(0), lit.u32(V), [ifS(bin('<', at, OUT), body(at))])]
            : [forRange('i', id('first'), OUT, body(id('i')))],
        ),
      ]),
    ],
  });
}

/** How a stream of bytes is cut into pieces within the binding limit: vec4s per piece, the last possibly fewer. */
function pieces(totalVec: number, count: number): number[] {
  const per = Math.ceil(totalVec / count);
  return Array.from({ length: count }, (_, p) => Math.max(0, Math.min(per, totalVec - p * per)));
}

export interface ElementwisePlan {
  job: GpuJob;
  /** Pass indices of each shape (one per piece), in ELEMENTWISE_SHAPES order. */
  passesOf: { shape: ElementwiseShape; passes: number[] }[];
  pieces: number;
  /** What the job really reads and writes (the padded streams). */
  bytes: number;
}

/**
 * The elementwise yardstick for `inBytes` read and `outBytes` written, every shape in one job (each
 * shape a pass per piece). `data` (floats, padded with zeros) fills the inputs, for tests; the bench
 * leaves them zero (the values do not change the work). `read` reads the outputs back.
 */
export function elementwiseJob(
  inBytes: number,
  outBytes: number,
  options: { bindingLimit: number; timing?: GpuJob['timing']; shapes?: readonly ElementwiseShape[]; data?: Float32Array; read?: boolean; maxWorkgroupsPerDimension?: number },
): ElementwisePlan {
  const inVec = Math.max(1, Math.ceil(inBytes / 16));
  const outVec = Math.max(1, Math.ceil(outBytes / 16));
  const limitVec = Math.floor(options.bindingLimit / 16);
  const count = Math.max(Math.ceil(inVec / limitVec), Math.ceil(outVec / limitVec));
  // Both streams cut into the same number of pieces, so that each piece keeps the streams' ratio.
  const ins = pieces(inVec, count);
  const outs = pieces(outVec, count);
  const shapes = options.shapes ?? ELEMENTWISE_SHAPES;
  const buffers: GpuBufferSpec[] = [];
  let fed = 0;
  for (let p = 0; p < count; p++) {
    const bytes = 16 * Math.max(1, ins[p]!);
    const data = options.data?.subarray(fed / 4, Math.min(options.data.length, (fed + bytes) / 4));
    fed += bytes;
    buffers.push({ name: `src${p}`, bytes, usage: 'storage-read', ...(data && data.length ? { data } : {}) });
    buffers.push({ name: `dst${p}`, bytes: 16 * Math.max(1, outs[p]!), usage: 'storage', ...(options.read ? { read: true } : {}) });
    buffers.push({ name: `sizes${p}`, bytes: SIZES_BYTES, usage: 'uniform', data: Uint32Array.of(Math.max(1, ins[p]!), outs[p]!) });
  }
  const shaders = new Map<string, GpuShaderSpec>();
  const passes: GpuPass[] = [];
  const passesOf = shapes.map((shape) => {
    const own: number[] = [];
    for (let p = 0; p < count; p++) {
      if (outs[p] === 0) continue;
      const [inP, outP] = [Math.max(1, ins[p]!), outs[p]!];
      const rounds = Math.floor(inP / outP);
      const code = elementwiseKernel(rounds, inP > rounds * outP, shape);
      let shader = shaders.get(code);
      if (!shader) shaders.set(code, (shader = { label: `elementwise ${shapeName(shape)} #${shaders.size}`, code }));
      const groups = Math.ceil(Math.ceil(outP / shape.perInvocation) / shape.workgroup);
      own.push(passes.length);
      const bindings = [{ binding: 0, buffer: `src${p}` }, { binding: 1, buffer: `dst${p}` }, { binding: 2, buffer: `sizes${p}` }];
      passes.push({ shader: shader.label, label: `elementwise ${shapeName(shape)} piece ${p}`, bindings, dispatch: gridDispatch(groups, options.maxWorkgroupsPerDimension) });
    }
    return { shape, passes: own };
  });
  return {
    job: { shaders: [...shaders.values()], buffers, passes, ...(options.timing ? { timing: options.timing } : {}) },
    passesOf,
    pieces: count,
    bytes: 16 * (inVec + outVec),
  };
}

/**
 * copyBufferToBuffer moving `bytes` of traffic (half read, half written), in pieces within the
 * binding limit (the job's buffers are storage buffers, checked against it).
 */
export function copyJob(bytes: number, options: { bindingLimit: number; repeats: number; warmup?: number }): { job: GpuJob; bytes: number; pieces: number } {
  const words = Math.max(1, Math.ceil(bytes / 8)); // 4-byte words copied: half the traffic
  const count = Math.ceil((4 * words) / (Math.floor(options.bindingLimit / 4) * 4));
  const sizes = pieces(words, count);
  const buffers: GpuBufferSpec[] = [];
  const copies: GpuCopyTiming['copies'] = [];
  sizes.forEach((w, p) => {
    buffers.push({ name: `from${p}`, bytes: 4 * w, usage: 'storage-read' }, { name: `to${p}`, bytes: 4 * w, usage: 'storage' });
    copies.push({ from: `from${p}`, to: `to${p}`, bytes: 4 * w });
  });
  return {
    job: { shaders: [], passes: [], buffers, copyTiming: { copies, repeats: options.repeats, warmup: options.warmup ?? 1 } },
    bytes: 8 * words,
    pieces: count,
  };
}
