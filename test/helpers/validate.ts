// Validation before snapshot: a golden test hands its WGSL to Dawn (Tint, then Dawn's pipeline checks
// such as workgroup size and memory limits) before it pins the files, and fails with Tint's messages
// rendered on the code. One Dawn session per test file, opened before its first test.
import { afterAll, beforeAll, expect } from 'vitest';
import { GpuSession, formatShaderError } from '../../src/runtime/dawn/runtime.js';

/** Shader label → WGSL. */
export type Shaders = Record<string, string>;

/**
 * Call at the top level of a test file; returns `expectValidWgsl(shaders)`, which fails the calling
 * test when Dawn rejects any of them. Pipelines are created (layout 'auto') so that limits Tint alone
 * does not check (invocations per workgroup, workgroup memory) are checked too; lavapipe compiles
 * lazily, at the first dispatch, so that costs little.
 */
export function useWgslValidator(): (shaders: Shaders) => Promise<void> {
  let session: GpuSession | undefined;
  beforeAll(async () => {
    session = await GpuSession.open();
  });
  afterAll(async () => {
    await session?.close();
  });
  return async (shaders) => {
    if (!session) throw new Error('useWgslValidator: the Dawn session is not open (call useWgslValidator at the top level of the test file)');
    const reports = await session.compileShaders(
      Object.entries(shaders).map(([label, code]) => ({ label, code })),
      { pipelines: true },
    );
    const failures = reports.flatMap((r) => {
      const code = shaders[r.label]!;
      if (r.messages.some((m) => m.type === 'error')) return [formatShaderError(r.label, code, r.messages)];
      if (r.pipelineError) return [`the pipeline of \`${r.label}\` was rejected: ${r.pipelineError}`];
      return [];
    });
    if (failures.length > 0) expect.fail(`Dawn rejects ${failures.length} of ${reports.length} shaders:\n\n${failures.join('\n\n')}`);
  };
}
