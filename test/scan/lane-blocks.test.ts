// Lane blocks on the CPU (issue 13): which lane dims the outputs leave free (read off the IR), how the
// 'tile' split cuts a sequence's lanes into blocks of whole reductions, the refusals with the dim to
// lower, the planner's answer, the workgroup memory budget, and the schedule — scheduleScan's and the
// generated host module's, which must agree. The kernels themselves run in lane-blocks.gpu.test.ts.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import { compile } from '../../src/driver/index.js';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { bindDims, type DimSizes } from '../../src/compiler/ir/dims.js';
import { chooseLayout, compileScan, scanManifest, scheduleScan, type ScanCompileOptions } from '../../backends/wgsl-scan/index.js';
import { blocksOf, chooseTile, paddedLanes, scanLayout, sharedFloatsOf, threadsOf, TileRefused } from '../../backends/wgsl-scan/layout.js';
import { scanHostModule } from '../../backends/host/scan-host.js';
import { pascal } from '../../backends/host/host-parts.js';
import { moduleDir, transpile } from '../host/dawn.js';
import { typeCheck } from '../host/typecheck.js';

const load = (text: string, dims: DimSizes = {}) => {
  const module = frontEnd(text).module!;
  return { module, plan: analyse(module).analysis.plan!, sizes: bindDims(module, dims) };
};
const example = (file: string, dims: DimSizes = {}) => load(readFileSync(`examples/${file}`, 'utf8'), dims);

const cell = (name: string, output: string, dims = 'N = 16, M = 20') => `rnn ${name} {
  dims ${dims}
  input x[M]
  state h[N, M] = 0
  h[i, j] <- x[j] * h[i, j] + 1
  output ${output}
}
`;

describe('free lane dims, from the IR', () => {
  it.each([
    ['gla.rnn: o[j] = sum(i: q[i] * S[i, j]) reduces over K', example('gla.rnn'), ['V']],
    ['mamba_s6.rnn: y[d] = sum(n: h[d, n] * C[n]) + ... reduces over N', example('mamba_s6.rnn'), ['D']],
    ['an output through a let that reduces', load(cell('via_let', 'y[i] = r[i] * 2').replace('  output', '  let r[i] = sum(j: h[i, j])\n  output')), ['N']],
    ['an output that reads every lane', load(cell('total', 'y[i] = sum(k: sum(j: h[k, j])) * x[i]', 'N = 20, M = 20')), []],
  ] as const)('%s', (_, c, free) => {
    expect(scanLayout(c.module, c.plan, c.sizes).freeDims).toEqual(free);
  });
});

describe('blocks of whole reductions', () => {
  it('spreads GLA at K = V = 64 over 16 workgroups of 64 K x 4 V, and Mamba at D = 1024, N = 16 over 64 of 16 D x 16 N', () => {
    for (const [file, dims, extent, count] of [
      ['gla.rnn', { K: 64, V: 64 }, [64, 4], [1, 16]],
      ['mamba_s6.rnn', { D: 1024, N: 16 }, [16, 16], [64, 1]],
    ] as const) {
      const c = example(file, dims);
      const k = compileScan(c.module, c.plan, c.sizes);
      const b = blocksOf(k.tile, k.layout);
      expect(k.tile.split).toBe('tile');
      expect([b.extent, b.count, b.lanes, threadsOf(k.tile, k.layout)]).toEqual([extent, count, 256, 256]);
      expect(sharedFloatsOf(k.tile, k.layout)).toBeLessThanOrEqual(4096);
      expect(scanManifest(c.module, k)).toMatchObject({ laneBlocks: { blocks: b.blocks, lanes: 256 } });
    }
  });

  it('cuts a dim into blocks of equal extent and pads the last: V = 25 in 3 blocks of 9', () => {
    const c = example('gla.rnn', { K: 24, V: 25 });
    const k = compileScan(c.module, c.plan, c.sizes);
    const b = blocksOf(k.tile, k.layout);
    expect([b.extent, b.count, b.lanes, paddedLanes(k.tile, k.layout)]).toEqual([[24, 9], [1, 3], 216, 648]);
    expect(k.kernels.scan_steps.code).toContain('min(');
  });

  it('leaves lanes that fit one workgroup in one block (no blockLanes, the kernels as before)', () => {
    const c = example('gla.rnn');
    const k = compileScan(c.module, c.plan, c.sizes, { tile: { split: 'tile' } });
    expect(k.tile.blockLanes).toBeUndefined();
    expect(blocksOf(k.tile, k.layout).blocks).toBe(1);
    expect(k.kernels.scan_steps.code).not.toContain('lane_blk');
  });

  it('halves the blocks while a tile is over the workgroup memory budget', () => {
    const c = example('gla.rnn', { K: 64, V: 64 });
    const layout = chooseLayout(c.module, c.plan, c.sizes);
    // 256 lanes need 2 x 256 state floats and 512 of scratch at one step per run: over 512.
    const tile = chooseTile(layout, { sharedFloats: 512 }, false);
    expect(sharedFloatsOf(tile, layout)).toBeLessThanOrEqual(512);
    expect([blocksOf(tile, layout).lanes, tile.runLength]).toEqual([128, 1]);
    // The recorded blockLanes gives the same blocks back (the plan's decision is compiled as is).
    expect(chooseTile(layout, { ...tile, sharedFloats: 512 }, false)).toEqual(tile);
    // Not below one reduction's lanes (64 K): then it is refused.
    expect(() => chooseTile(layout, { sharedFloats: 200 }, false)).toThrow('floats of workgroup memory, over the budget of 200');
  });
});

