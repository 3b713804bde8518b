// `--mode newton` on the command line (issue 16): the flags `--newton-tol` and `--newton-max-iter`,
// the run path of `rnnc run --mode newton`, the files of `rnnc compile --mode newton` and the table of
// `rnnc bench --mode newton`. Newton is a
// mode of the driver, not of a backend: it plans two modules with the ordinary planner (the
// linearisation, a sequential kernel that hoists every step, and the linear system, a scan) and
// iterates on the host (src/driver/newton.ts).
import { cpus, loadavg } from 'node:os';
import { Option } from 'commander';
import type { Analysis } from '../compiler/analyse/types.js';
import type { Module } from '../compiler/ir/ir.js';
import { benchNewton, newtonBenchHeader, newtonBenchLine, type NewtonBenchRow } from '../driver/bench-newton.js';
import { tensorsOf } from '../compiler/ir/ir.js';
import { interpret } from '../runtime/reference/interpreter.js';
import { randomLengths } from '../driver/data.js';
import { arrayShape, assembleRunData, checkSaveDir, checkShapes, concreteShape, dimsFromFiles, readInputDir, saveResults, sizeFromFiles, type InputDir } from '../driver/inputs.js';
import { emit, type GeneratedFile } from '../driver/compile.js';
import { openGpu, targetOf, type RunSize } from '../driver/run.js';
import { checkHostMemory } from '../driver/segments.js';
import { verifyRun } from '../driver/verify.js';
import { summarize, summaryLines, verificationLines } from '../driver/run-report.js';
import { checkNewtonMemory, deviceRunner, newtonCell, newtonDefaults, planNewton, runNewton, type NewtonPlan } from '../driver/newton.js';
import type { Compilation, Target } from '../compiler/plan/plan.js';
import { RnncError } from '../driver/errors.js';
import { EXIT_INTERNAL, EXIT_USER, finishRun, loadValid, parseDimFlags, UserError, warn } from './io.js';
import type { RunFlags } from './run-flags.js';

/** The mode name the CLI's --mode takes for newton. */
export const NEWTON_MODE = 'newton';

function positiveNumber(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!(n > 0) || !Number.isFinite(n)) throw new UserError(`rnnc: ${flag} must be a positive number, got '${value}'`, EXIT_INTERNAL);
    return n;
  };
}

function positiveInteger(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) throw new UserError(`rnnc: ${flag} must be a positive integer, got '${value}'`, EXIT_INTERNAL);
    return n;
  };
}

/** `--newton-tol`, for `rnnc run` (`.addOption(newtonTolOption())`). */
export const newtonTolOption = (): Option =>
  new Option('--newton-tol <x>', `with --mode newton: stop when max over steps of |s_t - f(s_{t-1}, x_t)| / max(1, |f|) is at most this (default ${newtonDefaults.tol})`).argParser(positiveNumber('--newton-tol'));

/** `--newton-max-iter`, for `rnnc run` (`.addOption(newtonMaxIterOption())`). */
export const newtonMaxIterOption = (): Option =>
  new Option('--newton-max-iter <n>', `with --mode newton: at most this many Newton iterations; more is an error naming the step and sequence where the residual is worst (default ${newtonDefaults.maxIter})`).argParser(positiveInteger('--newton-max-iter'));

const DEFAULT_SIZE: RunSize = { batch: 4, T: 64 };

/** The flags newton has no use for: an error, not a silent no-op. */
function refuseFlags(flags: RunFlags): void {
  const refused: [keyof RunFlags, string, string][] = [
    ['grad', '--grad', 'the backward pass runs with --mode seq, scan or auto'],
    ['chunk', '--chunk', 'it sizes the kernels of --mode chunk'],
    ['segment', '--segment', 'newton solves whole sequences (its inner kernels are cut to the adapter\'s limits on their own)'],
  ];
  for (const [key, flag, why] of refused) if (flags[key] !== undefined && flags[key] !== false) throw new UserError(`rnnc: ${flag} does not go with --mode newton: ${why}`, EXIT_INTERNAL);
}

