// What `rnnc run` reports: each result's shape and checksums (sum and sum of absolute values, in
// float64 over the float32 elements in order, printed as %.6e), and the verification table.
import type { TensorError, Verification } from './verify.js';
import { REL_FLOOR } from './verify.js';

export interface TensorSummary {
  name: string;
  shape: number[];
  sum: number;
  sumAbs: number;
}

export function summarize(name: string, shape: number[], data: Float32Array): TensorSummary {
  let sum = 0;
  let sumAbs = 0;
  for (let i = 0; i < data.length; i++) {
    sum += data[i]!;
    sumAbs += Math.abs(data[i]!);
  }
  return { name, shape, sum, sumAbs };
}

/** Fixed format: sign, one digit, six decimals, exponent (` 1.234560e+01`, `-3.000000e-07`). */
export const sci = (x: number): string => {
  if (!Number.isFinite(x)) return ` ${x}`;
  const [mantissa, exponent] = x.toExponential(6).split('e') as [string, string];
  return `${x < 0 ? '' : ' '}${mantissa}e${exponent[0]}${exponent.slice(1).padStart(2, '0')}`;
};

const pad = (rows: string[][]): string[] => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
};

export function summaryLines(outputs: TensorSummary[], finals: TensorSummary[], gradients: TensorSummary[] = []): string[] {
  const row = (kind: string, t: TensorSummary) => [kind, t.name, `[${t.shape.join(', ')}]`, `sum ${sci(t.sum)}`, `sum|.| ${sci(t.sumAbs)}`];
  return pad([...outputs.map((t) => row('output', t)), ...finals.map((t) => row('final', t)), ...gradients.map((t) => row('grad', t))]);
}

const short = (x: number) => (Number.isFinite(x) ? x.toExponential(2) : String(x));

export function verificationLines(v: Verification, what = 'error = max |gpu - ref| / (1 + |ref|)'): string[] {
  // The non-finite counts get a column only when some tensor has any.
  const counted = v.tensors.some((t) => t.nonFinite.gpu || t.nonFinite.ref);
  const nonFinite = (t: TensorError) => (counted ? [`non-finite gpu ${t.nonFinite.gpu}, ref ${t.nonFinite.ref}`] : []);
  const row = (t: TensorError) => [t.kind === 'state' ? 'final' : t.kind, t.name, `max abs ${short(t.maxAbs)}`, `max rel ${short(t.maxRel)}`, `error ${short(t.maxErr)}`, ...nonFinite(t), t.ok ? 'ok' : 'FAIL'];
  const lines = [
    `verify against the reference interpreter (float64): ${what}, tolerance ${v.tolerance}; rel = |gpu - ref| / max(|ref|, ${REL_FLOOR})`,
    ...pad(v.tensors.map(row)).map((l) => `  ${l}`),
  ];
  for (const t of v.tensors.filter((x) => !x.ok)) {
    if (t.worst && t.maxErr > v.tolerance) lines.push(`  ${t.name}[${t.worst.index}]: gpu ${t.worst.gpu}, reference ${t.worst.ref}`);
    if (t.note) lines.push(`  ${t.name}: ${t.note}`);
  }
  return lines;
}
