// A child process that runs one generated host module on Dawn, as a user's program would: it opens
// a WebGPU device through npm `webgpu` (with `subgroups` when the adapter has it), imports the
// module, calls run<Name>(device, run) and sends the result back. Started by dawn.ts with
// `--no-opt` (npm webgpu crashes when V8 optimizes code while a device is alive, docs/dawn-crash.md).
import { pathToFileURL } from 'node:url';

const { create, globals } = await import('webgpu');
Object.assign(globalThis, globals);

process.once('message', async ({ modulePath, entry, run }) => {
  let device;
  try {
    const adapter = await create([]).requestAdapter();
    if (!adapter) throw new Error('no WebGPU adapter');
    device = await adapter.requestDevice({ requiredFeatures: ['subgroups'].filter((f) => adapter.features.has(f)) });
    const errors = [];
    device.addEventListener('uncapturederror', (e) => errors.push(e.error.message));
    const module = await import(pathToFileURL(modulePath).href);
    const result = await module[entry](device, run);
    if (errors.length) throw new Error(`GPU errors: ${errors.join('; ')}`);
    process.send({ ok: true, result }, () => process.exit(0));
  } catch (e) {
    process.send({ ok: false, error: e instanceof Error ? e.stack : String(e) }, () => process.exit(1));
  } finally {
    device?.destroy();
  }
});
