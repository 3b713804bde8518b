// `rnnc explain FILE --after PASS` works for every pass its --help lists, and the list is the pipeline's.
import { describe, expect, it } from 'vitest';
import { passNames } from '../../src/driver/pipeline.js';
import { captureCli } from '../cli-run/rnnc.js';

const rnnc = captureCli();

describe('rnnc explain --after', () => {
  it('lists every pass of the pipeline in its --help', async () => {
    const r = await rnnc('explain', '--help');
    expect(passNames).toEqual(['parse', 'check', 'lower', 'analyse', 'plan']);
    for (const name of passNames) expect(r.stdout).toContain(`${name} (`);
  });

  it.each(['parse', 'check', 'lower', 'analyse', 'grad', 'plan'])('%s: prints the result of the pass', async (pass) => {
    const r = await rnnc('explain', 'examples/mamba_s6.rnn', '--after', pass);
    expect(r.code, r.stderr).toBe(0);
    const expected: Record<string, RegExp> = {
      parse: /"kind": "rnn"|"name": "mamba_s6"/,
      check: /^dim {4}D = 8$/m,
      lower: /^rnn mamba_s6/m,
      analyse: /^element:$/m,
      grad: /^rnn mamba_s6_grad$/m,
      plan: /"mode": "scan"/,
    };
    expect(r.stdout).toMatch(expected[pass]!);
    const json = await rnnc('explain', 'examples/mamba_s6.rnn', '--after', pass, '--json');
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, after: pass });
  });

  it('an unknown pass is a usage error naming the passes', async () => {
    const r = await rnnc('explain', 'examples/mamba_s6.rnn', '--after', 'emit');
    expect(r.code).toBe(2);
    expect(r.stderr).toBe("rnnc: --after must be one of parse, check, lower, analyse, grad, plan, got 'emit'\n");
  });

  it('--after plan takes --mode and --dim', async () => {
    const r = await rnnc('explain', 'examples/deltanet.rnn', '--after', 'plan', '--mode', 'chunk', '--dim', 'K=16', '--dim', 'V=16');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ requested: 'chunk', mode: 'chunk', decision: { mode: 'chunk', K: 16, R: 16 } });
  });
});