/** `rnnc run FILE --mode newton`: what `rnnc run` prints and saves, plus the iterations and the final residual. */
export async function runNewtonCommand(file: string, flags: RunFlags): Promise<void> {
  if (flags.lengths !== 'full' && flags.lengths !== 'random') throw new UserError(`rnnc: --lengths must be full or random, got '${flags.lengths}'`, EXIT_INTERNAL);
  refuseFlags(flags);
  const given = parseDimFlags(flags.dim);
  const tol = flags.newtonTol ?? newtonDefaults.tol;
  const maxIter = flags.newtonMaxIter ?? newtonDefaults.maxIter;
  const warnings: string[] = [];
  const warnAll = (list: string[]) => {
    list.forEach(warn);
    warnings.push(...list);
  };
  const { source, result } = loadValid(file, flags.json);
  const module = result.module;
  let inputDir: InputDir | undefined;
  if (flags.inputs !== undefined) {
    inputDir = await readInputDir(flags.inputs, module);
    for (const n of inputDir.notes) process.stderr.write(n + '\n');
    warnAll(inputDir.warnings);
  }
  const dims = inputDir ? { ...dimsFromFiles(module, inputDir, given), ...given } : given;
  // Before the GPU starts: a cell newton does not take, or a system the scan refuses, fails here.
  const cell = newtonCell(module, dims);
  planNewton(cell);
  const sizes = cell.sizes;
  const fromFiles = inputDir ? sizeFromFiles(module, inputDir) : {};
  const size: RunSize = { batch: flags.batch ?? fromFiles.batch ?? DEFAULT_SIZE.batch, T: flags.T ?? fromFiles.T ?? DEFAULT_SIZE.T };
  if (inputDir) checkShapes(module, sizes, size, inputDir);
  if (flags.save !== undefined) checkSaveDir(flags.save, module);
  checkHostMemory(module, sizes, size, { verify: Boolean(flags.verify) });
  checkNewtonMemory(cell, size);

  const gpu = await openGpu(flags.timeout !== undefined ? { jobTimeoutMs: flags.timeout * 1000 } : undefined);
  let report: Record<string, unknown>;
  let failed = false;
  let why = '';
  try {
    const p = planNewton(cell, targetOf(gpu.adapter));
    const lengths = flags.lengths === 'random' ? randomLengths(size.batch, size.T, flags.seed) : undefined;
    const assembled = assembleRunData(module, sizes, size, flags.seed, inputDir, lengths);
    warnAll(assembled.warnings);
    const got = await runNewton(cell, assembled.data, deviceRunner(gpu, p), { tol, maxIter }).catch((e: unknown) => {
      if (flags.timeout !== undefined && e instanceof RnncError && e.gpu === 'timeout') throw new UserError(`rnnc: the GPU run did not finish within --timeout ${flags.timeout} s; it was stopped and nothing was written`, EXIT_USER);
      throw e;
    });
    const shapeOf = (t: (typeof module.tensors)[number]) => concreteShape(arrayShape(t), sizes, size);
    const outputs = tensorsOf(module, 'output').map((t) => summarize(t.name, shapeOf(t), got.outputs[t.name]!));
    const finals = tensorsOf(module, 'state').map((t) => summarize(t.name, shapeOf(t), got.finalState[t.name]!));
    const saved = flags.save !== undefined ? await saveResults(flags.save, module, sizes, size, got) : undefined;
    let verification;
    if (flags.verify) {
      const { data } = assembled;
      const shape = { ...size, sizes, ...(lengths ? { lengths } : {}) };
      const reference = interpret(module, shape, { inputs: data.inputs, params: data.params, ...(data.initialState ? { initial: data.initialState } : {}) });
      verification = verifyRun(got, reference, flags.tolerance, { rejectNonFinite: !flags.allowNonfinite });
      failed = !verification.ok;
      why = verification.tensors.some((t) => t.maxErr > flags.tolerance) ? `the GPU results differ from the reference by more than ${flags.tolerance}` : 'the reference has NaN or infinite results (--allow-nonfinite accepts them where the GPU agrees)';
    }
    // A bidirectional cell runs as two parts (each its own linearisation and system): what ran for each.
    const parts = cell.parts?.map((c, k) => ({ direction: c.module.reversed ? 'reversed' : 'forward', name: c.module.name, jacobian: c.linearisation.structure, why: p.parts![k]!.why, linearisation: p.parts![k]!.linearisation.plan.mode, system: p.parts![k]!.system.plan.decision }));
    const newton = { iterations: got.iterations, residual: got.residual, tol, maxIter, jacobian: cell.linearisation.structure, why: p.why, linearisation: p.linearisation.plan.mode, system: p.system.plan.decision, ...(parts ? { parts } : {}) };
    report = {
      file,
      ok: !failed,
      name: module.name,
      mode: NEWTON_MODE,
      plan: { requested: NEWTON_MODE, why: p.why },
      newton,
      adapter: gpu.adapter.description,
      batch: size.batch,
      T: size.T,
      dims: sizes,
      seed: flags.seed,
      lengths: lengths ? Array.from(lengths) : 'full',
      sources: assembled.sources,
      warnings,
      outputs,
      finalStates: finals,
      ...(saved ? { saved } : {}),
      ...(verification ? { verify: { reference: 'float64', criterion: '|gpu - ref| <= tolerance * (1 + |ref|)', ...verification } } : {}),
    };
    if (!flags.json) {
      const dimText = Object.entries(sizes).map(([d, n]) => `${d}=${n}`).join(', ');
      const lines = [
        `${source.path}: ${module.name} on ${gpu.adapter.description} — newton (J ${cell.linearisation.structure}), batch ${size.batch}, T ${size.T}${dimText ? `, ${dimText}` : ''}, seed ${flags.seed}, lengths ${lengths ? `random (${Array.from(lengths).join(', ')})` : 'full'}`,
        `newton: converged in ${got.iterations} iteration${got.iterations === 1 ? '' : 's'}, residual ${got.residual.toExponential(2)} (tolerance ${tol}, at most ${maxIter} iterations)`,
        ...(parts ?? []).map((q) => `${q.direction} part (${q.name}): J ${q.jacobian}, ${q.why}`),
        ...summaryLines(outputs, finals),
        ...(saved ? [`saved ${saved.join(', ')}`] : []),
        ...(verification ? verificationLines(verification) : []),
      ];
      process.stdout.write(lines.join('\n') + '\n');
    }
  } finally {
    await gpu.close();
  }
  finishRun(Boolean(flags.json), report, failed, why);
}

