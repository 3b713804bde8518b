// `rnnc compile --mode scan` (GLA) and `--mode chunk` (DeltaNet) write their kernels, a manifest
// and a typed host module; the host module is the one pinned in test/golden/host and type-checks
// under `tsc --strict` with DOM and WebGPU types only.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { typeCheck } from './typecheck.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rnnc-compile-host-'));
  process.exitCode = undefined;
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
});
afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
  rmSync(dir, { recursive: true, force: true });
});

it.each([
  ['examples/gla.rnn', 'scan', 'gla', ['gla.reduce_aggs.wgsl', 'gla.reduce_steps.wgsl', 'gla.scan.json', 'gla.scan.ts', 'gla.scan_aggs.wgsl', 'gla.scan_steps.wgsl']],
  ['examples/deltanet.rnn', 'chunk', 'deltanet', ['deltanet.chunk.aggregate.wgsl', 'deltanet.chunk.carry.wgsl', 'deltanet.chunk.json', 'deltanet.chunk.ts']],
])('rnnc compile %s --mode %s', async (path, mode, name, files) => {
  expect(await main(['compile', path, '-o', dir, '--mode', mode])).toBe(0);
  expect(readdirSync(dir).sort()).toEqual(files);
  const manifest = JSON.parse(readFileSync(join(dir, `${name}.${mode}.json`), 'utf8')) as { name: string; backend: string; kernels: { file: string }[] };
  expect(manifest).toMatchObject({ name, backend: mode });
  expect(manifest.kernels.map((k) => k.file).sort()).toEqual(files.filter((f) => f.endsWith('.wgsl')));
  const host = readFileSync(join(dir, `${name}.${mode}.ts`), 'utf8');
  expect(host).toBe(readFileSync(`test/golden/host/${name}.${mode}.ts`, 'utf8'));
  expect(typeCheck({ [`${name}.${mode}.ts`]: host })).toEqual([]);
}, 60_000);
