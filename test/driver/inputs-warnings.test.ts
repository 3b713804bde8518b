// `rnnc run --inputs DIR` warns, naming the file, about every file it does not read (a typo such as
// h0.npy or x_.npy would otherwise pass unnoticed) and about every tensor that has no file there
// (issue 12). These are the driver's texts; the CLI prints each as `rnnc: warning: TEXT` on stderr and
// lists them under `warnings` in --json (test/cli/inputs-warnings.gpu.test.ts). No GPU here.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import { assembleRunData, readInputDir } from '../../src/driver/inputs.js';
import { formatNpy } from '../../src/driver/npy.js';

const root = mkdtempSync(join(tmpdir(), 'rnnc-inputs-warn-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

// Two states: one starting at a constant, one at a param.
const cell = frontEnd(`rnn decay {
  dims D = 4
  input  x[D]
  param  w[D], h0[D]
  state  h[D] = 0
  state  c[D] = h0
  h[d] <- w[d] * h[d] + x[d]
  c[d] <- c[d] + h[d]
  output y[d] = h[d] + c[d]
}
`).module!;
const sizes = bindDims(cell);
const size = { batch: 2, T: 3 };

const npy = (shape: number[]) => formatNpy({ shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });

function dirWith(name: string, files: Record<string, Uint8Array | string | 'dir'>): string {
  const dir = join(root, name);
  mkdirSync(dir);
  for (const [file, content] of Object.entries(files)) {
    if (content === 'dir') mkdirSync(join(dir, file));
    else writeFileSync(join(dir, file), content);
  }
  return dir;
}

describe('files that match nothing', () => {
  it('typos, dims, outputs, .final of a non-state and files that are not .npy are named; hidden files and folders are skipped', async () => {
    const dir = dirWith('typos', {
      'x.npy': npy([2, 3, 4]),
      'x_.npy': npy([2, 3, 4]),
      'H.npy': npy([2, 4]),
      'h00.npy': npy([2, 4]),
      'zzz.npy': npy([1]),
      'D.npy': npy([1]),
      'y.npy': npy([2, 3, 4]),
      'y.final.npy': npy([2, 4]),
      'x.final.npy': npy([2, 4]),
      'w.npz': 'zip',
      'README.md': 'notes',
      '.hidden.npy': npy([1]),
      'sub': 'dir',
      'c.npy': 'dir',
    });
    const read = await readInputDir(dir, cell);
    expect([...read.files.keys()]).toEqual(['x']);
    expect(read.warnings).toEqual([
      `ignoring ${join(dir, 'D.npy')}: \`D\` is a dim of decay; set its size with --dim D=SIZE`,
      `ignoring ${join(dir, 'H.npy')}: decay has no input, param or state \`H\`; did you mean h.npy?`,
      `ignoring ${join(dir, 'README.md')}: not a .npy file`,
      `ignoring ${join(dir, 'c.npy')}: a directory, not a .npy file`,
      `ignoring ${join(dir, 'h00.npy')}: decay has no input, param or state \`h00\`; did you mean h0.npy?`,
      `ignoring ${join(dir, 'w.npz')}: not a .npy file (param \`w\` is read from w.npy)`,
      `ignoring ${join(dir, 'x.final.npy')}: \`x\` is an input of decay, read from x.npy; only states resume from NAME.final.npy`,
      `ignoring ${join(dir, 'x_.npy')}: decay has no input, param or state \`x_\`; did you mean x.npy?`,
      `ignoring ${join(dir, 'y.final.npy')}: \`y\` is an output of decay, not a state; outputs are not read`,
      `ignoring ${join(dir, 'zzz.npy')}: decay has no input, param or state \`zzz\``,
    ]);
    // An output's file is what --save writes next to the final states: a note, not a warning.
    expect(read.notes).toEqual([`rnnc: ignoring ${join(dir, 'y.npy')}: \`y\` is an output of decay (what --save writes), not read`]);
  });

  it('a directory with exactly the files it needs: no warnings', async () => {
    const dir = dirWith('complete', { 'x.npy': npy([2, 3, 4]), 'w.npy': npy([4]), 'h0.npy': npy([4]), 'h.npy': npy([2, 4]), 'c.final.npy': npy([2, 4]) });
    const read = await readInputDir(dir, cell);
    expect(read.warnings).toEqual([]);
    expect(read.notes).toEqual([`rnnc: state \`c\` starts from ${join(dir, 'c.final.npy')} (a saved final state: the run resumes from it)`]);
    expect(assembleRunData(cell, sizes, size, 0, read).warnings).toEqual([]);
  });
});

describe('tensors without a file', () => {
  it('states name both files that would have been read and the initial value used; inputs and params the seed', async () => {
    const dir = dirWith('missing', { 'x.npy': npy([2, 3, 4]), 'h0.npy': npy([4]) });
    const read = await readInputDir(dir, cell);
    const assembled = assembleRunData(cell, sizes, size, 7, read);
    expect(assembled.warnings).toEqual([
      `no w.npy in ${dir}: using seeded random values for param \`w\` (seed 7)`,
      `no h.npy or h.final.npy in ${dir}: state \`h\` starts at the spec's initial value (0)`,
      `no c.npy or c.final.npy in ${dir}: state \`c\` starts at the spec's initial value (param \`h0\`)`,
    ]);
    expect(assembled.sources).toEqual({ x: join(dir, 'x.npy'), w: 'random', h0: join(dir, 'h0.npy'), h: 'initial value', c: 'initial value' });
  });

  it('without --inputs nothing is warned about', () => {
    expect(assembleRunData(cell, sizes, size, 0, undefined).warnings).toEqual([]);
  });
});
