// The gradient function's module (`<cell>.grad.ts`, backends/host/host-grad.ts) type-checks as a
// user's project would check it (`tsc --strict`, WebGPU's types and rnnc/runtime only), with the
// gradient cells' modules it imports (under RNNC_TEST_MATRIX=full); and imports them by their file names.
import { describe, expect, it } from 'vitest';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { plan } from '../../src/driver/compile.js';
import { gradFiles, planGrad } from '../../src/driver/grad.js';
import { BIMAMBA, moduleOf } from '../grad/directions-cells.js';
import { typeCheck } from './typecheck.js';
import { FULL_MATRIX } from '../helpers/matrix.js';

async function moduleFiles(text: string, dims: Record<string, number>): Promise<Record<string, string>> {
  const m = moduleOf(text);
  const g = planGrad(plan(m, analyse(m).analysis, { mode: 'auto', dims }), 'auto');
  return Object.fromEntries((await gradFiles(g)).filter((f) => f.name.endsWith('.ts')).map((f) => [f.name, f.text!]));
}

describe('<cell>.grad.ts', () => {
  it('imports each gradient cell from its host module file (a scan module is <cell>.scan.ts)', async () => {
    const text = (await moduleFiles(BIMAMBA, { D: 2, N: 2 }))['bimamba.grad.ts']!;
    expect(text).toContain("import { runBimambaReversedGrad } from './bimamba_reversed_grad.scan.js';");
    expect(text).toContain("import { runBimambaForwardSaving } from './bimamba_forward_saving.scan.js';");
  });

  // tsc over the DOM and WebGPU types takes about 20 s of CPU: under the full matrix (CI time).
  if (FULL_MATRIX) it('type-checks strictly with the (scan) modules it imports: bidirectional bimamba, a forward part and a reversed one', async () => {
    const files = await moduleFiles(BIMAMBA, { D: 2, N: 2 });
    expect(Object.keys(files)).toContain('bimamba.grad.ts');
    expect(files['bimamba.grad.ts']).toMatch(/export async function gradBimamba\(device: GPUDevice, run: BimambaGradRun\): Promise<BimambaGradients>/);
    expect(files['bimamba.grad.ts']).toContain("from './bimamba_reversed_grad.scan.js'");
    expect(typeCheck(files)).toEqual([]);
  }, 60_000);
});
