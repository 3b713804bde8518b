// The buffers a WGSL module declares, read off its `@group @binding var<...>` declarations: what a
// first dispatch needs of a shader known only as text (compileShaders' `dispatch`, for drivers that
// compile at the first dispatch). Only the declarations are read, not the whole grammar: the
// maintained parser wgsl_reflect 1.6.0 rejects valid WGSL we emit (`if t < end && t < len {`, taken
// for a template list), and Tint, which is exact, has no reflection in the WebGPU API.
import type { ShaderBinding } from '../../../backends/job.js';

/**
 * Every buffer binding gets this many zeroed bytes: more than any uniform struct or fixed part of a
 * runtime-sized array rnnc emits, and within the WebGPU defaults for uniform and storage bindings.
 */
export const DISPATCH_BUFFER_BYTES = 65536;

const DECLARATION = /@group\(\s*(\d+)\s*\)\s*@binding\(\s*(\d+)\s*\)\s*var\s*<\s*(uniform|storage)\s*(?:,\s*(read|read_write)\s*)?>/g;

/** The module's buffer bindings, in (group, binding) order; throws on a texture or sampler binding. */
export function shaderBindings(code: string): ShaderBinding[] {
  const bindings: ShaderBinding[] = [...code.matchAll(DECLARATION)].map((m) => ({
    group: Number(m[1]),
    binding: Number(m[2]),
    type: m[3] === 'uniform' ? 'uniform' : m[4] === 'read_write' ? 'storage' : 'read-only-storage',
    bytes: DISPATCH_BUFFER_BYTES,
  }));
  const declared = (code.match(/@binding\(/g) ?? []).length;
  if (declared !== bindings.length) throw new Error(`${declared - bindings.length} of the module's bindings are not buffers`);
  return bindings.sort((a, b) => a.group - b.group || a.binding - b.binding);
}
