// Builds the playground into playground/dist/: type-checks the page (playground/tsconfig.json: DOM
// and WebGPU types, no Node), then bundles it with esbuild for the browser, with the examples'
// text inlined as the module `rnnc-examples`. A Node built-in reached from the page's imports fails
// the bundle (platform 'browser'), so the compiler and backends stay runnable in a browser.
// Run: npm run playground:build.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const PLAYGROUND_DIST = join(ROOT, 'playground', 'dist');

/** `import examples from 'rnnc-examples'`: every examples/*.rnn, by file name. */
const examplesPlugin: Plugin = {
  name: 'rnnc-examples',
  setup(b) {
    b.onResolve({ filter: /^rnnc-examples$/ }, () => ({ path: 'rnnc-examples', namespace: 'rnnc-examples' }));
    b.onLoad({ filter: /.*/, namespace: 'rnnc-examples' }, () => {
      const dir = join(ROOT, 'examples');
      const files = readdirSync(dir).filter((f) => f.endsWith('.rnn')).sort();
      const table = Object.fromEntries(files.map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
      return { contents: `export default ${JSON.stringify(table)};`, loader: 'js', watchFiles: files.map((f) => join(dir, f)), watchDirs: [dir] };
    });
  },
};

export interface BuildOptions {
  /** Type-check the page first (default true): esbuild itself strips types without checking them. */
  typecheck?: boolean;
}

/** Builds playground/dist (index.html, style.css, main.js); throws on a type or bundling error. */
export async function buildPlayground(options: BuildOptions = {}): Promise<string> {
  if (options.typecheck ?? true) {
    try {
      execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'playground/tsconfig.json')], { cwd: ROOT, stdio: 'pipe' });
    } catch (e) {
      const out = e as { stdout?: Buffer; stderr?: Buffer };
      throw new Error(`playground: the page does not type-check:\n${out.stdout?.toString() ?? ''}${out.stderr?.toString() ?? ''}`);
    }
  }
  rmSync(PLAYGROUND_DIST, { recursive: true, force: true });
  mkdirSync(PLAYGROUND_DIST, { recursive: true });
  await build({
    entryPoints: [join(ROOT, 'playground/src/main.ts')],
    outfile: join(PLAYGROUND_DIST, 'main.js'),
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: 'linked',
    legalComments: 'none',
    logLevel: 'silent',
    plugins: [examplesPlugin],
  });
  for (const f of ['index.html', 'style.css']) copyFileSync(join(ROOT, 'playground', f), join(PLAYGROUND_DIST, f));
  return PLAYGROUND_DIST;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const t0 = performance.now();
  buildPlayground().then(
    (dir) => console.log(`playground: built ${dir} in ${((performance.now() - t0) / 1000).toFixed(1)} s; serve it over http (e.g. npx esbuild --servedir=playground/dist) and open it in a browser with WebGPU`),
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : String(e));
      process.exit(1);
    },
  );
}
