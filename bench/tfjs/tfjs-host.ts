// The TensorFlow.js peer's process: TF.js's WebGPU backend on a Dawn device from npm `webgpu`,
// forked by tfjs-peer.ts with `--no-opt`. npm webgpu 0.6.2 crashes a process whose JavaScript V8
// optimizes while a device is alive (docs/dawn-crash.md), so TF.js must not share a process with
// hot code. This process only makes tensors, calls tf.cumsum and reads results back; the checking
// (a hot loop) is the parent's.
import v8 from 'node:v8';
import type { TfjsReply, TfjsRequest } from './tfjs-peer.js';

// Must run before webgpu is loaded, hence the dynamic imports below.
v8.setFlagsFromString('--no-opt');

if (!process.send) {
  console.error('bench/tfjs/tfjs-host is started by bench/tfjs/tfjs-peer (child_process.fork), not directly');
  process.exit(2);
}

const { create, globals } = await import('webgpu');
Object.assign(globalThis, globals);
// TF.js's WebGPU backend looks for navigator.gpu (Node 20 has no navigator at all).
const gpu: GPU | null = create(['disable-dawn-features=timestamp_quantization']);
Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });

const tf = await import('@tensorflow/tfjs-core');
const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');

const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
if (!adapter) {
  console.error('tfjs host: no WebGPU adapter (see src/runtime/dawn/host.ts for the drivers that work)');
  process.exit(1);
}
// The limits TF.js's own backend factory raises to the adapter's maxima, so long vectors fit.
const limitNames = [
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupSizeX',
  'maxComputeInvocationsPerWorkgroup',
] as const;
let device: GPUDevice | null = await adapter.requestDevice({
  requiredLimits: Object.fromEntries(limitNames.map((k) => [k, adapter.limits[k]])),
  label: 'tfjs peer',
});
device.lost.then((info) => {
  if (info.reason === 'destroyed') return;
  console.error(`tfjs host: the GPU device was lost: ${info.message}`);
  process.exit(3);
});
// Kernels are registered under the backend name 'webgpu'; replace the package's factory (which would
// open a second device) with one that wraps ours, so that we can destroy it at the end.
if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu');
tf.registerBackend('webgpu', () => new WebGPUBackend(device!, adapter.info));
await tf.setBackend('webgpu');
// Keep everything on the GPU: some of TF.js's WebGPU kernels hand small inputs to CPU code (cumsum does not today).
tf.env().set('WEBGPU_CPU_FORWARD', false);

function send(msg: TfjsReply): Promise<void> {
  return new Promise((resolve) => process.send!(msg, undefined, {}, () => resolve()));
}

function exit(code: number): never {
  tf.removeBackend('webgpu'); // disposes the backend's buffer pools
  device?.destroy();
  device = null;
  process.exit(code);
}

/** Whole calls of cumsum along the last axis: tensor from host data, cumsum, read back. */
async function cumsum(data: Float32Array, shape: number[], repeats: number, warmup: number) {
  const timesNs: number[] = [];
  let result: Float32Array = new Float32Array(0);
  for (let r = 0; r < warmup + repeats; r++) {
    const t0 = process.hrtime.bigint();
    const x = tf.tensor(data, shape, 'float32');
    const y = tf.cumsum(x, shape.length - 1);
    const values = (await y.data()) as Float32Array;
    const elapsed = Number(process.hrtime.bigint() - t0);
    x.dispose();
    y.dispose();
    if (r >= warmup) timesNs.push(elapsed);
    result = values;
  }
  return { timesNs, result };
}

async function handle(req: TfjsRequest): Promise<void> {
  try {
    if (req.type === 'close') {
      await send({ id: req.id, ok: true, value: null });
      exit(0);
    }
    await send({ id: req.id, ok: true, value: await cumsum(req.data, req.shape, req.repeats, req.warmup) });
  } catch (e) {
    await send({ id: req.id, ok: false, error: e instanceof Error ? e.message : String(e) });
  }
}

let queue = Promise.resolve();
process.on('message', (req: TfjsRequest) => {
  queue = queue.then(() => handle(req));
});
// Never outlive the parent: an orphaned process with a live device would keep a core busy.
process.on('disconnect', () => exit(0));
await send({ id: 0, ok: true, value: { adapter: adapter.info.description || adapter.info.device || adapter.info.vendor, tfjs: tf.version_core } });
