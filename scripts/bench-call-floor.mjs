// The floor under issue 13's whole-call target for `rnnc run` on a one-vector cumsum at T = 2^22
// (docs/host-transfer.md, "The floor under the whole call"): the least work a call must do besides
// its kernels, each part at its best on this machine.
//  - In a child `node --no-opt` with Dawn (how the Dawn host must run, docs/dawn-crash.md), one
//    process and no transfer between processes: read the .npy's data straight into a mapped staging
//    buffer, copy it into the input buffer, copy that into an output buffer (standing in for the
//    kernels), copy that into a read-back buffer, map it and write the result .npy from it. Warm
//    buffers, the same files each time.
//  - In this process (the optimizer on, no Dawn: the parent's side): the ordered float64 checksums
//    `rnnc run` prints (src/driver/run-report.ts summarize) over the 2^22 results.
// Medians of 12 repeats after 3 warm-up ones.
//
//   node scripts/bench-call-floor.mjs
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const T = 1 << 22;
const BYTES = 4 * T;
const HEADER = 128;
const REPEATS = 15;
const WARMUP = 3;
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

function npyHeader() {
  const h = Buffer.alloc(HEADER, 0x20);
  h.write('\x93NUMPY\x01\x00');
  h.writeUInt16LE(HEADER - 10, 8);
  h.write(`{'descr': '<f4', 'fortran_order': False, 'shape': (1, ${T}, 1), }`, 10);
  h[HEADER - 1] = 0x0a;
  return h;
}

async function dawnSide(dir) {
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  const gpu = create([]);
  const adapter = await gpu.requestAdapter();
  const device = await adapter.requestDevice();
  const U = GPUBufferUsage;
  const staging = device.createBuffer({ size: BYTES, usage: U.MAP_WRITE | U.COPY_SRC });
  const input = device.createBuffer({ size: BYTES, usage: U.STORAGE | U.COPY_DST | U.COPY_SRC });
  const output = device.createBuffer({ size: BYTES, usage: U.STORAGE | U.COPY_DST | U.COPY_SRC });
  const back = device.createBuffer({ size: BYTES, usage: U.MAP_READ | U.COPY_DST });
  const header = npyHeader();
  const stages = { read: [], copies: [], write: [], total: [] };
  for (let r = 0; r < REPEATS; r++) {
    const t0 = performance.now();
    await staging.mapAsync(GPUMapMode.WRITE);
    const fd = openSync(join(dir, 'x.npy'), 'r');
    readSync(fd, new Uint8Array(staging.getMappedRange()), 0, BYTES, HEADER);
    closeSync(fd);
    staging.unmap();
    const t1 = performance.now();
    const encoder = device.createCommandEncoder();
    encoder.copyBufferToBuffer(staging, 0, input, 0, BYTES);
    encoder.copyBufferToBuffer(input, 0, output, 0, BYTES);
    encoder.copyBufferToBuffer(output, 0, back, 0, BYTES);
    device.queue.submit([encoder.finish()]);
    await back.mapAsync(GPUMapMode.READ);
    const t2 = performance.now();
    const out = openSync(join(dir, 'y.npy'), 'w');
    writeSync(out, header);
    writeSync(out, new Uint8Array(back.getMappedRange()));
    closeSync(out);
    back.unmap();
    const t3 = performance.now();
    if (r >= WARMUP) [stages.read, stages.copies, stages.write, stages.total].forEach((s, k) => s.push([t1 - t0, t2 - t1, t3 - t2, t3 - t0][k]));
  }
  device.destroy();
  console.log(JSON.stringify(Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, median(v)]))));
  process.exit(0);
}

if (process.argv[2] === '--dawn') await dawnSide(process.argv[3]);
else {
  const dir = join(tmpdir(), `rnnc-call-floor-${process.pid}`);
  execFileSync('mkdir', ['-p', dir]);
  const x = new Float32Array(T).map((_, i) => Math.sin(i));
  writeFileSync(join(dir, 'x.npy'), Buffer.concat([npyHeader(), Buffer.from(x.buffer)]));
  const load0 = loadavg()[0];
  const dawn = JSON.parse(execFileSync(process.execPath, ['--no-opt', fileURLToPath(import.meta.url), '--dawn', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n').pop());
  const times = [];
  for (let r = 0; r < REPEATS; r++) {
    const t0 = performance.now();
    let sum = 0;
    let sumAbs = 0;
    for (let i = 0; i < x.length; i++) {
      sum += x[i];
      sumAbs += Math.abs(x[i]);
    }
    if (Number.isNaN(sum + sumAbs)) throw new Error('unreachable');
    if (r >= WARMUP) times.push(performance.now() - t0);
  }
  rmSync(dir, { recursive: true, force: true });
  const f = (v) => v.toFixed(2);
  console.log(`T = 2^22 (16 MiB in, 16 MiB out); load average ${load0.toFixed(1)} before, ${loadavg()[0].toFixed(1)} after; medians of ${REPEATS - WARMUP}, ms\n`);
  console.log('| part | ms |\n|---|---:|');
  console.log(`| read the .npy into the mapped staging buffer | ${f(dawn.read)} |`);
  console.log(`| three 16 MiB GPU copies (upload, a stand-in for the kernels, read-back) and the map | ${f(dawn.copies)} |`);
  console.log(`| write the result .npy from the mapped read-back buffer | ${f(dawn.write)} |`);
  console.log(`| the data path, one process with Dawn | ${f(dawn.total)} |`);
  console.log(`| the ordered float64 checksums (sum, sum of absolute values) | ${f(median(times))} |`);
}
