// Builds tiny ONNX models (one LSTM or GRU node) as ModelProto bytes, with a minimal protobuf writer:
// only the field kinds these messages use (varint, length-delimited). Field numbers from onnx.proto3.
class Writer {
  private readonly bytes: number[] = [];
  private varint(v: number | bigint) {
    let n = BigInt(v);
    if (n < 0n) n += 1n << 64n;
    do {
      let b = Number(n & 0x7fn);
      n >>= 7n;
      if (n > 0n) b |= 0x80;
      this.bytes.push(b);
    } while (n > 0n);
  }
  int(field: number, v: number) {
    this.varint((field << 3) | 0);
    this.varint(v);
    return this;
  }
  raw(field: number, data: Uint8Array) {
    this.varint((field << 3) | 2);
    this.varint(data.length);
    for (const b of data) this.bytes.push(b);
    return this;
  }
  string(field: number, s: string) {
    return this.raw(field, new TextEncoder().encode(s));
  }
  message(field: number, m: Writer) {
    return this.raw(field, m.finish());
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.bytes);
  }
}

const FLOAT = 1;
const INT32 = 6;

export interface OnnxTensor {
  name: string;
  dims: number[];
  data: Float32Array | Int32Array;
}

function tensorProto(t: OnnxTensor): Writer {
  const w = new Writer();
  for (const d of t.dims) w.int(1, d);
  w.int(2, t.data instanceof Float32Array ? FLOAT : INT32);
  w.string(8, t.name);
  return w.raw(9, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
}

function valueInfo(name: string, elemType: number, dims: number[]): Writer {
  const shape = new Writer();
  for (const d of dims) shape.message(1, new Writer().int(1, d));
  const tensorType = new Writer().int(1, elemType).message(2, shape);
  return new Writer().string(1, name).message(2, new Writer().message(1, tensorType));
}

export interface RecurrentNode {
  op: 'LSTM' | 'GRU';
  hiddenSize: number;
  /** Graph inputs (fed at run time), in the operator's input order; '' for an omitted optional input. */
  inputs: { name: string; type: 'float' | 'int32'; dims: number[] }[];
  /** Weights baked into the model. */
  initializers: OnnxTensor[];
  /** Operator input names in order (graph inputs and initializers). */
  nodeInputs: string[];
  outputs: { name: string; dims: number[] }[];
  linearBeforeReset?: boolean;
}

/** A ModelProto (IR version 8, opset 14) with a single LSTM or GRU node. */
export function recurrentModel(n: RecurrentNode): Uint8Array {
  const node = new Writer();
  for (const i of n.nodeInputs) node.string(1, i);
  for (const o of n.outputs) node.string(2, o.name);
  node.string(3, 'cell').string(4, n.op);
  node.message(5, new Writer().string(1, 'hidden_size').int(20, 2).int(3, n.hiddenSize));
  if (n.linearBeforeReset) node.message(5, new Writer().string(1, 'linear_before_reset').int(20, 2).int(3, 1));
  const graph = new Writer().message(1, node).string(2, 'g');
  for (const t of n.initializers) graph.message(5, tensorProto(t));
  for (const i of n.inputs) graph.message(11, valueInfo(i.name, i.type === 'float' ? FLOAT : INT32, i.dims));
  for (const o of n.outputs) graph.message(12, valueInfo(o.name, FLOAT, o.dims));
  return new Writer().int(1, 8).message(8, new Writer().string(1, '').int(2, 14)).message(7, graph).finish();
}
