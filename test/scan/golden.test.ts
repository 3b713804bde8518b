// The generated scan WGSL of every associative example and bench cell, pinned: the four kernels
// with the default split ('stripe' for lanes, 'thread' for whole elements, 'tile' where outputs
// must go through workgroup memory), and the cooperative tile scan of scan_steps with 4 runs per
// lane in both variants (subgroup shuffles, workgroup memory), so that a change to the emitter
// shows up as a reviewable diff.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { compileScan, scanManifest, scanSupport, usesMatrix } from '../../backends/wgsl-scan/index.js';
import { scanLayout } from '../../backends/wgsl-scan/layout.js';
import { matrixKernelNames } from '../../backends/wgsl-scan/kernel.js';
import { kernelNames } from '../../backends/wgsl-scan/emit.js';
import { useWgslValidator } from '../helpers/validate.js';
import { analyseGrid } from '../../src/compiler/analyse/grid.js';
import { chooseGridAxis } from '../../src/driver/grid-scan.js';

const expectValidWgsl = useWgslValidator();

// The examples, and the cells the benchmark's speed targets are stated on.
const cells = ['examples', 'bench/cells']
  .flatMap((dir) => readdirSync(dir).filter((f) => f.endsWith('.rnn')).sort().map((file) => `${dir}/${file}`))
  .map((path) => ({ name: path.replace(/^.*\//, '').replace(/\.rnn$/, ''), module: frontEnd(readFileSync(path, 'utf8')).module! }));
// A grid cell (issue 18) has scan kernels only as its view along the axis it separates on (what
// src/driver/grid-scan.ts runs); one that reads both neighbours (the wavefront) has none.
const gridViews = cells.filter((e) => e.module.grid).map((e) => ({ ...e, choice: chooseGridAxis(e.module, analyseGrid(e.module)) }));
const allExamples = [...cells.filter((e) => !e.module.grid), ...gridViews.flatMap((e) => (typeof e.choice === 'string' ? [] : [{ name: e.name, module: e.choice.view }]))]
  .map((e) => ({ ...e, plan: analyse(e.module).analysis.plan }))
  .filter((e) => e.plan !== undefined && scanSupport(e.module, e.plan, bindDims(e.module)).ok);
// Elements a workgroup holds (the 'matrix' layout) are pinned below, apart.
const examples = allExamples.filter((e) => !usesMatrix(scanLayout(e.module, e.plan!, bindDims(e.module))));

describe('grid examples', () => {
  it('are pinned as their view along the rows or columns, or not at all where only the wavefront runs them', () => {
    const pinned = gridViews.filter((e) => typeof e.choice !== 'string').map((e) => e.name);
    expect(pinned.every((name) => examples.some((e) => e.name === name))).toBe(true);
    for (const e of gridViews.filter((g) => typeof g.choice === 'string')) expect(e.choice).toMatch(/the wavefront kernel (does|runs it)$/);
  });
});

describe.each(examples)('$name scan kernels', ({ name, module, plan }) => {
  const sizes = bindDims(module);

  it('pins the four kernels and the manifest (default split and tiles, subgroups)', async () => {
    const k = compileScan(module, plan!, sizes);
    await expectValidWgsl(Object.fromEntries(Object.values(k.kernels).map((x) => [`${name}.${x.name}.wgsl`, x.code])));
    for (const n of kernelNames) await expect(k.kernels[n]!.code).toMatchFileSnapshot(`../golden/scan/${name}.${n}.wgsl`);
    // The single pass, for the cells it fits (the stripe split, an element of at most 2 floats).
    if (k.kernels.scan_single) await expect(k.kernels.scan_single.code).toMatchFileSnapshot(`../golden/scan/${name}.scan_single.wgsl`);
    await expect(JSON.stringify(scanManifest(module, k), null, 2) + '\n').toMatchFileSnapshot(`../golden/scan/${name}.scan.json`);
  });

  // The chained single pass (an adapter that may look back), for the cells it fits: one float per step.
  it('pins scan_chained where it fits', async () => {
    const k = compileScan(module, plan!, sizes, { chained: true });
    if (!k.kernels.scan_chained) return expect(k.tile.chained).toBeUndefined();
    await expectValidWgsl({ [`${name}.scan_chained.wgsl`]: k.kernels.scan_chained.code });
    await expect(k.kernels.scan_chained.code).toMatchFileSnapshot(`../golden/scan/${name}.scan_chained.wgsl`);
  });

  it.each([
    ['subgroups', true],
    ['workgroup', false],
  ])('pins scan_steps with 4 runs per lane, runs combined with %s', async (variant, subgroups) => {
    const k = compileScan(module, plan!, sizes, { subgroups, tile: { split: 'tile', runs: 4, runLength: 2 } });
    await expectValidWgsl({ [`${name}.scan_steps.runs4.${variant}.wgsl`]: k.kernels.scan_steps.code });
    await expect(k.kernels.scan_steps.code).toMatchFileSnapshot(`../golden/scan/${name}.scan_steps.runs4.${variant}.wgsl`);
  });
});

describe('hoisting', () => {
  it("computes Mamba's exp(A_log) once per thread in `invariants`, not in `element` at every step", () => {
    const mamba = examples.find((e) => e.name === 'mamba_s6')!;
    const code = compileScan(mamba.module, mamba.plan!, bindDims(mamba.module)).kernels.scan_steps.code;
    const element = code.slice(code.indexOf('fn element('), code.indexOf('\n}\n', code.indexOf('fn element(')));
    // The loops over the 8 × 4 decay rates fill an array of invariants; the element reads it at its point.
    expect(code).toMatch(/struct Inv \{\n {4}i0: array<f32, 32>,\n\}/);
    expect(code).toMatch(/fn invariants\(s: u32\) -> Inv \{[^}]*let k0 = exp\(params\[vp0 \* 4u \+ vp1\]\);\n {12}inv\.i0\[vp0 \* 4u \+ vp1\] = k0;/);
    expect(element).not.toMatch(/params\[/);
    expect(element).toMatch(/inv\.i0\[vp0 \* 4u \+ vp1\]/);
    // softplus(dt[d]) once per d (the outer loop), not once per (d, n).
    expect(element.match(/softplus\(/g)).toHaveLength(1);
    expect(element.indexOf('softplus(')).toBeLessThan(element.indexOf('for (var vp1'));
  });
});

// Lanes that do not fit one workgroup, spread over workgroups in blocks of whole reductions
// (layout.ts, LaneBlocks): GLA and Mamba at the sizes of issue 13, and a padded dim (V = 25 in 3 blocks of 9).
describe.each([
  ['gla', 'gla.K64V64', { K: 64, V: 64 }],
  ['mamba_s6', 'mamba_s6.D1024N16', { D: 1024, N: 16 }],
  ['gla', 'gla.K24V25', { K: 24, V: 25 }],
] as const)('%s scan kernels with lane blocks (%s)', (cell, label, dims) => {
  it('pins the four kernels and the manifest', async () => {
    const { module, plan } = examples.find((e) => e.name === cell)!;
    const k = compileScan(module, plan!, bindDims(module, dims));
    await expectValidWgsl(Object.fromEntries(Object.values(k.kernels).map((x) => [`${label}.${x.name}.wgsl`, x.code])));
    for (const n of kernelNames) await expect(k.kernels[n]!.code).toMatchFileSnapshot(`../golden/scan/${label}.${n}.wgsl`);
    await expect(JSON.stringify(scanManifest(module, k), null, 2) + '\n').toMatchFileSnapshot(`../golden/scan/${label}.scan.json`);
  });
});

// The 'matrix' layout (matrix.ts): minmax at N = 16 (elements in workgroup memory) and N = 64 (in
// storage), and DeltaNet at its default sizes (a 129-float element), each with its manifest.
describe.each([
  ['minmax', 'minmax.N16', { N: 16 }],
  ['minmax', 'minmax.N64', { N: 64 }],
  ['deltanet', 'deltanet', {}],
] as const)('%s scan kernels, matrix layout (%s)', (cell, label, dims) => {
  it('pins the three kernels and the manifest', async () => {
    const { module, plan } = allExamples.find((e) => e.name === cell)!;
    const k = compileScan(module, plan!, bindDims(module, dims));
    expect(k.matrix).toBeDefined();
    expect(Object.keys(k.kernels).sort()).toEqual([...matrixKernelNames].sort());
    await expectValidWgsl(Object.fromEntries(Object.values(k.kernels).map((x) => [`${label}.${x.name}.wgsl`, x.code])));
    for (const n of matrixKernelNames) await expect(k.kernels[n].code).toMatchFileSnapshot(`../golden/scan/${label}.matrix.${n}.wgsl`);
    await expect(JSON.stringify(scanManifest(module, k), null, 2) + '\n').toMatchFileSnapshot(`../golden/scan/${label}.matrix.scan.json`);
  });
});
