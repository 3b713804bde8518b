// The data of a run: .npy files from `--inputs DIR` (one per input, param and initial state, named
// after it), seeded random values for the rest, and `--save DIR` for the results. Shapes are the
// shared layouts: inputs [batch, T, ...dims], params [...dims], states [batch, ...dims].
import { readdirSync, type Dirent } from 'node:fs';
import { checkOutputDir, writeAllOrNothingAsync, type OutputFile } from './output.js';
import { join } from 'node:path';
import { tensorsOf, type Module, type Tensor } from '../compiler/ir/ir.js';
import type { DimSizes } from '../compiler/ir/dims.js';
import { npyParts, NpyError, readNpy, type NpyArray, type NpyDtype } from './npy.js';
import { paramFanIn, paramRange, uniformFloats } from './data.js';
import { tensorSize } from '../compiler/ir/dims.js';
import type { RunArrays, RunResult } from '../../backends/wgsl-seq/pack.js';
import type { RunSize } from './run.js';
import { RnncError } from './errors.js';
import { nearest } from '../compiler/diagnostics/diagnostic.js';

type DataRole = 'input' | 'param' | 'state';

/** The symbolic shape of a tensor's array: [batch, T, ...dims], [...dims] or [batch, ...dims]. */
export function arrayShape(t: Tensor): string[] {
  return t.role === 'input' || t.role === 'output' ? ['batch', 'T', ...t.dims] : t.role === 'state' ? ['batch', ...t.dims] : [...t.dims];
}

export function concreteShape(shape: string[], sizes: DimSizes, size: RunSize): number[] {
  return shape.map((s) => (s === 'batch' ? size.batch : s === 'T' ? size.T : sizes[s]!));
}

const dataTensors = (m: Module): Tensor[] => (['input', 'param', 'state'] as DataRole[]).flatMap((role) => tensorsOf(m, role));

export interface InputFile extends NpyArray {
  path: string;
}

export interface InputDir {
  /** The directory, as given. */
  dir: string;
  /** By tensor name. */
  files: Map<string, InputFile>;
  /** Messages for stderr (`rnnc: ...`): a state resumed from a saved final state, outputs skipped. */
  notes: string[];
  /** Warnings, without the `rnnc: warning: ` prefix: files that match nothing in the cell. */
  warnings: string[];
}

const FINAL = '.final';

/**
 * Reads `<name>.npy` for every input, param and state of the cell that DIR has. A state's
 * `<name>.final.npy` (what `--save` writes) is read as its initial state, so a run resumes where an
 * earlier one stopped; having both is ambiguous and refused. Every other file is a warning naming
 * it (a typo such as `h0.npy` would otherwise go unnoticed), except outputs' `<name>.npy`, which
 * `--save` writes beside the final states (a note), and hidden files and folders (skipped).
 */
