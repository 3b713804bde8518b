// `rnnc run --inputs DIR` as users reach for it (issue 12): resuming from what --save wrote, dims the
// spec leaves open taken from the files, a hint when a file disagrees with a sized dim, empty data and
// flags that used to be accepted silently.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeNpy } from '../../src/driver/npy.js';
import { captureCli } from '../cli-run/rnnc.js';

const rnnc = captureCli();
const root = mkdtempSync(join(tmpdir(), 'rnnc-inputs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const cell = (dims: string) => `rnn decay {\n  dims ${dims}\n  input x[D]\n  state h[D] = 0\n  h[d] <- 0.5 * h[d] + x[d]\n  output y[d] = h[d]\n}\n`;
const open = join(root, 'open.rnn');
const sized = join(root, 'sized.rnn');
writeFileSync(open, cell('D'));
writeFileSync(sized, cell('D = 8'));

async function dirWith(name: string, files: Record<string, { shape: number[]; fill?: number }>): Promise<string> {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, { shape, fill = 1 }] of Object.entries(files)) await writeNpy(join(dir, file), { shape, data: new Float32Array(shape.reduce((n, s) => n * s, 1)).fill(fill) });
  return dir;
}

describe('rnnc run --inputs', () => {
  it('takes a dim the spec leaves open from the files', async () => {
    const dir = await dirWith('open-dim', { 'x.npy': { shape: [2, 5, 6] } });
    const r = await rnnc('run', open, '--inputs', dir, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ batch: 2, T: 5, dims: { D: 6 } });
  });

  it('names the --dim flag when a file disagrees with a sized dim', async () => {
    const dir = await dirWith('sized-dim', { 'x.npy': { shape: [2, 5, 6] } });
    const r = await rnnc('run', sized, '--inputs', dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`rnnc: ${join(dir, 'x.npy')} has shape (2, 5, 6), but input \`x\` is [batch, T, D] = (2, 5, 8); if the file is right, pass --dim D=6\n`);
  });

  it('resumes from a saved final state: h.final.npy is read as the initial state of h', async () => {
    const saved = join(root, 'saved');
    const first = await rnnc('run', sized, '--batch', '2', '--T', '3', '--save', saved, '--json');
    expect(first.code, first.stderr).toBe(0);
    const again = await rnnc('run', sized, '--batch', '2', '--T', '3', '--inputs', saved, '--verify', '--json');
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).sources.h).toBe(join(saved, 'h.final.npy'));
    expect(again.stderr).toContain(`rnnc: state \`h\` starts from ${join(saved, 'h.final.npy')} (a saved final state: the run resumes from it)`);
    writeFileSync(join(saved, 'h.npy'), '');
    const both = await rnnc('run', sized, '--inputs', saved);
    expect(both.code).toBe(1);
    expect(both.stderr).toBe(`rnnc: --inputs ${saved} has both h.npy and h.final.npy for state \`h\`; keep one\n`);
  });

  it('refuses empty data with a message, not an invalid GPU job', async () => {
    for (const shape of [
      [0, 5, 8],
      [2, 0, 8],
    ]) {
      const dir = await dirWith(`empty-${shape.join('x')}`, { 'x.npy': { shape } });
      const r = await rnnc('run', sized, '--inputs', dir);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`rnnc: ${join(dir, 'x.npy')} has shape (${shape.join(', ')}): a run needs at least one sequence (batch) and one step (T)\n`);
    }
  });
});

describe('flags that used to be accepted silently', () => {
  it('--seed past 32 bits is refused, not rounded', async () => {
    const r = await rnnc('run', sized, '--seed', '99999999999999999999');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("rnnc: --seed must be an integer from 0 to 4294967295, got '99999999999999999999'\n");
  });

  it('--dim past what a kernel can index is refused before anything is built (issue 12: "internal error: formatLiteral: bad u32")', async () => {
    const r = await rnnc('compile', sized, '-o', join(root, 'big'), '--dim', 'D=4294967296');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('rnnc: dim `D` is 4294967296, more than the largest size a kernel can index (2147483647)\n');
  });

  it('--dim __proto__=3 is an unknown dim like any other', async () => {
    const r = await rnnc('run', sized, '--dim', '__proto__=3');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('rnnc: unknown dim `__proto__`; decay has D\n');
  });
});