describe('the planner', () => {
  it('plans GLA at K = V = 64 and Mamba at D = 1024, N = 16 as scans when asked; auto keeps them sequential, saying why', () => {
    for (const [file, dims] of [
      ['gla.rnn', { K: 64, V: 64 }],
      ['mamba_s6.rnn', { D: 1024, N: 16 }],
    ] as const) {
      const scan = compile(readFileSync(`examples/${file}`, 'utf8'), { mode: 'scan', dims }).compilation;
      expect(scan?.plan.mode).toBe('scan');
      expect(scan?.plan.why).toMatch(/'tile' split, \d+ workgroups of 256 lanes per sequence/);
      // The lanes alone fill several workgroups: the sequential loop has that parallelism without the scan's extra work.
      const auto = compile(readFileSync(`examples/${file}`, 'utf8'), { mode: 'auto', dims }).compilation;
      expect(auto?.plan.mode).toBe('seq');
      expect(auto?.plan.why).toMatch(/^not scan: it takes the cell, but only by spreading each sequence's lanes over workgroups of 256, .*\(--mode scan runs it\); so /);
    }
  });

  it('takes 16 x 20 lanes whose outputs reduce over the 20', () => {
    expect(compile(cell('wide', 'y[i] = sum(j: h[i, j])'), { mode: 'scan' }).compilation?.plan.mode).toBe('scan');
  });

  it.each<[string, string, string, ScanCompileOptions?]>([
    [
      'outputs that reduce over more lanes than a workgroup has invocations',
      cell('wide', 'y[i] = sum(j: h[i, j])', 'N = 4, M = 300'),
      '`y` reduces over M: the 300 lanes along M must share one workgroup, over 256 invocations (lower --dim M)',
    ],
    [
      'outputs that read across every lane dim',
      cell('total', 'y[i] = sum(k: sum(j: h[k, j])) * x[i]', 'N = 20, M = 20'),
      "`y` reduces over N; `y` reduces over M: a sequence's 400 lanes must share one workgroup, over 256 invocations (lower --dim N or --dim M)",
    ],
    [
      "a state repeated along the lanes (Aaren's u and m), with the 'tile' split asked for",
      readFileSync('examples/aaren.rnn', 'utf8').replace('dims D = 8', 'dims D = 512'),
      "`m` does not lie over D: a sequence's 512 lanes must share one workgroup, over 256 invocations (lower --dim D)",
      { tile: { split: 'tile' } },
    ],
  ])('refuses %s, naming the dims to lower', (_, text, reason, options) => {
    if (options) {
      // Only the 'tile' split holds a sequence's lanes in workgroups (the default split takes Aaren).
      const c = load(text);
      expect(() => compileScan(c.module, c.plan, c.sizes, options)).toThrow(reason);
      return;
    }
    expect(() => compile(text, { mode: 'scan' })).toThrow(`but the scan kernels do not take this cell: ${reason}; compile it with --mode seq or --mode auto`);
    const c = load(text);
    expect(() => chooseTile(chooseLayout(c.module, c.plan, c.sizes), {}, false)).toThrow(TileRefused);
  });
});

describe('the schedule', () => {
  const c = example('gla.rnn', { K: 64, V: 64 });
  const k = compileScan(c.module, c.plan, c.sizes);

  it('carries with a workgroup per (sequence group, lane block); reduce-then-scan has one per block of steps too', () => {
    const carry = scheduleScan(k.layout, k.tile, 1, 4096);
    expect(carry.strategy).toBe('carry');
    expect(carry.passes.map((p) => p.dispatch)).toEqual([[16, 1]]);
    const rts = scheduleScan(k.layout, k.tile, 2, 4096, { strategy: 'reduce-then-scan' });
    const steps = rts.passes.find((p) => p.kernel === 'reduce_steps')!;
    const blocks = steps.uniforms[5]!;
    expect(steps.dispatch[0] * steps.dispatch[1]).toBe(2 * 16 * blocks);
    // One aggregate per block of every lane of the batch (4,096 lanes, none padded here).
    expect(rts.aggElements).toBeGreaterThanOrEqual(2 * 4096 * blocks);
  });

  describe('the generated host module agrees with scheduleScan', () => {
    const dir = moduleDir('rnnc-lane-blocks-');
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const cases: [string, ReturnType<typeof example>, ScanCompileOptions][] = [
      ['gla at K = V = 64', c, {}],
      ['gla at K = 24, V = 25 (padded)', example('gla.rnn', { K: 24, V: 25 }), {}],
      ['mamba_s6 in blocks of 3 D with 2 runs', example('mamba_s6.rnn'), { subgroups: false, tile: { split: 'tile', runs: 2, runLength: 2, maxThreads: 24 } }],
    ];
    it.each(cases)('%s', async (label, cell, options) => {
      const kernels = compileScan(cell.module, cell.plan, cell.sizes, options);
      expect(blocksOf(kernels.tile, kernels.layout).blocks).toBeGreaterThan(1);
      const path = join(dir, `${label.replace(/\W+/g, '_')}.mjs`);
      const code = await scanHostModule(cell.module, kernels, `examples/${cell.module.name}.rnn`);
      // The module type-checks as a user's project would (once: a TypeScript program takes seconds).
      if (label === cases[0]![0]) expect(typeCheck({ [`${cell.module.name}.scan.ts`]: code })).toEqual([]);
      writeFileSync(path, transpile(code));
      const mod = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
      type Gen = { strategy: string; passes: { kernel: string; uniforms: Uint32Array; dispatch: [number, number] }[]; aggElements: number };
      const schedule = mod[`schedule${pascal(cell.module.name)}`] as (batch: number, T: number, minLength?: number) => Gen;
      const strategies = new Set<string>();
      for (const batch of [1, 2, 3, 8, 9, 100])
        for (const T of [1, 7, 64, 100, 1000, 4096, 65_536, 100_003])
          for (const minLength of new Set([T, 1])) {
            const ref = scheduleScan(kernels.layout, kernels.tile, batch, T, {}, minLength);
            const gen = schedule(batch, T, minLength);
            const words = gen.passes[0]!.uniforms.length;
            expect({ strategy: gen.strategy, aggElements: gen.aggElements, passes: gen.passes.map((p) => ({ kernel: p.kernel, uniforms: Array.from(p.uniforms), dispatch: p.dispatch })) }, `batch ${batch}, T ${T}`).toEqual({
              strategy: ref.strategy,
              aggElements: ref.aggElements,
              passes: ref.passes.map((p) => ({ kernel: p.kernel, uniforms: [...p.uniforms, ...Array(words - p.uniforms.length).fill(0)], dispatch: p.dispatch })),
            });
            strategies.add(gen.strategy);
          }
      expect(strategies.has('carry')).toBe(true);
    }, 120_000);
  });
});
