// `rnnc compile --grad`: the gradient cells' files beside the forward cell's, the schedule that
// chains them (<cell>.grad.json), and --check over all of them.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';

let err: string[];
beforeEach(() => {
  err = [];
  process.exitCode = undefined;
  vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
});
afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

describe('rnnc compile --grad', () => {
  it('writes the saving, backward and accumulation cells and their schedule; --check passes on them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rnnc-compile-grad-'));
    expect(await main(['compile', 'examples/lstm.rnn', '--grad', '-o', dir])).toBe(0);
    const files = readdirSync(dir).sort();
    for (const cell of ['lstm', 'lstm_saving', 'lstm_grad', 'lstm_grad_Ui', 'lstm_grad_bo']) {
      expect(files, cell).toContain(`${cell}.wgsl`);
      expect(files, cell).toContain(`${cell}.json`);
      expect(files, cell).toContain(`${cell}.ts`);
    }
    const schedule = JSON.parse(readFileSync(join(dir, 'lstm.grad.json'), 'utf8'));
    expect(schedule.saving).toEqual({ cell: 'lstm_saving', mode: 'seq', savedStates: { h: 'h_saved', c: 'c_saved' } });
    expect(schedule.backward).toMatchObject({ cell: 'lstm_grad', mode: 'seq', stateAdjoints: { h: 'd_h', c: 'd_c' }, inputAdjoints: { x: 'd_x' }, upstreamOutputs: { y: 'd_y' } });
    expect(schedule.accumulations.map((a: { param: string }) => a.param)).toEqual(['Wi', 'Wf', 'Wg', 'Wo', 'Ui', 'Uf', 'Ug', 'Uo', 'bi', 'bf', 'bg', 'bo']);
    // The backward cell reads U and W transposed (its own params), which the schedule names.
    expect(schedule.backward.transposedParams).toMatchObject({ Ui_T: 'Ui', Wo_T: 'Wo' });
    // Every carried value is an output of the backward cell and an input of some accumulation cell.
    const backwardManifest = readFileSync(join(dir, 'lstm_grad.json'), 'utf8');
    for (const out of Object.values(schedule.backward.carried) as string[]) {
      expect(backwardManifest).toContain(`"${out}"`);
      expect(schedule.accumulations.some((a: { cell: string }) => readFileSync(join(dir, `${a.cell}.json`), 'utf8').includes(`"${out}"`)), out).toBe(true);
    }
    expect(await main(['compile', 'examples/lstm.rnn', '--grad', '-o', dir, '--check'])).toBe(0);
    expect(err.join('')).toContain(`rnnc: ${dir} is up to date`);
    // Fourteen cells' kernels and host modules, twice: 8.6–9.5 s on 2 loaded cores, 12.6 s once.
  }, 60_000);

  it('says that --grad-mode needs --grad', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rnnc-compile-grad-'));
    expect(await main(['compile', 'examples/parity.rnn', '--grad-mode', 'scan', '-o', dir])).toBe(0);
    expect(err.join('')).toContain('rnnc: warning: --grad-mode has no effect without --grad');
  });
});
