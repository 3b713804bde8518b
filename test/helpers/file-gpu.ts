// The Dawn device of one GPU test file: opened before its tests, closed after them (a live device
// busy-polls a core, and the process does not exit while one is open). The object it returns stands
// for that device from the moment it is open, so a file declares it once at the top.
import { afterAll, beforeAll } from 'vitest';
import { openGpu } from '../../src/driver/run.js';
import type { Device } from '../../src/runtime/device.js';

export function fileGpu(): Device {
  let device: Device | undefined;
  beforeAll(async () => {
    device = await openGpu();
  });
  afterAll(async () => {
    await device?.close();
    device = undefined;
  });
  const open = (): Device => {
    if (!device) throw new Error('fileGpu: the device opens in beforeAll, before the first test');
    return device;
  };
  return {
    get adapter() {
      return open().adapter;
    },
    run: (job) => open().run(job),
    compileShaders: (shaders, options) => open().compileShaders(shaders, options),
    // Closed by afterAll.
    close: async () => {},
  };
}