export async function readInputDir(dir: string, m: Module, claimed: (file: string) => boolean = () => false): Promise<InputDir> {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new RnncError(`rnnc: cannot read --inputs ${dir}: ${code === 'ENOENT' ? 'no such directory' : code === 'ENOTDIR' ? 'not a directory' : (e as Error).message}`);
  }
  const tensors = new Map(dataTensors(m).map((t) => [t.name, t]));
  const outputs = new Set(tensorsOf(m, 'output').map((t) => t.name));
  const files = new Map<string, InputFile>();
  const notes: string[] = [];
  const warnings: string[] = [];
  const all = new Set(entries.map((e) => e.name));
  /** A similar name the file could have been meant to have, as a hint. */
  const hint = (stem: string) => {
    const near = nearest(stem, tensors.keys());
    return near === undefined ? '' : `; did you mean ${near}.npy?`;
  };
  for (const entry of [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const path = join(dir, entry.name);
    // Hidden files are skipped; claimed ones are read by someone else (`--grad`'s upstream gradients).
    if (entry.name.startsWith('.') || claimed(entry.name)) continue;
    if (entry.isDirectory()) {
      if (entry.name.endsWith('.npy')) warnings.push(`ignoring ${path}: a directory, not a .npy file`);
      continue;
    }
    if (!entry.name.endsWith('.npy')) {
      const stem = entry.name.includes('.') ? entry.name.slice(0, entry.name.indexOf('.')) : entry.name;
      warnings.push(`ignoring ${path}: not a .npy file` + (tensors.has(stem) ? ` (${tensors.get(stem)!.role} \`${stem}\` is read from ${stem}.npy)` : ''));
      continue;
    }
    const stem = entry.name.slice(0, -'.npy'.length);
    const base = stem.endsWith(FINAL) ? stem.slice(0, -FINAL.length) : undefined;
    const resumed = base !== undefined && tensors.get(base)?.role === 'state';
    const name = resumed ? base : stem;
    const tensor = tensors.get(name);
    if (!tensor) {
      if (base !== undefined && tensors.has(base)) warnings.push(`ignoring ${path}: \`${base}\` is ${tensors.get(base)!.role === 'input' ? 'an' : 'a'} ${tensors.get(base)!.role} of ${m.name}, read from ${base}.npy; only states resume from NAME.final.npy`);
      else if (outputs.has(name)) notes.push(`rnnc: ignoring ${path}: \`${name}\` is an output of ${m.name} (what --save writes), not read`);
      else if (base !== undefined && outputs.has(base)) warnings.push(`ignoring ${path}: \`${base}\` is an output of ${m.name}, not a state; outputs are not read`);
      else if (m.dims.some((d) => d.name === name)) warnings.push(`ignoring ${path}: \`${name}\` is a dim of ${m.name}; set its size with --dim ${name}=SIZE`);
      else warnings.push(`ignoring ${path}: ${m.name} has no input, param or state \`${name}\`${hint(base ?? stem)}`);
      continue;
    }
    if (resumed) {
      if (all.has(`${name}.npy`)) throw new RnncError(`rnnc: --inputs ${dir} has both ${name}.npy and ${name}.final.npy for state \`${name}\`; keep one`);
      notes.push(`rnnc: state \`${name}\` starts from ${path} (a saved final state: the run resumes from it)`);
    }
    try {
      files.set(name, { path, ...(await readNpy(path)) });
    } catch (e) {
      if (e instanceof NpyError) throw new RnncError(`rnnc: ${e.message}`);
      throw new RnncError(`rnnc: cannot read ${path}: ${(e as Error).message}`);
    }
  }
  return { dir, files, notes, warnings };
}

/** Batch and T as the first per-step input file has them (for flags the user left out); an empty one is refused. */
export function sizeFromFiles(m: Module, dir: InputDir): Partial<RunSize> {
  for (const t of tensorsOf(m, 'input')) {
    const f = dir.files.get(t.name);
    if (!f || f.shape.length !== 2 + t.dims.length) continue;
    const [batch, T] = [f.shape[0]!, f.shape[1]!];
    if (batch < 1 || T < 1) throw new RnncError(`rnnc: ${f.path} has shape (${f.shape.join(', ')}): a run needs at least one sequence (batch) and one step (T)`);
    return { batch, T };
  }
  return {};
}

/**
 * Sizes of the dims that neither the spec nor the command line sizes, as the files' shapes have them;
 * a dim read from two files must agree. Sized dims are not overridden: a file that disagrees fails its
 * shape check, which names the --dim flag that would make them agree.
 */
export function dimsFromFiles(m: Module, dir: InputDir, given: Readonly<Record<string, number>>): Record<string, number> {
  const found = new Map<string, { size: number; path: string }>();
  for (const t of dataTensors(m)) {
    const f = dir.files.get(t.name);
    const shape = arrayShape(t);
    if (!f || f.shape.length !== shape.length) continue;
    shape.forEach((s, k) => {
      if (s === 'batch' || s === 'T' || Object.hasOwn(given, s) || m.dims.find((d) => d.name === s)?.size !== undefined) return;
      const size = f.shape[k]!;
      const seen = found.get(s);
      if (seen && seen.size !== size) throw new RnncError(`rnnc: dim \`${s}\` is ${seen.size} in ${seen.path} but ${size} in ${f.path}`);
      found.set(s, { size, path: f.path });
    });
  }
  return Object.fromEntries([...found].map(([d, { size }]) => [d, size]));
}

/** Throws unless the file's shape is the tensor's at these sizes, naming the --dim flags that would make them agree. */
function checkShape(t: Tensor, file: InputFile, sizes: DimSizes, size: RunSize): void {
  const shape = arrayShape(t);
  const want = concreteShape(shape, sizes, size);
  if (file.shape.length === want.length && file.shape.every((n, i) => n === want[i])) return;
  const hints = file.shape.length === want.length ? shape.flatMap((s, i) => (s !== 'batch' && s !== 'T' && file.shape[i] !== want[i] ? [`--dim ${s}=${file.shape[i]}`] : [])) : [];
  throw new RnncError(
    `rnnc: ${file.path} has shape (${file.shape.join(', ')}), but ${t.role} \`${t.name}\` is [${shape.join(', ')}] = (${want.join(', ')})` + (hints.length ? `; if the file is right, pass ${hints.join(' ')}` : ''),
  );
}