/**
 * `rnnc compile FILE --mode newton`: both modules' files, each under its own name (the
 * linearisation's and the system's kernels and manifests), and `<cell>.newton.json`,
 * which says how a host iterates them: the blocks of J, where each state sits in the system's state,
 * the tolerance and the cap.
 */
export function newtonFiles(file: string, dimsFlags: string[] | undefined, target: Target): { files: GeneratedFile[]; plan: NewtonPlan } {
  const { source, result } = loadValid(file);
  const cell = newtonCell(result.module, parseDimFlags(dimsFlags));
  // Two parts would be two sets of modules and a host that joins them: `rnnc run --mode newton` runs them.
  if (cell.parts) throw new RnncError(`rnnc: ${result.module.name} has a \`reversed { ... }\` block: under --mode newton it runs as two parts (${cell.parts.map((c) => c.module.name).join(' and ')}), which rnnc run runs but rnnc compile does not write; compile it with --mode seq or scan`, 'usage');
  const p = planNewton(cell, target);
  // Kernels and manifests; no typed host module: that would be the Newton loop itself, which lives in the driver.
  const filesOf = (c: Compilation): GeneratedFile[] => {
    const compiled = emit(c);
    const base = compiled.mode === 'seq' ? c.module.name : `${c.module.name}.${compiled.mode}`;
    return [...compiled.kernels.map((k) => ({ name: k.file, text: k.wgsl })), { name: `${base}.json`, text: JSON.stringify(compiled.manifest, null, 2) + '\n' }];
  };
  const lin = filesOf({ ...p.linearisation, source });
  const sys = filesOf(p.system);
  const L = cell.linearisation;
  const manifest = {
    cell: result.module.name,
    mode: NEWTON_MODE,
    why: p.why,
    jacobian: L.structure,
    // A reversed cell: the modules run in logical time, so a host feeds each sequence's steps last first (over its own length) and puts the outputs back.
    ...(result.module.reversed ? { direction: 'reversed' } : {}),
    linearisation: { module: L.module.name, mode: p.linearisation.plan.mode, eyes: L.eyes, states: L.states, blocks: L.blocks, outputs: L.outputs },
    system: {
      module: p.system.module.name,
      mode: p.system.plan.mode,
      form: cell.system.form,
      // 'lanes': state number p is z<p>, its blocks J<p>_<q> and b<p> are the linearisation's outputs; 'stacked': state p is z[first, first + size).
      states: L.states.map((s, k) => ({ state: s.name, ...(cell.system.form === 'stacked' ? { first: cell.system.position(k, 0) } : { z: `z${k}`, b: `b${k}` }) })),
      source: cell.system.text,
    },
    defaults: newtonDefaults,
  };
  return { files: [...lin, ...sys, { name: `${result.module.name}.newton.json`, text: JSON.stringify(manifest, null, 2) + '\n' }], plan: p };
}

