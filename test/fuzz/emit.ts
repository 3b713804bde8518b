// The fuzzer's one door to the backends: every kernel a checked cell compiles to in every mode its
// analysis offers, Tint's verdict on each (through the Dawn host), and runs checked against the
// reference interpreter. Kept in this one module so that it can follow the library API as it moves.
import type { Module } from '../../src/compiler/ir/ir.js';
import type { DimSizes } from '../../src/compiler/ir/dims.js';
import type { Analysis } from '../../src/compiler/analyse/types.js';
import { emitSeq } from '../../backends/wgsl-seq/emit.js';
import { packRun, unpackRun, type RunResult } from '../../backends/wgsl-seq/pack.js';
import { buildScanJob, compileScan, scanSupport, subgroupsUsable } from '../../backends/wgsl-scan/index.js';
import { ChunkUnsupported, chunkShape, compileChunk } from '../../backends/wgsl-chunk/index.js';
import type { GpuJob, GpuShaderSpec } from '../../backends/job.js';
import type { GpuSession } from '../../src/runtime/dawn/runtime.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { randomRunData } from '../../src/driver/data.js';
import { verifyRun, type Verification } from '../../src/driver/verify.js';
import type { Problem } from './properties.js';

export type Mode = 'seq' | 'scan' | 'chunk';

export interface EmittedKernel {
  /** `<mode>[.variant].<kernel>`, unique within a cell. */
  label: string;
  mode: Mode;
  wgsl: string;
  entryPoint: string;
}

