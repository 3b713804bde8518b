// `rnnc compile --mode scan|auto`: the scan backend's files, and the choice `auto` makes.
import { analyse } from '../compiler/analyse/analyse.js';
import type { Analysis } from '../compiler/analyse/types.js';
import { compileScan, scanManifest, scanSupport } from '../../backends/wgsl-scan/index.js';
import type { Module } from '../compiler/ir/ir.js';
import type { DimSizes } from '../compiler/ir/dims.js';
import type { Backend, CompileRequest, GeneratedFile } from './compile.js';
import { RnncError } from './errors.js';

/** Which backend `auto` picks, and why, in a sentence for `rnnc check`. */
export function chooseMode(analysis: Analysis, module: Module, sizes: DimSizes): { mode: 'scan' | 'seq'; reason: string } {
  if (analysis.plan) {
    const support = scanSupport(module, analysis.plan, sizes);
    if (!support.ok) return { mode: 'seq', reason: `associative, but ${support.reason}; so a sequential loop over time` };
    return { mode: 'scan', reason: 'every state is an associative recurrence: parallel scan over time' };
  }
  const blocking = analysis.states.filter((s) => !s.scan).map((s) => `\`${s.state}\``);
  return { mode: 'seq', reason: `${blocking.join(', ') || 'a state'} cannot be scanned: a sequential loop over time` };
}

/** One WGSL file per scan kernel, and a JSON manifest of bindings, layouts and the tile shape. */
export function scanFiles({ module, sizes, subgroups = true }: CompileRequest): GeneratedFile[] {
  const plan = analyse(module).analysis.plan;
  if (!plan) throw new RnncError(`rnnc: ${module.name} is not associative (see rnnc check); compile it with --mode seq or --mode auto`);
  const support = scanSupport(module, plan, sizes);
  if (!support.ok) throw new RnncError(`rnnc: ${module.name} cannot be scanned: ${support.reason}; compile it with --mode seq or --mode auto`);
  const kernels = compileScan(module, plan, sizes, { subgroups });
  return [
    ...Object.values(kernels.kernels).map((k) => ({ name: `${module.name}.${k.name}.wgsl`, text: k.code })),
    { name: `${module.name}.scan.json`, text: JSON.stringify(scanManifest(module, kernels), null, 2) + '\n' },
  ];
}

export const scanBackend: Backend = async (req) => scanFiles(req);

/** `auto`: the scan when the analysis found one, otherwise the given sequential backend. */
export const autoBackend =
  (seq: Backend): Backend =>
  async (req) =>
    chooseMode(analyse(req.module).analysis, req.module, req.sizes).mode === 'scan' ? scanFiles(req) : seq(req);
