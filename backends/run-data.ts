// One run's data as every backend takes and gives it, in the shared layouts: inputs [batch, T, ...],
// params [...], states [batch, ...]. The backends pack it into their own buffers.

export interface RunArrays {
  batch: number;
  T: number;
  inputs: Record<string, Float32Array>;
  params: Record<string, Float32Array>;
  /** Per state; a missing one starts at the spec's initial value. */
  initialState?: Record<string, Float32Array>;
  /** Steps per sequence (default T): later steps keep the state and output zeros. */
  lengths?: Int32Array;
}

export interface RunResult {
  outputs: Record<string, Float32Array>;
  finalState: Record<string, Float32Array>;
}
