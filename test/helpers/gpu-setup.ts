// Global setup of the test projects that use Dawn: open one session before any test file runs. No
// adapter fails the whole project at once, with the install hint (never a skip); otherwise the
// adapter and the driver cache in use are reported, since a warm Mesa cache hides compile time.
import { GpuSession } from '../../src/runtime/dawn/runtime.js';

export default async function openDawnOnce(): Promise<void> {
  const session = await GpuSession.open();
  try {
    const a = session.adapter;
    const cache = process.env['MESA_SHADER_CACHE_DIR'];
    console.log(
      `Dawn adapter: ${a.description || a.device} (${a.vendor}${a.isSoftware ? ', software' : ''}); ` +
        `Mesa shader cache: ${cache ? `${cache} (private to this run)` : "the user's (may be warm: run through .ci/run or npm test for a cold one)"}`,
    );
  } finally {
    await session.close();
  }
}
