// Running the compiled kernels on the browser's WebGPU and checking them against the reference
// interpreter, both in the page: the same seeded data (src/driver/data.ts), the same comparison as
// `rnnc run --verify` (src/driver/verify.ts, |gpu - ref| <= tolerance * (1 + |ref|)).
import type { CompiledCell, RunArrays, RunResult } from '../../backends/backend.js';
import type { AdapterSummary } from '../../backends/job.js';
import type { Module } from '../../src/compiler/ir/ir.js';
import type { DimSizes } from '../../src/compiler/ir/dims.js';
import type { Target } from '../../src/compiler/plan/plan.js';
import { randomRunData } from '../../src/driver/data.js';
import { verifyRun, type Verification } from '../../src/driver/verify.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { requestRnncDevice, WebGpuExecutor } from '../../src/runtime/webgpu/executor.js';

/** As `rnnc run --verify`. */
export const TOLERANCE = 1e-4;

export const NO_WEBGPU =
  'this browser offers no WebGPU (navigator.gpu is missing): use a Chromium-based browser (Chrome, Edge, Debian\'s chromium), with --enable-unsafe-webgpu where WebGPU is not on by default';
export const NO_ADAPTER =
  'WebGPU found no adapter: the browser needs a Vulkan, Metal or D3D12 driver; headless Chromium on Linux runs on its bundled SwiftShader (VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json)';

export class NoWebGpu extends Error {}

let opened: Promise<WebGpuExecutor> | undefined;

/** The page's one device, opened on first use and kept (its pipelines are cached for later runs). */
export function gpuExecutor(): Promise<WebGpuExecutor> {
  opened ??= (async () => {
    if (!('gpu' in navigator) || !navigator.gpu) throw new NoWebGpu(NO_WEBGPU);
    const adapter = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
    if (!adapter) throw new NoWebGpu(NO_ADAPTER);
    const device = await requestRnncDevice(adapter);
    device.lost.then(() => (opened = undefined));
    return WebGpuExecutor.for(device);
  })();
  opened.catch(() => (opened = undefined));
  return opened;
}

/** Subgroup kernels only where the subgroups hold a scan stripe (8 invocations), as src/driver/run.ts targetOf. */
export const targetOf = (adapter: Pick<AdapterSummary, 'features' | 'subgroupMinSize'>): Target => ({
  subgroups: adapter.features.includes('subgroups') && (adapter.subgroupMinSize ?? 0) >= 8,
});

export interface PageRun {
  batch: number;
  T: number;
  /** A grid cell's rows and columns (T = H * W). */
  grid?: { H: number; W: number };
  seed: number;
  gpu: RunResult;
  verification: Verification;
  gpuMs: number;
  referenceMs: number;
}

/** Runs the compiled cell over seeded random data on the GPU and in the reference interpreter, and compares them. */
/** A grid cell (issue 18) runs on the squarest grid of at most T positions: H rows of W columns. */
export const gridOf = (T: number) => {
  const H = Math.max(1, Math.floor(Math.sqrt(T)));
  return { H, W: Math.max(1, Math.floor(T / H)) };
};

export async function runAndVerify(executor: WebGpuExecutor, module: Module, sizes: DimSizes, compiled: CompiledCell, size: { batch: number; T: number; seed: number }): Promise<PageRun> {
  const { batch, seed } = size;
  const grid = module.grid ? gridOf(size.T) : undefined;
  const T = grid ? grid.H * grid.W : size.T;
  const data = randomRunData(module, { batch, T, sizes, ...(grid ? { grid } : {}) }, seed);
  const arrays: RunArrays = { batch, T, inputs: data.inputs as Record<string, Float32Array>, params: data.params as Record<string, Float32Array> };
  const prepared = compiled.prepare({ batch, T, ...(grid ? { grid } : {}) });
  let t0 = performance.now();
  const buffers = await executor.run(prepared.job(arrays));
  const gpu = prepared.decode(buffers);
  const gpuMs = performance.now() - t0;
  t0 = performance.now();
  const reference = interpret(module, { batch, T, sizes, ...(grid ? { grid } : {}) }, data);
  const referenceMs = performance.now() - t0;
  return { batch, T, ...(grid ? { grid } : {}), seed, gpu, verification: verifyRun(gpu, reference, TOLERANCE, { rejectNonFinite: true }), gpuMs, referenceMs };
}