/** Checks every file's shape against the run's sizes: before the GPU starts, so a wrong file fails at once. */
export function checkShapes(m: Module, sizes: DimSizes, size: RunSize, dir: InputDir): void {
  for (const t of dataTensors(m)) {
    const file = dir.files.get(t.name);
    if (file) checkShape(t, file, sizes, size);
  }
}

export interface AssembledData {
  data: RunArrays;
  /** Per input, param and state: the file it came from, 'random', or (states) 'initial value'. */
  sources: Record<string, string>;
  /** Warnings, without the `rnnc: warning: ` prefix: tensors the inputs directory has no file for. */
  warnings: string[];
}

/** A state's initial value as the spec gives it. */
const initialText = (t: Tensor) => (t.init?.kind === 'param' ? `param \`${t.init.name}\`` : String(t.init?.kind === 'const' ? t.init.value : 0));

/**
 * The run's arrays: files where DIR has them (shape-checked), seeded random inputs and params
 * otherwise, and the spec's initial value for states without a file.
 */
export function assembleRunData(m: Module, sizes: DimSizes, size: RunSize, seed: number, dir: InputDir | undefined, lengths?: Int32Array): AssembledData {
  const data: RunArrays = { batch: size.batch, T: size.T, inputs: {}, params: {}, initialState: {}, ...(lengths ? { lengths } : {}) };
  const sources: Record<string, string> = {};
  const warnings: string[] = [];
  const fanIn = paramFanIn(m, sizes);
  for (const t of dataTensors(m)) {
    const file = dir?.files.get(t.name);
    const into = t.role === 'input' ? data.inputs : t.role === 'param' ? data.params : data.initialState!;
    if (file) {
      checkShape(t, file, sizes, size);
      into[t.name] = file.data;
      sources[t.name] = file.path;
    } else if (t.role === 'state') {
      sources[t.name] = 'initial value';
      if (dir) warnings.push(`no ${t.name}.npy or ${t.name}${FINAL}.npy in ${dir.dir}: state \`${t.name}\` starts at the spec's initial value (${initialText(t)})`);
    } else {
      // Drawn only for the tensors without a file: each has its own stream, so the values are those randomRunData gives.
      into[t.name] = uniformFloats(seed, `${t.role}:${t.name}`, (t.role === 'input' ? size.batch * size.T : 1) * tensorSize(t, sizes), ...(t.role === 'param' ? paramRange(fanIn.get(t.name)) : []));
      sources[t.name] = 'random';
      if (dir) warnings.push(`no ${t.name}.npy in ${dir.dir}: using seeded random values for ${t.role} \`${t.name}\` (seed ${seed})`);
    }
  }
  return { data, sources, warnings };
}

/** What `--save` writes: `<output>.npy` and `<state>.final.npy`. */
export const savedNames = (m: Module): string[] => [...tensorsOf(m, 'output').map((t) => `${t.name}.npy`), ...tensorsOf(m, 'state').map((t) => `${t.name}${FINAL}.npy`)];

/** Throws unless `--save DIR` can be written (run before the GPU work, so a bad DIR fails at once). */
export const checkSaveDir = (dir: string, m: Module, extra: string[] = []): void => checkOutputDir(dir, `--save ${dir}`, [...savedNames(m), ...extra]);

/** Writes `<output>.npy` and `<state>.final.npy` (and `extra` files, e.g. gradients), all or nothing; returns the paths. */
/** `outputs`: the outputs' dtype ('<f2' where the kernels store them as f16); final states are always '<f4'. */
export async function saveResults(dir: string, m: Module, sizes: DimSizes, size: RunSize, result: RunResult, extra: OutputFile[] = [], outputs: NpyDtype = '<f4'): Promise<string[]> {
  const arrays = [...tensorsOf(m, 'output').map((t) => result.outputs[t.name]!), ...tensorsOf(m, 'state').map((t) => result.finalState[t.name]!)];
  const tensors = [...tensorsOf(m, 'output'), ...tensorsOf(m, 'state')];
  const names = savedNames(m);
  const files = tensors.map((t, k) => ({ name: names[k]!, data: npyParts({ shape: concreteShape(arrayShape(t), sizes, size), data: arrays[k]!, ...(t.role === 'output' && outputs !== '<f4' ? { dtype: outputs } : {}) }) }));
  // Written on the thread pool: a caller may checksum the results meanwhile.
  return writeAllOrNothingAsync(dir, [...files, ...extra], `--save ${dir}`);
}
