// The library side of `rnnc compile`: a checked module and dim sizes in, the files to write out.
// A mode selects a backend; each backend turns the module into a kernel, a manifest and a host module.
import type { Module } from '../compiler/ir/ir.js';
import type { DimSizes } from '../compiler/ir/dims.js';
import type { SourceFile } from '../compiler/diagnostics/render.js';
import { emitSeq } from '../../backends/wgsl-seq/emit.js';
import { buildManifest, manifestText } from '../../backends/host/manifest.js';
import { hostModule } from '../../backends/host/host-module.js';
import { autoBackend, scanBackend } from './compile-scan.js';

export interface GeneratedFile {
  /** File name inside the output directory. */
  name: string;
  text: string;
}

export interface CompileRequest {
  module: Module;
  sizes: DimSizes;
  source: SourceFile;
  /** Scan kernels may use subgroup operations (default true). */
  subgroups?: boolean;
}

export type Backend = (req: CompileRequest) => Promise<GeneratedFile[]>;

/** `<name>.wgsl`, `<name>.json` (manifest) and `<name>.ts` (host module). */
const seqBackend: Backend = async ({ module, sizes, source }) => {
  const kernel = emitSeq(module, sizes, { source });
  const files = { source: source.path, kernel: `${module.name}.wgsl`, host: `${module.name}.ts` };
  return [
    { name: files.kernel, text: kernel.wgsl },
    { name: `${module.name}.json`, text: manifestText(buildManifest(module, kernel, files)) },
    { name: files.host, text: await hostModule(module, kernel, source.path) },
  ];
};

/** Backends by `--mode`. The scan backend registers itself here. */
export const backends: Record<string, Backend> = { seq: seqBackend, scan: scanBackend, auto: autoBackend(seqBackend) };

export async function compileModule(mode: string, req: CompileRequest): Promise<GeneratedFile[]> {
  const backend = backends[mode];
  if (!backend) throw new Error(`no backend for mode '${mode}'`);
  return backend(req);
}
