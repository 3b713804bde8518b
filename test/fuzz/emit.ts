// The fuzzer's one door to the backends, through the library API (src/driver/index.ts): every mode
// the planner offers a checked cell (seq, scan, chunk; the scan for adapters with and without
// subgroups), `auto`'s choice, Tint's verdict on every kernel, and runs checked against the float64
// reference interpreter.
import { emit, plan, prepareRun, runPrepared, RnncError, targetOf, type Mode } from '../../src/driver/index.js';
import type { Module } from '../../src/compiler/ir/ir.js';
import type { DimSizes } from '../../src/compiler/ir/dims.js';
import type { Analysis } from '../../src/compiler/analyse/types.js';
import type { Target } from '../../src/compiler/plan/plan.js';
import type { GpuShaderSpec } from '../../backends/job.js';
import type { Device } from '../../src/runtime/device.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { randomRunData } from '../../src/driver/data.js';
import { verifyRun, type Verification } from '../../src/driver/verify.js';
import type { Problem } from './properties.js';

export type { Mode };

export interface EmittedKernel {
  /** `<mode>[.nosub].<kernel label>`, unique within a cell. */
  label: string;
  mode: Mode;
  wgsl: string;
  entryPoint: string;
}

export interface Emission {
  kernels: EmittedKernel[];
  /** The modes the planner refused, with its reason (not a failure). */
  declined: { mode: Mode; reason: string }[];
  /** What `auto` chose. */
  auto?: Mode;
  /** A plan or a backend that threw anything but a refusal: a compiler bug. */
  failures: { mode: Mode | 'auto'; message: string }[];
}

interface Cell {
  module: Module;
  analysis: Analysis;
  sizes: DimSizes;
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));
const MODES: Mode[] = ['seq', 'scan', 'chunk'];

/**
 * The kernels of every mode the planner takes, for adapters with subgroups and (unless
 * `withoutSubgroups` is false) without; and `auto`'s choice, which must be one of those.
 */
export function emitAll({ module, analysis, sizes }: Cell, { withoutSubgroups = true } = {}): Emission {
  const out: Emission = { kernels: [], declined: [], failures: [] };
  const targets: Target[] = withoutSubgroups ? [{ subgroups: true }, { subgroups: false }] : [{ subgroups: true }];
  for (const mode of MODES) {
    for (const target of targets) {
      // Only the scan's kernels depend on the target.
      if (mode !== 'scan' && !target.subgroups) continue;
      let compilation;
      try {
        compilation = plan(module, analysis, { mode, dims: sizes, target });
      } catch (e) {
        if (e instanceof RnncError) out.declined.push({ mode, reason: e.message });
        else out.failures.push({ mode, message: message(e) });
        break;
      }
      try {
        for (const k of emit(compilation).kernels)
          out.kernels.push({ label: `${mode}${target.subgroups ? '' : '.nosub'}.${k.label}`, mode, wgsl: k.wgsl, entryPoint: k.entryPoint });
      } catch (e) {
        out.failures.push({ mode, message: message(e) });
      }
    }
  }
  try {
    const auto = plan(module, analysis, { mode: 'auto', dims: sizes }).plan.mode;
    out.auto = auto;
    // A failure of the chosen mode is reported once, under that mode.
    if (!out.kernels.some((k) => k.mode === auto) && !out.failures.some((f) => f.mode === auto))
      out.failures.push({ mode: 'auto', message: `auto chose ${auto}, which did not emit` });
  } catch (e) {
    out.failures.push({ mode: 'auto', message: message(e) });
  }
  return out;
}

/** Property (c), first half: every mode the planner offers emits without throwing. */
export function emitProblems(cell: Cell, options?: { withoutSubgroups?: boolean }): { problems: Problem[]; emission: Emission } {
  const emission = emitAll(cell, options);
  return { problems: emission.failures.map((f) => ({ kind: `emit: ${f.mode}`, message: f.message })), emission };
}

export interface ShaderVerdict {
  label: string;
  /** Tint's error messages; empty when the shader is valid. */
  errors: string[];
}

/** Tint's verdict on each shader (createShaderModule + getCompilationInfo in the Dawn host), many shaders per request. */
export async function validateShaders(device: Device, shaders: GpuShaderSpec[]): Promise<ShaderVerdict[]> {
  if (shaders.length === 0) return [];
  const needsSubgroups = shaders.some((s) => /\benable subgroups\b/.test(s.code));
  const reports = await device.compileShaders(shaders, needsSubgroups ? { requiredFeatures: ['subgroups'] } : {});
  return reports.map((r) => ({ label: r.label, errors: r.messages.filter((m) => m.type === 'error').map((m) => `${r.label}:${m.line}:${m.column}: ${m.message}`) }));
}

export interface RunCheck {
  mode: Mode;
  verification?: Verification;
  /** What went wrong: a mismatch with the reference, or the mode failing to build or run. */
  problems: Problem[];
}

/**
 * Runs every mode the planner offers (for this adapter) on a small batch and checks every output and
 * final state against the float64 reference interpreter.
 */
export async function runAndVerify(
  device: Device,
  cell: Cell,
  { batch = 3, T = 9, seed = 1, tolerance = 1e-3 }: { batch?: number; T?: number; seed?: number; tolerance?: number } = {},
): Promise<RunCheck[]> {
  const { module, sizes } = cell;
  const data = randomRunData(module, { batch, T, sizes }, seed);
  const reference = interpret(module, { batch, T, sizes }, data);
  const arrays = { batch, T, inputs: data.inputs as Record<string, Float32Array>, params: data.params as Record<string, Float32Array> };
  const checks: RunCheck[] = [];
  for (const mode of MODES) {
    let prepared;
    try {
      prepared = prepareRun(cell, { mode, dims: sizes, target: targetOf(device.adapter), verb: 'run' }, { batch, T });
    } catch (e) {
      if (e instanceof RnncError) continue; // not offered for this cell
      checks.push({ mode, problems: [{ kind: `run: ${mode}`, message: message(e) }] });
      continue;
    }
    try {
      const verification = verifyRun(await runPrepared(device, prepared, arrays, sizes), reference, tolerance);
      const wrong = verification.tensors.filter((t) => !t.ok).map((t) => `${t.kind} ${t.name}: error ${t.maxErr} at ${t.worst?.index} (gpu ${t.worst?.gpu}, reference ${t.worst?.ref})`);
      checks.push({ mode, verification, problems: wrong.length ? [{ kind: `mismatch: ${mode}`, message: wrong.join('; ') }] : [] });
    } catch (e) {
      checks.push({ mode, problems: [{ kind: `run: ${mode}`, message: message(e) }] });
    }
  }
  return checks;
}
