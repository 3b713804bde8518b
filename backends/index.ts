// The table of backends, one per mode. The planner asks them (as probes); the driver compiles and
// prepares runs through them. Adding a backend is adding it here.
import type { Mode } from '../src/compiler/plan/plan.js';
import type { Backend } from './backend.js';
import { chunkBackend } from './wgsl-chunk/backend.js';
import { scanBackend } from './wgsl-scan/backend.js';
import { seqBackend } from './wgsl-seq/backend.js';

export const backends: { readonly [M in Mode]: Backend<M> } = { seq: seqBackend, scan: scanBackend, chunk: chunkBackend };

export const backendList: readonly Backend[] = Object.values(backends);
