// Our reproduction of the npm webgpu 0.6.2 crash (docs/dawn-crash.md): a hot JavaScript loop runs
// while a Dawn device is alive. `hot` runs an interpreter-like loop (a float32 scan, the kind of
// work the reference interpreter does) between GPU rounds until V8 optimizes it (OSR); `cold` does
// the same amount of GPU work with no hot JavaScript. Exit 0 and "ok" means it survived.
//   node test/dawn/crash-repro.mjs hot           # dies most runs with 0.6.2
//   node --no-opt test/dawn/crash-repro.mjs hot  # the mitigation: survives
import { create, globals } from 'webgpu';

const mode = process.argv[2] ?? 'hot';
if (mode !== 'hot' && mode !== 'cold') throw new Error('usage: crash-repro.mjs [hot|cold]');
Object.assign(globalThis, globals);
const gpu = create(['disable-dawn-features=timestamp_quantization']);
const adapter = await gpu.requestAdapter();
if (!adapter) throw new Error('no WebGPU adapter (see scripts/setup-vulkan.sh)');
const device = await adapter.requestDevice();

const n = 1 << 20;
const code = `
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> h: array<f32>;
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) g: vec3u) {
  if (g.x < ${n}u) { h[g.x] = a[g.x] * h[g.x] + 1.0; }
}`;
const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
const a = device.createBuffer({ size: n * 4, usage });
const h = device.createBuffer({ size: n * 4, usage });
const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code }), entryPoint: 'main' } });
const bindGroup = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [a, h].map((buffer, binding) => ({ binding, resource: { buffer } })) });

// A scan h_t = a_t * h_{t-1} + b_t in float32: hot enough for V8 to optimize mid-loop.
function scan(as, bs, out) {
  let x = 0;
  for (let t = 0; t < as.length; t++) {
    x = Math.fround(as[t] * x + bs[t]);
    out[t] = x;
  }
  return x;
}

const as = new Float32Array(n), bs = new Float32Array(n), out = new Float32Array(n);
let check = 0;
for (let round = 0; round < 4; round++) {
  if (mode === 'hot') {
    for (let t = 0; t < n; t++) { as[t] = Math.sin(t * 0.001 + round); bs[t] = (t % 17) * 0.125; }
    check += scan(as, bs, out);
  } else {
    as.fill(0.5); bs.fill(0.125);
  }
  device.queue.writeBuffer(a, 0, as);
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline); pass.setBindGroup(0, bindGroup); pass.dispatchWorkgroups(n / 256); pass.end();
  device.queue.submit([enc.finish()]);
  await device.queue.onSubmittedWorkDone();
}
device.destroy();
console.log(`ok ${mode} ${check.toFixed(3)}`);
process.exit(0);
