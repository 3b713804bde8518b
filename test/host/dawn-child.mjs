// A child process that runs generated host modules on Dawn, as a user's program would: it opens a
// WebGPU device through npm `webgpu` (with `subgroups` when the adapter has it), imports each
// module, calls run<Name>(device, run) and sends the results back. Started by dawn.ts with
// `--no-opt` (npm webgpu crashes when V8 optimizes code while a device is alive, docs/dawn-crash.md).
import { pathToFileURL } from 'node:url';

const { create, globals } = await import('webgpu');
Object.assign(globalThis, globals);

/** The WebGPU instance, held at module scope while its device lives: with the instance collected, the process died here (SIGSEGV, or std::system_error from Dawn) during the first run. */
let instance;

process.once('message', async (calls) => {
  let device;
  try {
    // Every module is loaded first, so that one that does not load costs no device.
    const modules = [];
    for (const { modulePath } of calls) modules.push(await import(pathToFileURL(modulePath).href));
    instance = create([]);
    const adapter = await instance.requestAdapter();
    if (!adapter) throw new Error('no WebGPU adapter');
    device = await adapter.requestDevice({ requiredFeatures: ['subgroups', 'shader-f16'].filter((f) => adapter.features.has(f)) });
    const errors = [];
    device.addEventListener('uncapturederror', (e) => errors.push(e.error.message));
    // The modules' runtime, the same instance they import (rnnc/runtime resolves to this repository's dist/).
    const { HostGpu } = await import('rnnc/runtime');
    const results = [];
    for (const [k, { entry, run }] of calls.entries()) {
      const result = await modules[k][entry](device, run);
      // What the device's runtime had made by the end of this call: pipelines and buffers, counted.
      results.push({ ...result, made: { ...HostGpu.for(device).made } });
      if (errors.length) throw new Error(`GPU errors in ${entry}: ${errors.join('; ')}`);
    }
    process.send({ ok: true, results }, () => process.exit(0));
  } catch (e) {
    process.send({ ok: false, error: e instanceof Error ? e.stack : String(e) }, () => process.exit(1));
  } finally {
    device?.destroy();
    instance = undefined;
  }
});
