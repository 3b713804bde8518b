// `rnnc bench` end to end on Dawn (small configurations: the numbers are the adapter's business,
// the shape of the report is ours), a cell the scan refuses, its refusals, and the report's markdown and SVG.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { captureCli } from './rnnc.js';
import { markdownReport, svgPlot, type BenchReport, type BenchRow } from '../../src/driver/bench-report.js';

const rnnc = captureCli();

describe('rnnc bench', () => {
  it('times the scan, the sequential kernel and the two yardsticks, and writes the report with --out', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rnnc-bench-'));
    const r = await rnnc('bench', 'bench/cells/affine.rnn', '--min-log2-t', '12', '--max-log2-t', '12', '--batches', '1,16', '--repeats', '1', '--shapes', '4x64,16x256', '--json', '--out', join(dir, 'b.md'));
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as BenchReport;
    expect(report.adapter).not.toBe('');
    expect(report.copyTimingMethod).toMatch(/^(timestamp|wall)$/);
    expect(report.rows.map((x) => [x.example, x.T, x.batch, x.channels, x.mode, x.strategy, x.split])).toEqual([
      // lavapipe may look back across workgroups: one long sequence takes the chained single pass.
      ['affine', 4096, 1, 1, 'scan', 'chained', 'stripe'],
      ['affine', 4096, 16, 16, 'scan', 'carry', 'stripe'],
    ]);
    for (const x of report.rows) {
      expect(Math.min(x.scanNs!, x.seqNs, x.elementwiseNs, x.copyNs)).toBeGreaterThan(0);
      // Inputs a, b and output y: 12 bytes a step, and the state in and out.
      expect(x.idealBytes).toBe(12 * x.T * x.batch + 8 * x.batch);
      // The yardsticks move the same bytes: the elementwise kernel padded to whole vec4s, the copy to whole words.
      expect(x.elementwiseBytes - x.idealBytes).toBeGreaterThanOrEqual(0);
      expect(x.elementwiseBytes - x.idealBytes).toBeLessThan(32);
      expect(x.copyBytes - x.idealBytes).toBeGreaterThanOrEqual(0);
      expect(x.copyBytes - x.idealBytes).toBeLessThan(8);
      expect(['4x64', '16x256']).toContain(x.elementwiseShape); // the faster of the two shapes asked for
      expect(x.scanGBs).toBeCloseTo(x.idealBytes / x.scanNs!, 6);
      expect(x.scanPerElementwise).toBeCloseTo(x.scanGBs! / x.elementwiseGBs, 6);
      expect(x.scanPerCopy).toBeCloseTo(x.scanGBs! / x.copyGBs, 6);
    }
    // The chained pass reads the inputs once (reduce-then-scan read them twice: 1.67).
    expect(report.rows[0]!.scanBytes! / report.rows[0]!.idealBytes).toBeCloseTo(1.0, 1);
    const md = readFileSync(join(dir, 'b.md'), 'utf8');
    expect(md).toMatch(/^# Scan benchmark\n\nAdapter: \*\*.+\*\* \(timing: (timestamp|wall); copies: (timestamp|wall)\)/);
    expect(md).toContain('| vs elementwise | of copy |');
    expect(readFileSync(join(dir, 'b.svg'), 'utf8')).toMatch(/^<svg /);
    expect(JSON.parse(readFileSync(join(dir, 'b.json'), 'utf8')).rows).toHaveLength(2);
  });

  it('times the scan of a cell auto keeps sequential, as --mode scan runs it, and says so', async () => {
    // DeltaNet's dense state: the scan takes it only in the 'matrix' layout, which auto leaves to the sequential loop.
    const r = await rnnc('bench', 'examples/deltanet.rnn', '--min-log2-t', '4', '--max-log2-t', '4', '--batch', '1', '--repeats', '1', '--shapes', '4x64', '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as BenchReport;
    const [row, ...more] = report.rows;
    expect(more).toEqual([]);
    expect(row).toMatchObject({ example: 'deltanet', mode: 'scan', T: 16, batch: 1, elementwiseShape: '4x64' });
    expect(Math.min(row!.scanNs!, row!.seqNs, row!.elementwiseNs, row!.copyNs)).toBeGreaterThan(0);
    expect(report.notes.join('\n')).toMatch(/deltanet: auto plans the sequential loop at these sizes \(.+\); timed as --mode scan runs it\./);
  });

  it('gives each cell the --dim sizes it declares, and refuses a dim no cell declares', async () => {
    const r = await rnnc('bench', 'bench/cells/affine.rnn', '--dim', 'Q=4');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--dim Q: no cell benchmarked declares a dim `Q` \(affine: C\)/);
    const both = await rnnc('bench', 'bench/cells/affine.rnn', '--batch', '1', '--batches', '2');
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/give --batch or --batches, not both/);
    const shapes = await rnnc('bench', 'bench/cells/affine.rnn', '--shapes', '4x64,0x8');
    expect(shapes.code).toBe(2);
    expect(shapes.stderr).toMatch(/--shapes must be VxW pairs/);
  });

  it('refuses a cell with nothing to scan, saying why, with exit 1', async () => {
    const r = await rnnc('bench', 'examples/lstm.rnn');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/examples\/lstm\.rnn: nothing to benchmark: lstm cannot take --mode scan: `h` is not an associative recurrence: `h` is read inside `sigmoid`/);
  });

  it('needs a file or --all', async () => {
    const r = await rnnc('bench');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/bench needs a \.rnn file or --all/);
  });
});

