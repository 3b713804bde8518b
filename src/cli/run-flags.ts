// The flags of `rnnc run` as commander hands them over: one type for the command (run.ts) and for
// the paths it passes its work to (newton.ts, run-grid.ts), each of which reads its part.
export interface RunFlags {
  mode: string;
  chunk?: number;
  batch?: number;
  T?: number;
  dim?: string[];
  seed: number;
  lengths: string;
  inputs?: string;
  save?: string;
  verify?: boolean;
  tolerance: number;
  allowNonfinite?: boolean;
  json?: boolean;
  timeout?: number;
  segment?: number;
  grad?: boolean;
  deterministic?: boolean;
  gradMode?: string;
  checkpoint?: number;
  precision: string;
  grid?: string;
  newtonTol?: number;
  newtonMaxIter?: number;
}
