import { defineConfig } from 'vitest/config';

// Five projects, disjoint by construction (each excludes those listed before it; unit takes the rest),
// so every test file belongs to exactly one:
//   fuzz    the generated-cell fuzzer (emits WGSL, runs a sample on Dawn)
//   golden  tests that pin generated files (WGSL validated through Dawn first, IR, analyses, diagnostics)
//   gpu     tests that open a Dawn session: kernels, the runtime, the CLI's run and bench
//   unit    everything else, on the CPU only (unit-mocks: the files that replace modules): a test there that opens a GpuSession fails
//           (RNNC_FORBID_GPU, src/runtime/dawn/runtime.ts), and Vulkan finds no driver for one
//           that loads npm webgpu itself; such a file must be listed under gpu.
// The projects that use Dawn open it once first (test/helpers/gpu-setup.ts): no adapter fails them.
// Timeouts are what a cold run (fresh Mesa shader cache, .ci/run) needs on 2 shared cores, plus a
// margin, so that a regression in compile time fails a test rather than slowing the suite.
const fuzz = ['test/fuzz/**/*.test.ts'];
const golden = [
  'test/**/golden*.test.ts',
  'test/frontend/explain.test.ts',
  'test/analyse/examples.test.ts',
  'test/analyse/fixtures.test.ts',
  'test/diagnostics/corpus.test.ts',
];
const gpu = ['test/**/*.gpu.test.ts', 'test/dawn/**/*.test.ts', 'test/cli-run/**/*.test.ts', 'test/bench/tfjs-peer.test.ts'];
const dawnSetup = ['test/helpers/gpu-setup.ts'];
// Files that replace modules (vi.mock): they need a module cache of their own. Every other CPU-only
// file shares its worker's cache (isolate: false), which cut the unit project's import time about 3x
// (a 20-file sample: 99 s of imports to 31 s, 198 s to 116 s wall at load 10).
const mocksModules = ['test/cli/internal-error.test.ts', 'test/driver/output.test.ts', 'test/driver/output-async.test.ts'];
const unitEnv = {
  RNNC_FORBID_GPU: 'this test is in the unit project, which runs on the CPU only; list its file under gpu in vitest.config.ts',
  // Both names of the Vulkan loader's driver list: none here.
  VK_ICD_FILENAMES: '/nonexistent/unit-tests-run-without-a-gpu.json',
  VK_DRIVER_FILES: '/nonexistent/unit-tests-run-without-a-gpu.json',
};

export default defineConfig({
  test: {
    // GPU jobs run in their own Dawn host processes; keep the number of those bounded on 2 cores.
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: 'fuzz', include: fuzz, globalSetup: dawnSetup, testTimeout: 120_000, hookTimeout: 30_000 } },
      { extends: true, test: { name: 'golden', include: golden, exclude: fuzz, globalSetup: dawnSetup, testTimeout: 30_000, hookTimeout: 30_000 } },
      // gpu: the cold CI run (bash ../shared/tools/cold-ci.sh) had scan tests needing more than 30 s to compile their
      // kernels on lavapipe with an empty shader cache (gla, maxplus, minmax: 5-40 s of CPU per kernel, docs/compile-bench.md).
      { extends: true, test: { name: 'gpu', include: gpu, exclude: [...fuzz, ...golden], globalSetup: dawnSetup, testTimeout: 120_000, hookTimeout: 30_000 } },
      { extends: true, test: { name: 'unit', include: ['test/**/*.test.ts'], exclude: [...fuzz, ...golden, ...gpu, ...mocksModules], isolate: false, env: unitEnv, testTimeout: 10_000 } },
      { extends: true, test: { name: 'unit-mocks', include: mocksModules, env: unitEnv, testTimeout: 10_000 } },
    ],
  },
});
