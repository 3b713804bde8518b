// Runs a generated host module on Dawn in a child process of its own (dawn-child.mjs): the module is
// transpiled to JavaScript as it stands (no type information, no rewriting), written to a temporary
// file and imported there; typed arrays travel by structured clone.
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ts from 'typescript';

/**
 * A temporary folder for generated modules in which `rnnc/runtime` resolves as it does in a user's
 * project: node_modules/rnnc is this repository (its package.json `exports`, so the built dist/).
 */
export function moduleDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(resolve('.'), join(dir, 'node_modules', 'rnnc'), 'dir');
  return dir;
}

/** The module as JavaScript (ES2022 module), types stripped. */
export const transpile = (code: string): string =>
  ts.transpileModule(code, { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022 } }).outputText;

/**
 * `piece(arrays, batch, T, t0, n)`, for the plain-JavaScript programs the stream tests run around their
 * modules: steps [t0, t0 + n) of every sequence of [batch, T, ...] arrays, as an application cuts them.
 */
export const pieceFunction = `/** Steps [t0, t0 + n) of every sequence of [batch, T, ...] arrays. */
function piece(arrays, batch, T, t0, n) {
  const out = {};
  for (const [name, a] of Object.entries(arrays)) {
    const w = a.length / (batch * T);
    out[name] = new Float32Array(batch * n * w);
    for (let b = 0; b < batch; b++) out[name].set(a.subarray((b * T + t0) * w, (b * T + t0 + n) * w), b * n * w);
  }
  return out;
}`;

export interface HostRun {
  batch: number;
  T: number;
  inputs: Record<string, Float32Array>;
  params: Record<string, Float32Array>;
  initialState?: Record<string, Float32Array>;
  lengths?: Int32Array;
}

export interface HostResult {
  outputs: Record<string, Float32Array>;
  finalState: Record<string, Float32Array>;
  /** Pipelines and buffers the device's runtime (rnnc/runtime) had made by the end of the call. */
  made: { pipelines: number; buffers: number };
}

export interface HostCall {
  /** The generated module's TypeScript. */
  code: string;
  /** Its run function, e.g. `runGla`. */
  entry: string;
  run: HostRun;
}

/** Makes each call, in order, on one fresh Dawn device in a child process; the results in the same order. */
export async function runHostModules(calls: HostCall[], timeoutMs = 240_000): Promise<HostResult[]> {
  const dir = moduleDir('rnnc-host-');
  const requests = calls.map((c, k) => {
    const modulePath = join(dir, `module${k}.mjs`);
    writeFileSync(modulePath, transpile(c.code));
    return { modulePath, entry: c.entry, run: c.run };
  });
  const child = fork(new URL('./dawn-child.mjs', import.meta.url), [], { execArgv: ['--no-opt'], serialization: 'advanced', stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    return await new Promise<HostResult[]>((done, fail) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        fail(new Error(`the host modules did not finish in ${timeoutMs} ms`));
      }, timeoutMs);
      child.once('message', (reply: { ok: true; results: HostResult[] } | { ok: false; error: string }) => {
        clearTimeout(timer);
        if (reply.ok) done(reply.results);
        else fail(new Error(reply.error));
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        fail(new Error(`the Dawn child exited (code ${code}, signal ${signal}) without a result:\n${stderr.slice(-2000)}`));
      });
      child.send(requests);
    });
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}