describe('bench report', () => {
  const row = (example: string, T: number, scanNs: number): BenchRow => ({
    example,
    T,
    batch: 1,
    channels: 1,
    mode: 'scan',
    strategy: 'reduce-then-scan',
    split: 'stripe',
    dispatches: 3,
    scanNs,
    seqNs: 2 * scanNs,
    elementwiseNs: scanNs / 2,
    elementwiseShape: '16x64',
    elementwiseBytes: 12 * T,
    copyNs: scanNs / 4,
    copyBytes: 12 * T,
    idealBytes: 12 * T,
    scanBytes: 20 * T,
    scanGBs: (12 * T) / scanNs,
    seqGBs: (12 * T) / (2 * scanNs),
    elementwiseGBs: (24 * T) / scanNs,
    copyGBs: (48 * T) / scanNs,
    scanPerElementwise: 0.5,
    scanPerCopy: 0.25,
  });
  const seqRow: BenchRow = { ...row('deltanet', 1024, 0), mode: 'seq', reason: 'its element is too big', strategy: 'sequential', split: '—', dispatches: 1, seqNs: 1000, seqGBs: 12.288 };
  for (const k of ['scanNs', 'scanBytes', 'scanGBs', 'scanPerElementwise', 'scanPerCopy'] as const) delete seqRow[k];
  const report: BenchReport = { adapter: 'test <adapter>', timingMethod: 'timestamp', copyTimingMethod: 'timestamp', date: '2026-11-29', rows: [row('affine', 1024, 1000), row('affine', 4096, 2000), row('cumsum', 1024, 500), seqRow], notes: ['a note'] };

  it('tabulates throughput and the ratios per row', () => {
    const md = markdownReport(report, 'rnnc bench x');
    expect(md).toContain('Generated by `rnnc bench x`');
    // 1024 elements in 1000 ns: 1024 Melem/s; 12 KiB in 1 µs: 12.29 GB/s; seq twice as slow; the elementwise kernel twice, the copy four times as fast.
    expect(md).toContain('| affine | 2^10 | 1 | 1 | scan | reduce-then-scan, stripe | 3 | 1024.0 | 12.29 | 6.14 | 24.58 (16x64) | 49.15 | 2.00× | 0.50 | 0.25 | 1.67× |');
    // A row without a scan: its scan columns empty, and the reason below.
    expect(md).toContain('| deltanet | 2^10 | 1 | 1 | seq | sequential | 1 | — | — | 12.29 |');
    expect(md).toContain('- deltanet: timed sequentially only; the scan refused it: its element is too big.');
    expect(md).toContain('- a note');
  });

  it('plots one line per cell in each panel, with the targets, escaping the adapter name', () => {
    const svg = svgPlot(report);
    expect(svg.match(/<polyline /g)).toHaveLength(4); // 2 cells with a scan × 2 panels
    expect(svg).toContain('target 1.8×');
    expect(svg).toContain('target 0.5×');
    expect(svg).toContain('test &lt;adapter&gt;');
  });
});