/** What `rnnc bench --mode newton` reads, its flags already checked by `rnnc bench`. */
export interface NewtonBenchFlags {
  log2T: number[];
  batches: number[];
  repeats: number;
  maxRowSeconds: number;
  tol?: number;
  maxIter?: number;
  json: boolean;
}

/**
 * `rnnc bench FILE... --mode newton`: per cell, batch and T, newton against seq (src/driver/bench-newton.ts),
 * as a markdown table or JSON on stdout. Every cell is checked before the GPU starts: one newton
 * cannot take is a user error (exit 1, as bench's "nothing to benchmark") with the reason.
 */
export async function benchNewtonCommand(cells: { file: string; module: Module; analysis: Analysis }[], given: Record<string, number>, flags: NewtonBenchFlags): Promise<void> {
  const jobs = cells.map(({ file, module, analysis }) => {
    const dims = Object.fromEntries(Object.entries(given).filter(([d]) => module.dims.some((x) => x.name === d)));
    try {
      planNewton(newtonCell(module, dims));
    } catch (e) {
      if (!(e instanceof RnncError)) throw e;
      throw new UserError(`rnnc: ${file}: nothing to benchmark with --mode newton: ${e.message.replace(/^rnnc: /, '')}`);
    }
    return { module, analysis, dims };
  });
  const tol = flags.tol ?? newtonDefaults.tol;
  const maxIter = flags.maxIter ?? newtonDefaults.maxIter;
  const loadStart = loadavg()[0]!;
  const rows: NewtonBenchRow[] = [];
  const skipped: string[] = [];
  const gpu = await openGpu();
  try {
    for (const { module, analysis, dims } of jobs) {
      const got = await benchNewton(gpu, module, analysis, { dims, batches: flags.batches, log2T: flags.log2T, repeats: flags.repeats, tol, maxIter, maxRowSeconds: flags.maxRowSeconds, progress: (line) => process.stderr.write(`rnnc bench: ${line}\n`) });
      rows.push(...got.rows);
      skipped.push(...got.skipped);
    }
  } finally {
    await gpu.close();
  }
  // lavapipe runs the kernels on the CPUs: what else ran there is part of every figure.
  const load = { start: loadStart, end: loadavg()[0]!, cpus: cpus().length };
  if (flags.json) {
    const report = { mode: NEWTON_MODE, adapter: gpu.adapter.description, date: new Date().toISOString().slice(0, 10), tol, maxIter, repeats: flags.repeats, timing: 'wall clock around each call; the median of the repeats after one warm-up run', loadAverage: load, rows, skipped };
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    return;
  }
  const lines = [
    `newton against seq on ${gpu.adapter.description}: tolerance ${tol}, at most ${maxIter} iterations; median of ${flags.repeats} after a warm-up run; load average (1 min) ${load.start.toFixed(1)} at the start, ${load.end.toFixed(1)} at the end, on ${load.cpus} CPUs`,
    '',
    ...newtonBenchHeader,
    ...rows.map(newtonBenchLine),
    ...(skipped.length ? ['', `Skipped: ${skipped.join('; ')}.`] : []),
  ];
  process.stdout.write(lines.join('\n') + '\n');
}
