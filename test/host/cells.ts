// The cells the host-module tests cover: every example and bench cell the scan backend takes
// (scanSupport), and every example the chunk backend takes (compileChunk throws ChunkUnsupported
// otherwise) plus the dense fixture of the chunk tests.
import { readdirSync, readFileSync } from 'node:fs';
import { frontEnd } from '../../src/driver/front-end.js';
import { bindDims, type DimSizes } from '../../src/compiler/ir/dims.js';
import type { Module } from '../../src/compiler/ir/ir.js';
import type { ScanPlan } from '../../src/compiler/analyse/types.js';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { scanSupport } from '../../backends/wgsl-scan/index.js';
import { ChunkUnsupported, compileChunk } from '../../backends/wgsl-chunk/index.js';

export interface Cell {
  name: string;
  path: string;
  module: Module;
  sizes: DimSizes;
}

export const load = (path: string): Cell => {
  const module = frontEnd(readFileSync(path, 'utf8')).module!;
  return { name: module.name, path, module, sizes: bindDims(module) };
};

const rnnFiles = (dir: string) =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.rnn'))
    .sort()
    .map((f) => `${dir}/${f}`);

// A grid cell (issue 18) has no scan or chunk host module: its host module is the wavefront kernel's
// (test/golden/seq, test/axes/grid-wavefront-host.gpu.test.ts).
export const allCells = (): Cell[] => [...rnnFiles('examples'), ...rnnFiles('bench/cells')].map(load).filter((c) => !c.module.grid);

export function scanCells(): (Cell & { plan: ScanPlan })[] {
  return allCells()
    .map((c) => ({ ...c, plan: analyse(c.module).analysis.plan }))
    .filter((c): c is Cell & { plan: ScanPlan } => c.plan !== undefined && scanSupport(c.module, c.plan, c.sizes).ok);
}

export function chunkCells(): Cell[] {
  return [...allCells(), load('test/chunk/fixtures/dense.rnn')].filter((c) => {
    try {
      compileChunk(c.module, c.sizes);
      return true;
    } catch (e) {
      if (e instanceof ChunkUnsupported) return false;
      throw e;
    }
  });
}
