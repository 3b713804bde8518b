// Generated host modules in a real browser, as an application developer ships them: a sequential
// module (the committed GRU one) and a scan module (LRU) imported by a page, bundled with esbuild
// for the browser the way a user's bundler would, `rnnc/runtime` resolved through the package's
// `exports` (this repository, linked as node_modules/rnnc, so its built dist/). The page runs them
// on headless Chromium's WebGPU (SwiftShader) and the results match the float64 reference
// interpreter; a second call makes no pipeline and no buffer.
import { mkdtempSync, readFileSync, rmSync, symlinkSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser } from 'puppeteer-core';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { randomLengths, randomRunData } from '../../src/driver/data.js';
import { verifyRun } from '../../src/driver/verify.js';
import { compileScan } from '../../backends/wgsl-scan/index.js';
import { scanHostModule } from '../../backends/host/scan-host.js';
import { launchChromium, serveDir, type Served } from '../../playground/harness.js';
import { load, type Cell } from '../host/cells.js';

const dir = mkdtempSync(join(tmpdir(), 'rnnc-browser-host-'));
let browser: Browser | undefined;
let served: Served | undefined;
afterAll(async () => {
  await browser?.close();
  await served?.close();
  rmSync(dir, { recursive: true, force: true });
});

const gru = load('examples/gru.rnn');
const lru = load('examples/lru.rnn');

/** The page's program: each call on one device, the second of each run twice; results as plain arrays. */
const MAIN = `
import { HostGpu } from 'rnnc/runtime';
import { runGru } from './gru.ts';
import { runLru } from './lru.ts';
const plain = (r) => ({ outputs: Object.fromEntries(Object.entries(r.outputs).map(([k, v]) => [k, Array.from(v)])), finalState: Object.fromEntries(Object.entries(r.finalState).map(([k, v]) => [k, Array.from(v)])) });
const typed = (run) => ({ ...run, inputs: Object.fromEntries(Object.entries(run.inputs).map(([k, v]) => [k, Float32Array.from(v)])), params: Object.fromEntries(Object.entries(run.params).map(([k, v]) => [k, Float32Array.from(v)])), ...(run.initialState ? { initialState: Object.fromEntries(Object.entries(run.initialState).map(([k, v]) => [k, Float32Array.from(v)])) } : {}), lengths: Int32Array.from(run.lengths) });
window.runCells = async (gruRun, lruRun) => {
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter in this browser');
  const device = await adapter.requestDevice({ requiredFeatures: adapter.features.has('subgroups') ? ['subgroups'] : [] });
  try {
    const gru = await runGru(device, typed(gruRun));
    const lru = await runLru(device, typed(lruRun));
    const made = { ...HostGpu.for(device).made };
    const lruAgain = await runLru(device, typed(lruRun));
    const gruAgain = await runGru(device, typed(gruRun));
    return { gru: plain(gru), lru: plain(lru), gruAgain: plain(gruAgain), lruAgain: plain(lruAgain), made, madeAfter: { ...HostGpu.for(device).made } };
  } finally {
    device.destroy();
  }
};
document.body.dataset.ready = 'true';
`;

/** Random data for a cell, with variable lengths and given initial states; the run as plain arrays and the reference. */
function caseOf(cell: Cell, batch: number, T: number, seed: number) {
  const shape = { batch, T, sizes: cell.sizes };
  const data = randomRunData(cell.module, shape, seed, { initial: true });
  const lengths = randomLengths(batch, T, seed);
  const plain = (r: Record<string, Float32Array | Float64Array>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Array.from(v)]));
  const run = { batch, T, inputs: plain(data.inputs), params: plain(data.params), initialState: plain(data.initial!), lengths: Array.from(lengths) };
  return { run, reference: interpret(cell.module, { ...shape, lengths }, data) };
}

type Plain = { outputs: Record<string, number[]>; finalState: Record<string, number[]> };
const typedResult = (r: Plain) => ({
  outputs: Object.fromEntries(Object.entries(r.outputs).map(([k, v]) => [k, Float32Array.from(v)])),
  finalState: Object.fromEntries(Object.entries(r.finalState).map(([k, v]) => [k, Float32Array.from(v)])),
});

describe('generated host modules, bundled, in headless Chromium', () => {
  it('run on the browser WebGPU through rnnc/runtime and match the reference; a second call makes nothing new', async () => {
    mkdirSync(join(dir, 'node_modules'));
    symlinkSync(resolve('.'), join(dir, 'node_modules', 'rnnc'), 'dir');
    writeFileSync(join(dir, 'gru.ts'), readFileSync('test/golden/seq/gru/gru.ts', 'utf8'));
    writeFileSync(join(dir, 'lru.ts'), await scanHostModule(lru.module, compileScan(lru.module, analyse(lru.module).analysis.plan!, lru.sizes), lru.path));
    writeFileSync(join(dir, 'main.js'), MAIN);
    const www = join(dir, 'www');
    mkdirSync(www);
    // As a user's bundler would: the browser platform (a Node built-in anywhere fails the bundle), the package's exports.
    await build({ entryPoints: [join(dir, 'main.js')], bundle: true, format: 'esm', platform: 'browser', target: 'es2022', outfile: join(www, 'main.js'), logLevel: 'silent' });
    writeFileSync(join(www, 'index.html'), '<!doctype html><html><body><script type="module" src="main.js"></script></body></html>\n');

    served = await serveDir(www);
    browser = await launchChromium();
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(served.url, { waitUntil: 'load' });
    await page.waitForSelector('body[data-ready=true]', { timeout: 30_000 });

    const g = caseOf(gru, 3, 29, 7);
    const l = caseOf(lru, 2, 300, 8);
    const got = (await page.evaluate((gr, lr) => (window as unknown as { runCells: (a: unknown, b: unknown) => Promise<unknown> }).runCells(gr, lr), g.run, l.run)) as {
      gru: Plain;
      lru: Plain;
      gruAgain: Plain;
      lruAgain: Plain;
      made: { pipelines: number; buffers: number };
      madeAfter: { pipelines: number; buffers: number };
    };
    expect(errors).toEqual([]);
    for (const [name, result, reference] of [
      ['gru', got.gru, g.reference],
      ['lru', got.lru, l.reference],
    ] as const) {
      const v = verifyRun(typedResult(result), reference, 1e-4);
      expect(v.tensors.length, name).toBeGreaterThan(0);
      expect(v.tensors.filter((t) => !t.ok).map((t) => `${name} ${t.kind} ${t.name}: error ${t.maxErr}`)).toEqual([]);
    }
    expect(got.gruAgain).toEqual(got.gru);
    expect(got.lruAgain).toEqual(got.lru);
    expect(got.made.pipelines).toBeGreaterThan(0);
    expect(got.madeAfter).toEqual(got.made);
  }, 240_000);
});
