// Validation before belief: `rnnc compile --validate` has Tint compile every kernel it is about to
// write; a rejected kernel is reported with Tint's message on the generated line, never written.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { CompiledCell } from '../../backends/backend.js';
import { openGpu } from '../../src/driver/run.js';
import { validateKernels } from '../../src/driver/validate.js';
import { captureCli } from '../cli-run/rnnc.js';

const rnnc = captureCli();
const out = mkdtempSync(join(tmpdir(), 'rnnc-validate-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('rnnc compile --validate', () => {
  it.each([
    ['seq', 'examples/lstm.rnn'],
    ['scan', 'examples/minmax.rnn'],
    ['chunk', 'examples/rwkv7.rnn'],
  ])('--mode %s %s: Tint accepts every kernel, and the files are written', async (mode, file) => {
    const dir = join(out, mode);
    const r = await rnnc('compile', file, '-o', dir, '--mode', mode, '--validate');
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(dir).filter((f) => f.endsWith('.wgsl')).length).toBeGreaterThan(0);
  });

  it('renders a rejected kernel with Tint message and a code frame on the generated WGSL', async () => {
    const broken: CompiledCell = {
      mode: 'seq',
      kernels: [{ label: 'cell.seq', file: 'cell.wgsl', entryPoint: 'main', wgsl: '@compute @workgroup_size(1)\nfn main() {\n    let x: f32 = true;\n}\n' }],
      manifest: {},
      hostModule: async () => '',
      prepare: () => {
        throw new Error('not run');
      },
    };
    const device = await openGpu();
    try {
      const [error, ...more] = await validateKernels(device, broken);
      expect(more).toEqual([]);
      expect(error).toMatch(/internal error: the generated WGSL for shader `cell\.wgsl` does not compile/);
      expect(error).toMatch(/cell\.wgsl:3:/);
      expect(error).toContain('let x: f32 = true;');
    } finally {
      await device.close();
    }
  });
});
