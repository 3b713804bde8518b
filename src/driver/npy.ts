// NumPy .npy files, float32 ('<f4') and float16 ('<f2'): rnnc's kernels take f32, or f16 with
// --precision f16-storage (src/compiler/plan/precision.ts). An f16 file is widened to float32 on read
// (exactly); anything else is rejected with the dtype named rather than converted behind the user's back.
// Format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
import { open, writeFile, type FileHandle } from 'node:fs/promises';
import { packHalf, unpackHalf } from '../compiler/plan/half.js';

/** The element types rnnc reads and writes: little-endian float32 and float16. */
export type NpyDtype = '<f4' | '<f2';
const itemBytes: Record<NpyDtype, number> = { '<f4': 4, '<f2': 2 };

export interface NpyArray {
  shape: number[];
  /** The values, as float32 (an f16 file's widened exactly). */
  data: Float32Array;
  /** The file's element type: read, '<f2' for an f16 file (absent: '<f4'); written, what to store (default '<f4'; '<f2' rounds to nearest even). */
  dtype?: NpyDtype;
}

export class NpyError extends Error {
  override name = 'NpyError';
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ALIGN = 64; // numpy >= 1.17 aligns the data to 64 bytes

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error('src/io/npy: a little-endian host is assumed');

/** What a .npy header says: the shape, and where the data starts. */
interface NpyHeader {
  shape: number[];
  count: number;
  dataStart: number;
  dtype: NpyDtype;
}

/** Bytes to read first: the fixed prefix and any header numpy writes for shapes of a few dims (the rest is read when longer). */
const HEAD_GUESS = 4096;

/**
 * Parses a .npy header from the first bytes of a file (`bytes` must hold the whole header; `total`
 * is the file's size) and checks the data's size against the shape; `source` names it in errors.
 */
function parseHeader(bytes: Uint8Array, total: number, source: string): NpyHeader & { needs?: number } {
  const fail = (msg: string): never => {
    throw new NpyError(`${source}: ${msg}`);
  };
  if (total === 0) fail('the file is empty (0 bytes), not a NumPy .npy file');
  if (total < 10 || bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b)) fail('not a NumPy .npy file (bad magic; expected \\x93NUMPY)');
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLen: number, headerStart: number;
  if (major === 1) [headerLen, headerStart] = [view.getUint16(8, true), 10];
  else if (major === 2 || major === 3) {
    if (total < 12) fail('truncated header');
    [headerLen, headerStart] = [view.getUint32(8, true), 12];
  } else return fail(`unsupported .npy format version ${major}.${bytes[7]}`);
  const dataStart = headerStart + headerLen;
  if (dataStart > total) fail('truncated header');
  if (dataStart > bytes.length) return { shape: [], count: 0, dataStart, dtype: '<f4', needs: dataStart };
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataStart));

  const field = (key: string, value: string) => header.match(new RegExp(`['"]${key}['"]\\s*:\\s*${value}`));
  const descr = field('descr', `(['"])([^'"]*)\\1`)?.[2] ?? fail(`header has no 'descr': ${header.trim()}`);
  const fortran = field('fortran_order', '(True|False)')?.[1] ?? fail(`header has no 'fortran_order': ${header.trim()}`);
  const shapeText = field('shape', '\\(([^)]*)\\)')?.[1] ?? fail(`header has no 'shape': ${header.trim()}`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => (/^\d+L?$/.test(s) ? parseInt(s, 10) : fail(`bad dimension '${s}' in shape (${shapeText})`)));

  if (descr !== '<f4' && descr !== '<f2')
    fail(`dtype '${descr}' is not supported: rnnc reads little-endian float32 ('<f4') and float16 ('<f2') only; convert with arr.astype('<f4')`);
  const dtype = descr as NpyDtype;
  const item = itemBytes[dtype];
  // Fortran (column-major) order only matters when two or more axes are longer than 1.
  if (fortran === 'True' && shape.filter((d) => d > 1).length > 1)
    fail('the array is in Fortran (column-major) order; save it C-contiguous (np.ascontiguousarray) instead');

  const count = shape.reduce((a, b) => a * b, 1);
  const available = total - dataStart;
  if (available !== count * item)
    fail(`shape (${shape.join(', ')}) needs ${count * item} data bytes but the file has ${available}${available < count * item ? ' (truncated?)' : ''}`);
  return { shape, count, dataStart, dtype };
}

