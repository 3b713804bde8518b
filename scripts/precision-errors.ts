// The errors of f16 storage per example (docs/precision.md): every example in each mode the planner
// offers it with f16 storage (seq; scan, and the scan's chained pass where a look-back target plans
// it; chunk), against the float64 reference on the same f16-rounded inputs and params, at T = 1, 13
// (random lengths) and 1000 (full and random lengths), batch 3. Prints a markdown table of the largest
// |gpu - ref| / (1 + |ref|) over the modes, outputs and final states apart.
//
//   npx tsx scripts/precision-errors.ts [lru,lstm,...]
import { readdirSync, readFileSync } from 'node:fs';
import { frontEnd } from '../src/driver/front-end.js';
import { bindDims } from '../src/compiler/ir/dims.js';
import { interpret } from '../src/runtime/reference/interpreter.js';
import { randomLengths, randomRunData } from '../src/driver/data.js';
import { openGpu, runPrepared } from '../src/driver/run.js';
import { emit, plan } from '../src/driver/compile.js';
import { storedData, verifyAtPrecision } from '../src/driver/precision.js';
import type { Module } from '../src/compiler/ir/ir.js';
import type { Analysis } from '../src/compiler/analyse/types.js';
import type { Mode, Target } from '../src/compiler/plan/plan.js';

const only = process.argv[2]?.split(',');
const examples = readdirSync('examples').filter((f) => f.endsWith('.rnn') && (!only || only.includes(f.replace('.rnn', '')))).sort();
const RUNS: [number, boolean][] = [[1, false], [13, true], [1000, false], [1000, true]];
const VARIANTS: [Mode, Target | undefined][] = [['seq', undefined], ['scan', undefined], ['scan', { subgroups: true, lookBack: true }], ['chunk', undefined]];
const fmt = (x: number) => (x === 0 ? '0' : x.toExponential(1));

const gpu = await openGpu();
const lines: string[] = [];
try {
  for (const file of examples) {
    const cell = frontEnd(readFileSync(`examples/${file}`, 'utf8')) as { module: Module; analysis: Analysis };
    const sizes = bindDims(cell.module);
    const modes: string[] = [];
    const out = RUNS.map(() => 0);
    const st = RUNS.map(() => 0);
    for (const [mode, target] of VARIANTS) {
      let c;
      try {
        c = plan(cell.module, cell.analysis, { mode, dims: sizes, precision: 'f16-storage', ...(target ? { target } : {}) });
      } catch {
        continue;
      }
      if (target && !(c.plan.decision as { tile?: { chained?: boolean } }).tile?.chained) continue;
      modes.push(target ? `${mode} (chained)` : mode);
      const compiled = emit(c);
      for (const [k, [T, variable]] of RUNS.entries()) {
        const batch = 3;
        const lengths = variable ? randomLengths(batch, T, 11) : undefined;
        const d = randomRunData(cell.module, { batch, T, sizes }, 5, { initial: false });
        const data = storedData(c.plan, { batch, T, inputs: d.inputs as Record<string, Float32Array>, params: d.params as Record<string, Float32Array>, ...(lengths ? { lengths } : {}) });
        const got = await runPrepared(gpu, compiled.prepare({ batch, T }), data, sizes);
        const ref = interpret(cell.module, { batch, T, sizes, ...(lengths ? { lengths } : {}) }, { inputs: data.inputs, params: data.params });
        const v = verifyAtPrecision(c.plan, got, ref, 1);
        out[k] = Math.max(out[k]!, ...v.tensors.filter((t) => t.kind === 'output').map((t) => t.maxErr));
        st[k] = Math.max(st[k]!, ...v.tensors.filter((t) => t.kind === 'state').map((t) => t.maxErr));
      }
    }
    const line = `| ${file.replace('.rnn', '')} | ${modes.join(', ')} | ${out.map(fmt).join(' | ')} | ${st.map(fmt).join(' | ')} |`;
    lines.push(line);
    process.stderr.write(line + '\n');
  }
} finally {
  await gpu.close();
}
console.log('| example | modes | outputs T = 1 | T = 13 (var.) | T = 1000 | T = 1000 (var.) | final states T = 1 | T = 13 (var.) | T = 1000 | T = 1000 (var.) |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const l of lines) console.log(l);
