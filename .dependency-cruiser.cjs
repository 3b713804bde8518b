// The layer rule: imports only point down. Lowest first; a module may import its own layer and any
// layer before it, never one after it. Dev tools (bench/, scripts/) sit above everything shipped.
// `npm run lint:deps` checks it (and .ci/run runs that); a cycle anywhere fails too.
const layers = [
  ['syntax', '^src/compiler/(syntax|diagnostics)/|^src/compiler/builtins\\.ts$'],
  // The formatter (a prettier plugin) reads the syntax only.
  ['format', '^src/format/'],
  ['check', '^src/compiler/check/'],
  ['ir', '^src/compiler/ir/'],
  ['analyse', '^src/compiler/analyse/'],
  // Reverse-mode differentiation of the step IR (issue 14): reads the IR and the builtin table.
  ['grad', '^src/compiler/grad/'],
  ['plan', '^src/compiler/plan/'],
  ['backends', '^backends/'],
  ['runtime', '^src/runtime/'],
  ['driver', '^src/driver/'],
  // The language server (rnnc lsp): the front end's answers in the protocol's terms; the CLI starts it.
  ['lsp', '^src/lsp/'],
  ['cli', '^src/cli/'],
  ['dev tools', '^(bench|scripts)/'],
];

const upward = layers.slice(0, -1).map(([name, path], k) => ({
  name: `no-upward-from-${name.replace(/ /g, '-')}`,
  comment: `${name} may import only itself and the layers below it: ${layers.slice(0, k).map(([n]) => n).join(', ') || 'none'}`,
  severity: 'error',
  from: { path },
  to: { path: layers.slice(k + 1).map(([, p]) => `(${p})`).join('|') },
}));

module.exports = {
  forbidden: [
    { name: 'no-circular', comment: 'import cycles make layers meaningless', severity: 'error', from: {}, to: { circular: true } },
    ...upward,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(node_modules|dist|test)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js'] },
  },
};
