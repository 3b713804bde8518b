// `rnnc/runtime`: what the generated host modules import. WebGPU alone, for browsers and Node alike
// (in Node, open the device with `openNodeDevice` from `rnnc/node`).
export { HostGpu, READ, WRITE, UNIFORMS, Usage, type HostPass, type SubmitOptions, type BindingTypes } from './gpu.js';
export { checkCounts, checkLength, grid, sequenceLengths } from './args.js';
export { halfArray, halfBits, halfBytes, widenHalf } from './half.js';
