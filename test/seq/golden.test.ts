// Snapshots of everything `rnnc compile --mode seq` writes, for every example: the WGSL kernel, the
// manifest and the host module (test/golden/seq/<example>/).
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import { SourceFile } from '../../src/compiler/diagnostics/render.js';
import { compileModule } from '../../src/driver/compile.js';

const examples = readdirSync('examples').filter((f) => f.endsWith('.rnn')).sort();

describe('sequential backend golden files', () => {
  it.each(examples)('%s', async (file) => {
    const path = `examples/${file}`;
    const text = readFileSync(path, 'utf8');
    const module = frontEnd(text).module!;
    const files = await compileModule('seq', { module, sizes: bindDims(module), source: new SourceFile(path, text) });
    expect(files.map((f) => f.name)).toEqual([`${module.name}.wgsl`, `${module.name}.json`, `${module.name}.ts`]);
    for (const f of files) await expect(f.text).toMatchFileSnapshot(`../golden/seq/${module.name}/${f.name}`);
  });
});
