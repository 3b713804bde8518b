// Type-checks generated TypeScript the way a user's project would: `tsc --strict --noEmit` over the
// files, with the browser's libraries (ES2022, DOM) and WebGPU's types (@webgpu/types), and nothing
// else, so a host module that needs more than WebGPU and rnnc's runtime fails here. `rnnc/runtime`
// maps to its source, which is held to the same rules. One program for all files.
import ts from 'typescript';
import { resolve } from 'node:path';

/** A folder that does not exist: the files live in memory, module resolution starts from the repository. */
const ROOT = resolve('test/host/.in-memory');

export function typeCheck(files: Record<string, string>): string[] {
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ES2022,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    types: ['@webgpu/types'],
    skipLibCheck: true,
    paths: { 'rnnc/runtime': [resolve('src/runtime/webgpu/index.ts')] },
  };
  const paths = new Map(Object.entries(files).map(([name, text]) => [resolve(ROOT, name), text]));
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, version, onError, create) => {
    const text = paths.get(resolve(name));
    return text !== undefined ? ts.createSourceFile(name, text, version) : getSourceFile(name, version, onError, create);
  };
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => paths.has(resolve(name)) || fileExists(name);
  const readFile = host.readFile.bind(host);
  host.readFile = (name) => paths.get(resolve(name)) ?? readFile(name);
  // The in-memory folder exists for module resolution (a generated module importing another, './x.js').
  const directoryExists = host.directoryExists?.bind(host);
  host.directoryExists = (name) => resolve(name) === ROOT || (directoryExists ? directoryExists(name) : true);
  const program = ts.createProgram([...paths.keys()], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file && d.start !== undefined ? `${d.file.fileName.replace(ROOT + '/', '')}:${d.file.getLineAndCharacterOfPosition(d.start).line + 1}: ` : '';
    return where + ts.flattenDiagnosticMessageText(d.messageText, '\n');
  });
}
