// The files of `rnnc run --grad`. Upstream gradients are read from `--inputs` as
// `grad_<output>.npy` ([batch, T, ...dims], the output's shape) and `grad_<state>.final.npy`
// ([batch, ...dims]); missing ones are seeded random. `--save` writes `grad_<input>.npy`
// ([batch, T, ...dims]), `grad_<param>.npy` ([...dims], summed over batch and time) and
// `grad_<state>.npy` (the initial state's gradient, [batch, ...dims]) beside the forward results.
import { tensorsOf, type Module, type Tensor } from '../compiler/ir/ir.js';
import type { DimSizes } from '../compiler/ir/dims.js';
import type { FloatArray, Gradients, Upstream } from '../runtime/bptt.js';
import { uniformFloats } from './data.js';
import { arrayShape, concreteShape, type InputDir } from './inputs.js';
import { NpyError, npyParts, readNpy } from './npy.js';
import type { OutputFile } from './output.js';
import type { RunSize } from './run.js';
import { RnncError } from './errors.js';
import { join } from 'node:path';
import { existsSync, readdirSync } from 'node:fs';

const PREFIX = 'grad_';

/** The upstream gradient files a cell reads, by file name: what each is the gradient of. */
function upstreamFiles(m: Module): Map<string, { tensor: Tensor; of: 'output' | 'final' }> {
  const files = new Map<string, { tensor: Tensor; of: 'output' | 'final' }>();
  for (const t of tensorsOf(m, 'output')) files.set(`${PREFIX}${t.name}.npy`, { tensor: t, of: 'output' });
  for (const t of tensorsOf(m, 'state')) files.set(`${PREFIX}${t.name}.final.npy`, { tensor: t, of: 'final' });
  return files;
}

/** Files `readInputDir` leaves to `readUpstream`: every `grad_*.npy` (a wrong one is reported there). */
export const isGradFile = (file: string): boolean => file.startsWith(PREFIX) && file.endsWith('.npy');

export interface UpstreamData {
  upstream: Required<Upstream>;
  /** Per file name: the path it was read from, or 'random'. */
  sources: Record<string, string>;
  warnings: string[];
}

/** The upstream gradients: `grad_*.npy` from the inputs directory where it has them (shape-checked), seeded random otherwise. */
export async function readUpstream(dir: InputDir | undefined, m: Module, sizes: DimSizes, size: RunSize, seed: number): Promise<UpstreamData> {
  const files = upstreamFiles(m);
  const upstream: Required<Upstream> = { outputs: {}, final: {} };
  const sources: Record<string, string> = {};
  const warnings: string[] = [];
  if (dir) {
    for (const name of readdirSync(dir.dir).filter(isGradFile).sort()) {
      if (!files.has(name)) warnings.push(`ignoring ${join(dir.dir, name)}: ${m.name} has no output \`${name.slice(PREFIX.length, -'.npy'.length)}\` or state \`${name.slice(PREFIX.length, -'.final.npy'.length)}\` to take an upstream gradient for (grad_<output>.npy, grad_<state>.final.npy)`);
    }
  }
  for (const [name, { tensor, of }] of files) {
    const shape = of === 'output' ? arrayShape(tensor) : ['batch', ...tensor.dims];
    const want = concreteShape(shape, sizes, size);
    const path = dir ? join(dir.dir, name) : undefined;
    let data: Float32Array;
    if (path && existsSync(path)) {
      const file = await readNpy(path).catch((e: unknown) => {
        throw new RnncError(`rnnc: ${e instanceof NpyError ? e.message : `cannot read ${path}: ${(e as Error).message}`}`);
      });
      if (file.shape.length !== want.length || file.shape.some((n, i) => n !== want[i]))
        throw new RnncError(`rnnc: ${path} has shape (${file.shape.join(', ')}), but the gradient of ${of === 'output' ? 'output' : 'the final state of'} \`${tensor.name}\` is [${shape.join(', ')}] = (${want.join(', ')})`);
      data = file.data;
      sources[name] = path;
    } else {
      data = uniformFloats(seed, `grad:${tensor.name}${of === 'final' ? '.final' : ''}`, want.reduce((a, b) => a * b, 1));
      sources[name] = 'random';
      if (dir) warnings.push(`no ${name} in ${dir.dir}: using seeded random values for the upstream gradient of ${of === 'output' ? `output \`${tensor.name}\`` : `the final state of \`${tensor.name}\``} (seed ${seed})`);
    }
    (of === 'output' ? upstream.outputs : upstream.final)[tensor.name] = data;
  }
  return { upstream, sources, warnings };
}

/** The gradients a run reports and saves, in order: inputs, params, initial states. */
export function gradientTensors<A extends FloatArray>(m: Module, sizes: DimSizes, size: RunSize, g: Pick<Gradients<A>, 'inputs' | 'params' | 'initial'>): { name: string; file: string; shape: number[]; data: A }[] {
  const of = (t: Tensor, data: A, shape: string[]) => ({ name: `${PREFIX}${t.name}`, file: `${PREFIX}${t.name}.npy`, shape: concreteShape(shape, sizes, size), data });
  return [
    ...tensorsOf(m, 'input').map((t) => of(t, g.inputs[t.name]!, arrayShape(t))),
    ...tensorsOf(m, 'param').map((t) => of(t, g.params[t.name]!, arrayShape(t))),
    ...tensorsOf(m, 'state').map((t) => of(t, g.initial[t.name]!, ['batch', ...t.dims])),
  ];
}

/** The names `--save` writes for the gradients. */
export const gradientFileNames = (m: Module): string[] => [...tensorsOf(m, 'input'), ...tensorsOf(m, 'param'), ...tensorsOf(m, 'state')].map((t) => `${PREFIX}${t.name}.npy`);

/** The gradient files, for saveResults' all-or-nothing write. */
export const gradientFiles = (tensors: { file: string; shape: number[]; data: Float32Array }[]): OutputFile[] => tensors.map((t) => ({ name: t.file, data: npyParts({ shape: t.shape, data: t.data }) }));