export interface Emission {
  kernels: EmittedKernel[];
  /** Modes the analysis offers that a backend declined, with its reason (not a failure). */
  declined: { mode: Mode; reason: string }[];
  /** A backend that threw: a compiler bug. */
  failures: { mode: Mode; message: string }[];
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Property (c), first half: every mode the analysis offers emits without throwing. */
export function emitProblems({ module, analysis, sizes }: { module: Module; analysis: Analysis; sizes: DimSizes }, options?: { withoutSubgroups?: boolean }): { problems: Problem[]; emission: Emission } {
  const emission = emitAll(module, analysis, sizes, options);
  return { problems: emission.failures.map((f) => ({ kind: `emit: ${f.mode}`, message: f.message })), emission };
}

/**
 * The kernels of every mode: seq always; scan when the analysis planned one (for adapters with
 * subgroups and, unless `withoutSubgroups` is false, without); chunk for matrix-affine (+, ×) cells.
 */
export function emitAll(module: Module, analysis: Analysis, sizes: DimSizes, { withoutSubgroups = true } = {}): Emission {
  const out: Emission = { kernels: [], declined: [], failures: [] };
  const attempt = (mode: Mode, fn: () => void) => {
    try {
      fn();
    } catch (e) {
      out.failures.push({ mode, message: message(e) });
    }
  };
  attempt('seq', () => {
    const k = emitSeq(module, sizes);
    out.kernels.push({ label: 'seq', mode: 'seq', wgsl: k.wgsl, entryPoint: k.entryPoint });
  });
  const plan = analysis.plan;
  if (plan) {
    const support = scanSupport(module, plan, sizes);
    if (!support.ok) out.declined.push({ mode: 'scan', reason: support.reason });
    else
      attempt('scan', () => {
        // Both targets: adapters with subgroups, and without (`rnnc compile --no-subgroups`).
        for (const subgroups of withoutSubgroups ? [true, false] : [true]) {
          const k = compileScan(module, plan, sizes, { subgroups });
          for (const kernel of Object.values(k.kernels))
            out.kernels.push({ label: `scan${subgroups ? '' : '.nosub'}.${kernel.name}`, mode: 'scan', wgsl: kernel.code, entryPoint: kernel.name });
        }
      });
  }
  let chunkable = true;
  try {
    chunkShape(module, sizes, plan);
  } catch (e) {
    if (!(e instanceof ChunkUnsupported)) out.failures.push({ mode: 'chunk', message: message(e) });
    chunkable = false;
  }
  if (chunkable) {
    try {
      const k = compileChunk(module, sizes, plan ? { plan } : {});
      for (const [pass, kernel] of Object.entries(k.passes)) out.kernels.push({ label: `chunk.${pass}`, mode: 'chunk', wgsl: kernel.code, entryPoint: 'main' });
    } catch (e) {
      // The chunk backend's own size limits (workgroup invocations and memory) are refusals, not bugs.
      if (/^chunk backend: /.test(message(e))) out.declined.push({ mode: 'chunk', reason: message(e) });
      else out.failures.push({ mode: 'chunk', message: message(e) });
    }
  }
  return out;
}

export interface ShaderVerdict {
  label: string;
  /** Tint's error messages; empty when the shader is valid. */
  errors: string[];
}

/** Tint's verdict on each shader (createShaderModule + getCompilationInfo in the Dawn host), in one request per batch. */
export async function validateShaders(session: GpuSession, shaders: GpuShaderSpec[]): Promise<ShaderVerdict[]> {
  if (shaders.length === 0) return [];
  const needsSubgroups = shaders.some((s) => /\benable subgroups\b/.test(s.code));
  const reports = await session.compileShaders(shaders, needsSubgroups ? { requiredFeatures: ['subgroups'] } : {});
  return reports.map((r) => ({ label: r.label, errors: r.messages.filter((m) => m.type === 'error').map((m) => `${r.label}:${m.line}:${m.column}: ${m.message}`) }));
}

export interface RunCheck {
  mode: 'seq' | 'scan';
  verification?: Verification;
  /** What went wrong: a mismatch with the reference, or the mode failing to build or run. */
  problems: Problem[];
}

/**
 * Runs the seq kernel (and the scan, when offered) on a small batch and checks every output and final
 * state against the float64 reference interpreter.
 */
export async function runAndVerify(
  session: GpuSession,
  module: Module,
  analysis: Analysis,
  sizes: DimSizes,
  { batch = 3, T = 9, seed = 1, tolerance = 1e-3 }: { batch?: number; T?: number; seed?: number; tolerance?: number } = {},
): Promise<RunCheck[]> {
  const data = randomRunData(module, { batch, T, sizes }, seed);
  const reference = interpret(module, { batch, T, sizes }, data);
  const arrays = { batch, T, inputs: data.inputs as Record<string, Float32Array>, params: data.params as Record<string, Float32Array> };
  const check = async (mode: RunCheck['mode'], run: () => Promise<RunResult>): Promise<RunCheck> => {
    try {
      const verification = verifyRun(await run(), reference, tolerance);
      const wrong = verification.tensors.filter((t) => !t.ok).map((t) => `${t.kind} ${t.name}: error ${t.maxErr} at ${t.worst?.index} (gpu ${t.worst?.gpu}, reference ${t.worst?.ref})`);
      return { mode, verification, problems: wrong.length ? [{ kind: `mismatch: ${mode}`, message: wrong.join('; ') }] : [] };
    } catch (e) {
      return { mode, problems: [{ kind: `run: ${mode}`, message: message(e) }] };
    }
  };
  const checks = [
    await check('seq', async () => {
      const seq = emitSeq(module, sizes);
      const packed = packRun(module, seq, arrays);
      const job: GpuJob = {
        shaders: [{ label: 'seq', code: seq.wgsl, entryPoint: seq.entryPoint }],
        buffers: packed.buffers,
        passes: [{ shader: 'seq', bindings: packed.bindings, dispatch: packed.dispatch }],
      };
      return unpackRun(seq, batch, T, (await session.run(job)).buffers);
    }),
  ];
  const plan = analysis.plan;
  if (plan && scanSupport(module, plan, sizes).ok)
    checks.push(
      await check('scan', async () => {
        const kernels = compileScan(module, plan, sizes, { subgroups: subgroupsUsable(session.adapter) });
        const scan = buildScanJob(module, kernels, arrays);
        return scan.decode((await session.run(scan.job)).buffers);
      }),
    );
  return checks;
}