/** Parses the bytes of a .npy file; `source` names it in errors. */
export function parseNpy(bytes: Uint8Array, source = '.npy data'): NpyArray {
  const { shape, count, dataStart, dtype } = parseHeader(bytes, bytes.length, source);
  // Copy rather than view: the data offset in `bytes` need not be 4-aligned.
  if (dtype === '<f2') {
    const half = new Uint16Array(count);
    new Uint8Array(half.buffer).set(bytes.subarray(dataStart));
    return { shape, data: unpackHalf(half), dtype };
  }
  const data = new Float32Array(count);
  new Uint8Array(data.buffer).set(bytes.subarray(dataStart));
  return { shape, data };
}

/** A .npy file holding `arr` as its dtype ('<f4' unless '<f2'), as two pieces: the header (version 1.0, or 2.0 for a header over 64 KiB) and the data ('<f4': a view, no copy; '<f2': the f16 bits). */
export function npyParts(arr: NpyArray): [Uint8Array, Uint8Array] {
  const count = arr.shape.reduce((a, b) => a * b, 1);
  if (arr.shape.some((d) => !Number.isInteger(d) || d < 0)) throw new NpyError(`bad shape (${arr.shape.join(', ')})`);
  if (count !== arr.data.length) throw new NpyError(`shape (${arr.shape.join(', ')}) has ${count} elements but the data has ${arr.data.length}`);
  const shape = arr.shape.length === 1 ? `(${arr.shape[0]},)` : `(${arr.shape.join(', ')})`;
  const dtype = arr.dtype ?? '<f4';
  const dict = `{'descr': '${dtype}', 'fortran_order': False, 'shape': ${shape}, }`;
  const version = dict.length + 1 + 10 > 0xffff ? 2 : 1;
  const prefix = version === 1 ? 10 : 12;
  // Pad with spaces so the data starts on a 64-byte boundary; the header ends with '\n'.
  const headerLen = Math.ceil((prefix + dict.length + 1) / ALIGN) * ALIGN - prefix;
  const header = dict.padEnd(headerLen - 1, ' ') + '\n';
  const head = new Uint8Array(prefix + headerLen);
  head.set(MAGIC);
  head[6] = version;
  head[7] = 0;
  const view = new DataView(head.buffer);
  if (version === 1) view.setUint16(8, headerLen, true);
  else view.setUint32(8, headerLen, true);
  for (let i = 0; i < header.length; i++) head[prefix + i] = header.charCodeAt(i);
  const data = dtype === '<f2' ? packHalf(arr.data) : arr.data;
  return [head, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)];
}

/** The bytes of a .npy file holding `arr` as its dtype, in one array. */
export function formatNpy(arr: NpyArray): Uint8Array {
  const [head, data] = npyParts(arr);
  const out = new Uint8Array(head.length + data.length);
  out.set(head);
  out.set(data, head.length);
  return out;
}

/** Reads a .npy file: the header first, then the data straight into the array's memory (one read, no copy of the whole file). */
export async function readNpy(path: string): Promise<NpyArray> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    let head = new Uint8Array(Math.min(size, HEAD_GUESS));
    await readFully(file, head, 0);
    let parsed = parseHeader(head, size, path);
    if (parsed.needs !== undefined) {
      head = new Uint8Array(parsed.needs);
      await readFully(file, head, 0);
      parsed = parseHeader(head, size, path);
    }
    if (parsed.dtype === '<f2') {
      const half = new Uint16Array(parsed.count);
      await readFully(file, new Uint8Array(half.buffer), parsed.dataStart);
      return { shape: parsed.shape, data: unpackHalf(half), dtype: parsed.dtype };
    }
    const data = new Float32Array(parsed.count);
    await readFully(file, new Uint8Array(data.buffer), parsed.dataStart);
    return { shape: parsed.shape, data };
  } finally {
    await file.close();
  }
}

/** Fills `into` from the file at `position`; a file that shrank while being read is an error. */
async function readFully(file: FileHandle, into: Uint8Array, position: number): Promise<void> {
  for (let done = 0; done < into.length; ) {
    const { bytesRead } = await file.read(into, done, into.length - done, position + done);
    if (bytesRead === 0) throw new NpyError('the file ended early (was it changed while being read?)');
    done += bytesRead;
  }
}

export async function writeNpy(path: string, arr: NpyArray): Promise<void> {
  await writeFile(path, npyParts(arr));
}
