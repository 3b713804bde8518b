import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatNpy, NpyError, parseNpy, readNpy, writeNpy } from '../../src/driver/npy.js';

/** A .npy file made by hand: magic, version, header length, header text, then raw data bytes. */
function handMade(header: string, data: Uint8Array, version: 1 | 2 = 1): Uint8Array {
  const prefix = version === 1 ? 10 : 12;
  const out = new Uint8Array(prefix + header.length + data.length);
  out.set([0x93, ...Buffer.from('NUMPY'), version, 0]);
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  out.set(Buffer.from(header, 'latin1'), prefix);
  out.set(data, prefix + header.length);
  return out;
}
const f32bytes = (...xs: number[]) => new Uint8Array(new Float32Array(xs).buffer);

describe('npy', () => {
  it('round-trips shapes of rank 0 to 3 through a file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rnnc-npy-'));
    try {
      for (const shape of [[], [5], [2, 3], [2, 1, 4], [0, 3]]) {
        const n = shape.reduce((a, b) => a * b, 1);
        const data = Float32Array.from({ length: n }, (_, i) => Math.fround(i * 0.37 - 1));
        const path = join(dir, `a${shape.join('x')}.npy`);
        await writeNpy(path, { shape, data });
        const back = await readNpy(path);
        expect(back.shape).toEqual(shape);
        expect(back.data).toEqual(data);
      }
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it('reads from a file the way parseNpy reads bytes: a header longer than the first read, an odd data offset, a truncated file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rnnc-npy-'));
    try {
      // A v2.0 header of 10,000 bytes (longer than readNpy's first read), data at an offset that is not 4-aligned.
      const header = `{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }`.padEnd(9999, ' ') + '\n';
      const long = join(dir, 'long.npy');
      await writeFile(long, handMade(header, f32bytes(1.5, -2, 3.25), 2));
      expect(await readNpy(long)).toEqual({ shape: [3], data: Float32Array.from([1.5, -2, 3.25]) });
      const cut = join(dir, 'cut.npy');
      const whole = formatNpy({ shape: [4], data: new Float32Array(4) });
      await writeFile(cut, whole.subarray(0, whole.length - 6));
      await expect(readNpy(cut)).rejects.toThrow(`${cut}: shape (4) needs 16 data bytes but the file has 10 (truncated?)`);
      await writeFile(cut, new Uint8Array(0));
      await expect(readNpy(cut)).rejects.toThrow(`${cut}: the file is empty (0 bytes), not a NumPy .npy file`);
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it('writes a v1.0 header padded to 64 bytes, ending in a newline, the way numpy does', () => {
    const bytes = formatNpy({ shape: [2, 3], data: new Float32Array(6) });
    expect(bytes[6]).toBe(1);
    const headerLen = bytes[8]! | (bytes[9]! << 8);
    expect((10 + headerLen) % 64).toBe(0);
    const header = Buffer.from(bytes.subarray(10, 10 + headerLen)).toString('latin1');
    expect(header).toMatch(/^\{'descr': '<f4', 'fortran_order': False, 'shape': \(2, 3\), \} *\n$/);
    expect(Buffer.from(formatNpy({ shape: [3], data: new Float32Array(3) })).toString('latin1')).toContain("'shape': (3,)");
  });

  it('reads hand-made v1.0 and v2.0 headers, key order and spacing as numpy variants write them', () => {
    const a = parseNpy(handMade("{'shape': (2,), 'fortran_order': False, 'descr': '<f4'}\n", f32bytes(1.5, -2)));
    expect(a).toEqual({ shape: [2], data: new Float32Array([1.5, -2]) });
    const b = parseNpy(handMade("{'descr':'<f4','fortran_order':False,'shape':(1,2)}    \n", f32bytes(3, 4), 2));
    expect(b.shape).toEqual([1, 2]);
    expect(Array.from(b.data)).toEqual([3, 4]);
    // Scalar; a Fortran-order flag on a vector is harmless.
    expect(parseNpy(handMade("{'descr': '<f4', 'fortran_order': False, 'shape': (), }\n", f32bytes(7))).shape).toEqual([]);
    expect(parseNpy(handMade("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }\n", f32bytes(1, 2))).shape).toEqual([2]);
  });

  it('copies the data, so an unaligned data offset in the input is fine', () => {
    const file = formatNpy({ shape: [2], data: new Float32Array([1, 2]) });
    const shifted = new Uint8Array(file.length + 1);
    shifted.set(file, 1);
    expect(Array.from(parseNpy(shifted.subarray(1)).data)).toEqual([1, 2]);
  });

  it('rejects other dtypes naming the dtype found', () => {
    for (const descr of ['<f8', '>f4', '<i4', '|u1', '>f2']) {
      const bytes = handMade(`{'descr': '${descr}', 'fortran_order': False, 'shape': (1,), }\n`, new Uint8Array(8));
      expect(() => parseNpy(bytes, 'x.npy')).toThrow(NpyError);
      expect(() => parseNpy(bytes, 'x.npy')).toThrow(`x.npy: dtype '${descr}' is not supported`);
    }
  });

  it('rejects Fortran order, bad magic, unknown versions, truncated data and missing keys', () => {
    const hdr = (s: string) => `{'descr': '<f4', 'fortran_order': False, 'shape': ${s}, }\n`;
    expect(() => parseNpy(handMade("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }\n", f32bytes(1, 2, 3, 4)))).toThrow(/Fortran/);
    expect(() => parseNpy(Buffer.from('PK\x03\x04 not numpy at all'))).toThrow(/bad magic/);
    const v9 = handMade(hdr('(1,)'), f32bytes(1));
    v9[6] = 9;
    expect(() => parseNpy(v9)).toThrow(/version 9\.0/);
    expect(() => parseNpy(handMade(hdr('(3,)'), f32bytes(1, 2)))).toThrow(/needs 12 data bytes but the file has 8 \(truncated\?\)/);
    expect(() => parseNpy(handMade(hdr('(1,)'), f32bytes(1, 2)))).toThrow(/needs 4 data bytes but the file has 8/);
    expect(() => parseNpy(handMade("{'descr': '<f4', 'shape': (1,), }\n", f32bytes(1)))).toThrow(/no 'fortran_order'/);
    expect(() => parseNpy(handMade(hdr('(a,)'), f32bytes(1)))).toThrow(/bad dimension 'a'/);
    expect(() => parseNpy(handMade(hdr('(1,)'), f32bytes(1)).subarray(0, 20))).toThrow(/truncated header/);
  });

  it('refuses to write data that does not match the shape', () => {
    expect(() => formatNpy({ shape: [2, 2], data: new Float32Array(3) })).toThrow(/4 elements but the data has 3/);
  });
});
