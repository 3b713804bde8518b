// WebGPU in a Node program that runs rnnc's generated host modules (`import { openNodeDevice } from
// 'rnnc/node'`): npm `webgpu` (Dawn) opened the way rnnc's own runtime opens it, so a program
// does not rediscover its pitfalls (docs/dawn-crash.md, docs/host-module.md):
// - the WebGPU instance is held for as long as the device lives (collected early, Dawn crashed);
// - Dawn's busy event pump is throttled (pump.ts), so it does not take a core from the driver;
// - the device asks for the adapter's own limits and the features the kernels use when present;
// - close() destroys the device and drops the instance, so the process can exit.
// In a browser none of this is needed: pass `(await navigator.gpu.requestAdapter()).requestDevice()`.
import { installPumpThrottle } from './dawn/pump.js';
import { NO_ADAPTER_HINT } from './dawn/hints.js';
import { LIMIT_NAMES } from '../../backends/job.js';

export interface NodeGpu {
  device: GPUDevice;
  adapter: GPUAdapter;
  /** Destroys the device and releases Dawn; the process exits once nothing else holds it. */
  close(): void;
}

export interface NodeDeviceOptions {
  /** Features to require besides those taken when the adapter has them (subgroups, shader-f16, timestamp-query). */
  features?: GPUFeatureName[];
}

const OPTIONAL_FEATURES: GPUFeatureName[] = ['subgroups', 'shader-f16', 'timestamp-query'];
/** Instances of open devices: referenced here so that nothing collects them while their device lives. */
const live = new Set<unknown>();

/** Opens a Dawn device for generated host modules; throws with what to install when there is no adapter. */
export async function openNodeDevice(options: NodeDeviceOptions = {}): Promise<NodeGpu> {
  installPumpThrottle();
  const { create, globals } = await import('webgpu');
  // The host modules use the WebGPU globals (GPUBufferUsage, GPUMapMode) as a browser has them.
  Object.assign(globalThis, globals);
  const instance = create(['disable-dawn-features=timestamp_quantization']);
  const adapter = await instance.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error(`rnnc: ${NO_ADAPTER_HINT}`);
  for (const f of options.features ?? []) if (!adapter.features.has(f)) throw new Error(`rnnc: the adapter lacks the GPU feature '${f}'`);
  const requiredFeatures = [...new Set([...OPTIONAL_FEATURES.filter((f) => adapter.features.has(f)), ...(options.features ?? [])])];
  const requiredLimits: Record<string, number> = {};
  for (const k of LIMIT_NAMES) requiredLimits[k] = adapter.limits[k];
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits, label: 'rnnc-node' });
  live.add(instance);
  let open = true;
  return {
    device,
    adapter,
    close() {
      if (!open) return;
      open = false;
      device.destroy();
      live.delete(instance);
    },
  };
}
