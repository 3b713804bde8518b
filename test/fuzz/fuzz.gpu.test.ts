// The fuzzer's fixed-seed sample on Dawn: Tint accepts every kernel of every mode of a sample of
// generated cells (one compile request per batch, on one host), a sample of tame cells runs and
// matches the float64 reference, and each reproducer in regressions/ passes all of that — or, for a
// known open bug (its first line says `// known bug:`), still fails, so that the fix turns it red.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileGpu } from '../helpers/file-gpu.js';
import { caseSeed, sampleOne } from './choices.js';
import { cellArbitrary, tameCellArbitrary } from './cases.js';
import { cellProblems, type CheckedCell, type Problem } from './properties.js';
import { emitProblems, runAndVerify, validateShaders } from './emit.js';
import { knownBug } from './known.js';
import { openGpu } from '../../src/driver/index.js';
import type { GpuShaderSpec } from '../../backends/job.js';

const SEED = 20261201;
/** Cells whose every kernel goes through Tint, and tame cells run in every mode on Dawn (sized for ~20 s on lavapipe). */
const VALIDATED = 150;
const RUN = 6;

const gpu = fileGpu();

const report = (problems: Problem[]) => problems.map((p) => `${p.kind}: ${p.message}`).join('\n');

/** Every problem of a cell on the way: front end, emission, Tint, and (with `run`) the run against the reference. */
async function allProblems(text: string, dimSizes: Record<string, number>, run: boolean, seed = 1): Promise<Problem[]> {
  const { problems, checked } = cellProblems({ text, dimSizes, families: [] });
  if (!checked) return problems;
  const emitted = emitProblems(checked);
  problems.push(...emitted.problems);
  const shaders = emitted.emission.kernels.map((k) => ({ label: k.label, code: k.wgsl, entryPoint: k.entryPoint }));
  for (const v of await validateShaders(gpu, shaders)) if (v.errors.length) problems.push({ kind: `tint: ${v.label.split('.')[0]}`, message: v.errors.join('\n') });
  if (run) problems.push(...(await runChecks(checked, seed)));
  return problems;
}

const runChecks = async (c: CheckedCell, seed: number) => (await runAndVerify(gpu, c, { seed })).flatMap((r) => r.problems);

describe('fuzz on Dawn (fixed seed)', () => {
  it(`Tint accepts every kernel of ${VALIDATED} generated cells`, async () => {
    const failures: string[] = [];
    let batch: { shader: GpuShaderSpec; text: string }[] = [];
    let validated = 0;
    const flush = async () => {
      const verdicts = await validateShaders(gpu, batch.map((b) => b.shader));
      validated += verdicts.length;
      verdicts.forEach((v, k) => {
        const p = { kind: `tint: ${v.label.split(':')[1]!.split('.')[0]}`, message: v.errors.join('\n') };
        if (v.errors.length && !knownBug(p)) failures.push(`${report([p])}\n${batch[k]!.text}`);
      });
      batch = [];
    };
    for (let k = 0; k < VALIDATED; k++) {
      const cell = sampleOne(cellArbitrary, caseSeed(SEED, k));
      const { checked } = cellProblems(cell);
      if (!checked) continue; // fuzz.test.ts reports it
      for (const x of emitProblems(checked).emission.kernels) batch.push({ shader: { label: `${k}:${x.label}`, code: x.wgsl, entryPoint: x.entryPoint }, text: cell.text });
      if (batch.length >= 100) await flush();
    }
    await flush();
    expect(failures).toEqual([]);
    expect(validated).toBeGreaterThan(VALIDATED * 3);
  });

  it(`${RUN} tame generated cells run on Dawn and match the reference interpreter`, async () => {
    const failures: string[] = [];
    let verified = 0;
    for (let k = 0; k < RUN; k++) {
      const cell = sampleOne(tameCellArbitrary, caseSeed(SEED, k));
      const { problems, checked } = cellProblems(cell);
      if (checked) problems.push(...(await runChecks(checked, k)));
      const unknown = problems.filter((p) => !knownBug(p));
      if (unknown.length) failures.push(`${report(unknown)}\n${cell.text}`);
      if (problems.length === 0) verified++;
    }
    expect(failures).toEqual([]);
    expect(verified).toBeGreaterThan(RUN / 2);
  });
});

const regressionsDir = join(import.meta.dirname, 'regressions');
const regressions = readdirSync(regressionsDir)
  .filter((f) => f.endsWith('.rnn'))
  .sort()
  .map((f) => ({ name: basename(f, '.rnn'), text: readFileSync(join(regressionsDir, f), 'utf8') }));

describe('fuzz regressions: check, emit every mode, Tint, run against the reference', () => {
  for (const { name, text } of regressions) {
    const known = /^\/\/ known bug:/.test(text);
    (known ? it.fails : it)(`${name}${known ? ' (known bug: fails until fixed)' : ''}`, async () => {
      expect(report(await allProblems(text, {}, true))).toBe('');
    });
  }
});
