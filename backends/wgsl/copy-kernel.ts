// The bandwidth yardstick: a plain elementwise kernel that reads `inFloats` and writes `outFloats`,
// the same bytes a scan must move at least (every input once, every output once). Each output sums
// the inputs that map onto it (out[i] = Σ_k in[k·outFloats + i]), so no read can be dropped.
// (Assumes at least as many outputs as a quarter of the inputs: the reads are unrolled.)
import { gridDispatch } from '../lower/grid.js';
import { arrayOf, assign, bin, emptyModule, f32, id, ifS, index, letS, lit, member, named, varS } from './ast.js';
import { printModule } from './print.js';
import type { GpuJob } from '../job.js';

const WORKGROUP = 64;

export function copyKernel(inFloats: number, outFloats: number): string {
  const i = id('i');
  return printModule({
    ...emptyModule(),
    header: `elementwise yardstick: ${inFloats} floats in, ${outFloats} floats out`,
    globals: [
      { name: 'src', space: 'storage', access: 'read', type: arrayOf(f32), group: 0, binding: 0 },
      { name: 'dst', space: 'storage', access: 'read_write', type: arrayOf(f32), group: 0, binding: 1 },
    ],
    entryPoints: [
      {
        name: 'main',
        stage: 'compute',
        workgroupSize: [WORKGROUP],
        params: [
          { name: 'gid', type: named('vec3<u32>'), attributes: ['builtin(global_invocation_id)'] },
          { name: 'nwg', type: named('vec3<u32>'), attributes: ['builtin(num_workgroups)'] },
        ],
        body: [
          letS('i', bin('+', member(id('gid'), 'x'), bin('*', member(id('gid'), 'y'), bin('*', member(id('nwg'), 'x'), lit.u32(WORKGROUP))))),
          ifS(bin('>=', i, lit.u32(outFloats)), [{ kind: 'return' }]),
          varS('acc', undefined, lit.f32(0)),
          // Unrolled: lavapipe runs a loop with a run-time trip count far slower than straight-line loads.
          ...Array.from({ length: Math.floor(inFloats / outFloats) }, (_, k) => assign(id('acc'), index(id('src'), k ? bin('+', i, lit.u32(k * outFloats)) : i), '+=')),
          ...(inFloats % outFloats
            ? [ifS(bin('<', bin('+', i, lit.u32(Math.floor(inFloats / outFloats) * outFloats)), lit.u32(inFloats)), [assign(id('acc'), index(id('src'), bin('+', i, lit.u32(Math.floor(inFloats / outFloats) * outFloats))), '+=')])]
            : []),
          assign(index(id('dst'), i), id('acc')),
        ],
      },
    ],
  });
}

/** A job running the copy kernel once, timed like the scan and sequential jobs. */
export function copyJob(inFloats: number, outFloats: number, timing: GpuJob['timing']): GpuJob {
  const groups = Math.ceil(outFloats / WORKGROUP);
  const [x, y] = gridDispatch(groups);
  return {
    shaders: [{ label: 'copy', code: copyKernel(inFloats, outFloats) }],
    buffers: [
      { name: 'src', bytes: 4 * inFloats, usage: 'storage-read' },
      { name: 'dst', bytes: 4 * outFloats, usage: 'storage' },
    ],
    passes: [{ shader: 'copy', bindings: [{ binding: 0, buffer: 'src' }, { binding: 1, buffer: 'dst' }], dispatch: [x, y] }],
    ...(timing ? { timing } : {}),
  };
}

