// Snapshots of everything `rnnc compile --mode seq` writes, for every example: the WGSL kernel (and
// its pre-pass, where the cell has state-independent products), the manifest and the host module
// (test/golden/seq/<example>/).
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import { SourceFile } from '../../src/compiler/diagnostics/render.js';
import { compileFiles, plan } from '../../src/driver/compile.js';
import { useWgslValidator } from '../helpers/validate.js';

const expectValidWgsl = useWgslValidator();
const examples = readdirSync('examples').filter((f) => f.endsWith('.rnn')).sort();

describe('sequential backend golden files', () => {
  it.each(examples)('%s', async (file) => {
    const path = `examples/${file}`;
    const text = readFileSync(path, 'utf8');
    const source = new SourceFile(path, text);
    const { module, analysis } = frontEnd(source);
    const files = await compileFiles(plan(module!, analysis!, { mode: 'seq' }, source));
    const prepass = files.some((f) => f.name === `${module!.name}.project.wgsl`) ? [`${module!.name}.project.wgsl`] : [];
    expect(files.map((f) => f.name)).toEqual([...prepass, `${module!.name}.wgsl`, `${module!.name}.json`, `${module!.name}.ts`]);
    await expectValidWgsl(Object.fromEntries(files.filter((f) => f.name.endsWith('.wgsl')).map((f) => [f.name, f.text])));
    for (const f of files) await expect(f.text).toMatchFileSnapshot(`../golden/seq/${module!.name}/${f.name}`);
  });
});
