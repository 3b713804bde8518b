// The front end's on-disk cache (driver/front-end.ts frontEndCached, used by `rnnc run`): a hit gives
// exactly what the front end computes, a changed source or options miss, a corrupt entry is a miss,
// RNNC_CACHE=0 turns it off, and a source with errors is never stored.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, expect, it } from 'vitest';
import { frontEnd, frontEndCacheDir, frontEndCached } from '../../src/driver/front-end.js';
import { SourceFile } from '../../src/compiler/diagnostics/render.js';

const root = mkdtempSync(join(tmpdir(), 'rnnc-fe-cache-'));
const saved = { dir: process.env['RNNC_CACHE_DIR'], flag: process.env['RNNC_CACHE'] };
let n = 0;
beforeEach(() => {
  process.env['RNNC_CACHE_DIR'] = join(root, String(n++));
  delete process.env['RNNC_CACHE'];
});
afterAll(() => {
  for (const [k, v] of [['RNNC_CACHE_DIR', saved.dir], ['RNNC_CACHE', saved.flag]] as const) if (v === undefined) delete process.env[k];
  else process.env[k] = v;
  rmSync(root, { recursive: true, force: true });
});

const cell = (c: number) => new SourceFile('x.rnn', readFileSync('bench/cells/cumsum.rnn', 'utf8').replace('dims C = 1', `dims C = ${c}`));
const entries = () => readdirSync(frontEndCacheDir()!).filter((f) => f.endsWith('.bin'));

it('a hit is the module, analysis and diagnostics the front end computes, read from one entry', () => {
  const fresh = frontEnd(cell(1));
  const miss = frontEndCached(cell(1));
  expect(entries()).toHaveLength(1);
  const hit = frontEndCached(cell(1));
  expect(hit.ast).toBeUndefined(); // not from the front end: the cached form has no AST
  for (const r of [miss, hit]) {
    expect(r.module).toStrictEqual(fresh.module);
    expect(r.analysis).toStrictEqual(fresh.analysis);
    expect(r.diagnostics).toStrictEqual(fresh.diagnostics);
  }
  // Another source, or other analysis options, is another entry.
  expect(frontEndCached(cell(2)).module!.dims).toStrictEqual(fresh.module!.dims.map((d) => (d.name === 'C' ? { ...d, size: 2 } : d)));
  frontEndCached(cell(1), { lawTriples: 3 });
  expect(entries()).toHaveLength(3);
});

it('a corrupt entry is a miss and is written again', () => {
  frontEndCached(cell(1));
  const [entry] = entries();
  writeFileSync(join(frontEndCacheDir()!, entry!), 'not an entry');
  expect(frontEndCached(cell(1)).module).toStrictEqual(frontEnd(cell(1)).module);
  expect(readFileSync(join(frontEndCacheDir()!, entry!), 'utf8')).not.toBe('not an entry');
});

it('RNNC_CACHE=0 turns it off; a source with errors is never stored', () => {
  process.env['RNNC_CACHE'] = '0';
  expect(frontEndCacheDir()).toBeUndefined();
  expect(frontEndCached(cell(1)).module).toBeDefined();
  delete process.env['RNNC_CACHE'];
  const bad = frontEndCached(new SourceFile('bad.rnn', 'rnn x { oops }'));
  expect(bad.module).toBeUndefined();
  expect(bad.diagnostics.some((d) => d.severity === 'error')).toBe(true);
  expect(() => readdirSync(frontEndCacheDir()!)).toThrow(/ENOENT/);
});
