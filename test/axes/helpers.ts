// Helpers for the time-axis tests: turning a forward spec into a reversed one, and reversing a
// [batch, T, ...] array per sequence over each sequence's own length (steps past it stay put).

/** `rnn name {` → `rnn name reversed {`. */
export function reversedText(text: string): string {
  const out = text.replace(/^(\s*rnn\s+\w+)\s*\{/m, '$1 reversed {');
  if (out === text) throw new Error('reversedText: no `rnn NAME {` header');
  return out;
}

/** Per sequence b, steps [0, len_b) of a [batch, T, width] array in reverse order; steps past len_b unchanged. */
export function reverseSteps<A extends Float32Array | Float64Array>(a: A, batch: number, T: number, lengths?: Int32Array): A {
  const width = a.length / (batch * T);
  const out = a.slice() as A;
  for (let b = 0; b < batch; b++) {
    const len = Math.max(0, Math.min(T, lengths ? lengths[b]! : T));
    for (let t = 0; t < len; t++) out.set(a.subarray((b * T + t) * width, (b * T + t + 1) * width), (b * T + len - 1 - t) * width);
  }
  return out;
}
