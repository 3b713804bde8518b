// Cells that check but once compiled gave WGSL that Tint rejects, or an internal error (found by a random-cell generator),
// each run on Dawn — sequential kernel and scan kernels (default split) — and
// compared with the reference interpreter. Running a kernel is validating it: Dawn refuses a shader
// Tint rejects.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { compileScan } from '../../backends/wgsl-scan/index.js';
import { emitSeq } from '../../backends/wgsl-seq/emit.js';
import { GpuSession } from '../../src/runtime/dawn/runtime.js';
import { expectClose, referenceRun, runData, runScan, runSeq } from './helpers.js';

const load = (name: string) => frontEnd(readFileSync(`test/scan/fixtures/${name}.rnn`, 'utf8')).module!;

let gpu: GpuSession;
beforeAll(async () => {
  gpu = await GpuSession.open();
});
afterAll(async () => {
  await gpu?.close();
});

describe.each(['unbound-index', 'constant-overflow', 'hoisted-condition', 'repeated-dim-output'])('%s', (name) => {
  const module = load(name);
  const sizes = bindDims(module);
  const plan = analyse(module).analysis.plan!;

  it('runs as a sequential kernel and matches the reference', async () => {
    const d = runData(module, 3, 17, 1, true);
    expectClose(await runSeq(gpu, module, sizes, d), referenceRun(module, d), 1e-4, `${name} seq`);
  });

  // The default split only: the fixes are in code every split shares (element, invariants), and a
  // tile split costs lavapipe ~10-30 s of compiling even for these small cells.
  it('runs as a scan and matches the reference', async () => {
    const d = runData(module, 3, 17, 2, true);
    expectClose(await runScan(gpu, module, plan, sizes, d), referenceRun(module, d), 1e-4, `${name} scan`);
  });
});

describe('what the fixes emit', () => {
  it('folds constant overflow to f32_inf() and 0 / 0 to f32_nan(), never to a constant expression', () => {
    const wgsl = emitSeq(load('constant-overflow'), { N: 2 }).wgsl;
    expect(wgsl).toMatch(/f32_inf\(\)/);
    expect(wgsl).toMatch(/f32_nan\(\)/);
    expect(wgsl).not.toMatch(/1\.0f \/ 0\.0f|exp\(100\.0f\)|log\(0\.0f\)/);
  });

  it('keeps a hoisted select condition a bool', () => {
    const module = load('hoisted-condition');
    const code = compileScan(module, analyse(module).analysis.plan!, bindDims(module)).kernels.scan_steps.code;
    expect(code).toMatch(/struct Inv \{\n {4}i0: bool,/);
  });
});
