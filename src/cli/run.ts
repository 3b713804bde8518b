// `rnnc run FILE`: compiles the cell for the run's sizes, runs it on Dawn with seeded random data
// (or .npy files from --inputs), prints each result's shape and checksums, optionally saves them
// and verifies them against the reference interpreter. Results go to stdout (a JSON report with
// --json); notes, warnings (`rnnc: warning: ...`, also listed in --json) and progress go to stderr.
import { DEFAULT_CHUNK } from '../../backends/wgsl-chunk/index.js';
import type { Command } from 'commander';
import { tensorsOf } from '../compiler/ir/ir.js';
import { interpret } from '../runtime/reference/interpreter.js';
import { randomLengths } from '../driver/data.js';
import { arrayShape, assembleRunData, checkSaveDir, checkShapes, concreteShape, dimsFromFiles, readInputDir, saveResults, sizeFromFiles, type InputDir } from '../driver/inputs.js';
import { plan, retarget, type PlanOptions } from '../driver/compile.js';
import { reportingGpuErrors, targetOf, type RunSize } from '../driver/run.js';
import { GpuSession, type AdapterSummary } from '../runtime/dawn/runtime.js';
import { checkHostMemory } from '../driver/segments.js';
import { fitCompilation } from '../driver/directions.js';
import { verifyRun } from '../driver/verify.js';
import { summarize, summaryLines, verificationLines } from '../driver/run-report.js';
import { EXIT_INTERNAL, EXIT_USER, finishRun, loadValid, parseDimFlags, parseMode, pathFlag, positiveInt, UserError, warn } from './io.js';
import { RnncError } from '../driver/errors.js';
import { planGrad, retargetGrad, runGrad, usesStages, type GradCompilation } from '../driver/grad.js';
import { gradientFileNames, gradientFiles, gradientTensors, isGradFile, readUpstream, type UpstreamData } from '../driver/grad-io.js';
import { backwardKernelText, gradModeOf, gradReport, referenceGradients, verifyGradients } from './grad.js';
import { NEWTON_MODE, newtonMaxIterOption, newtonTolOption, runNewtonCommand } from './newton.js';
import { parsePrecision, precisionOption } from './precision.js';
import { outputTolerance, storedData, verifyAtPrecision } from '../driver/precision.js';
import { halfStorage } from '../compiler/plan/plan.js';
import { runGridCommand } from './run-grid.js';
import type { RunFlags } from './run-flags.js';

const DEFAULT_SIZE: RunSize = { batch: 4, T: 64 };
const DEFAULT_TOLERANCE = 1e-4;
/** Stages slower than this announce themselves on a terminal. */
const PROGRESS_AFTER_MS = 500;

const collect = (value: string, previous: string[] = []) => [...previous, value];

function nonNegativeInt(value: string): number {
  const n = Number(value);
  // Seeds are 32-bit (src/driver/data.ts); a larger one would be rounded or wrapped without a word.
  if (!/^\d+$/.test(value) || !Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new UserError(`rnnc: --seed must be an integer from 0 to 4294967295, got '${value}'`, EXIT_INTERNAL);
  return n;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) throw new UserError(`rnnc: --tolerance must be a positive number, got '${value}'`, EXIT_INTERNAL);
  return n;
}

/** Runs a stage; on a terminal, one that takes a while says what it is doing and how long it took. */
async function stage<T>(what: string, fn: () => Promise<T> | T): Promise<T> {
  if (!process.stderr.isTTY) return fn();
  const start = Date.now();
  let shown = false;
  const timer = setTimeout(() => {
    shown = true;
    process.stderr.write(`rnnc: ${what}...\n`);
  }, PROGRESS_AFTER_MS);
  try {
    return await fn();
  } finally {
    clearTimeout(timer);
    if (shown) process.stderr.write(`rnnc: ${what}: done in ${((Date.now() - start) / 1000).toFixed(1)} s\n`);
  }
}

/** Whether a run fitted to `a` is fitted to `b`: the same kernel target and the same limits. */
const sameFit = (a: AdapterSummary, b: AdapterSummary) => JSON.stringify([targetOf(a), a.limits]) === JSON.stringify([targetOf(b), b.limits]);

export function registerRun(program: Command) {
  program
    .command('run')
    .description('run a cell on the GPU (Dawn) with random or .npy data; print checksums, optionally verify against the reference interpreter')
    .argument('<file>', '.rnn file')
    .option('--mode <mode>', 'which kernel: seq (a loop over time), scan (parallel scan), chunk (chunked, for matrix-affine cells), auto (the planner picks), or newton (Newton iterations over a scan, for nonlinear cells; --newton-tol, --newton-max-iter)', 'seq')
    .option('--batch <B>', `sequences per run (default ${DEFAULT_SIZE.batch}, or as the --inputs files have it)`, positiveInt('--batch'))
    .option('--T <T>', `steps per sequence (default ${DEFAULT_SIZE.T}, or as the --inputs files have it)`, positiveInt('--T'))
    .option('--chunk <C>', `steps per chunk for --mode chunk (default ${DEFAULT_CHUNK}, lowered to fit workgroup memory)`, positiveInt('--chunk'))
    .option('--dim <NAME=SIZE>', 'set a dim size (repeatable)', collect)
    .option('--seed <S>', 'seed of the random inputs (in [-1, 1)), params (in [-1, 1) / sqrt(fan-in) where a sum contracts them) and lengths', nonNegativeInt, 0)
    .option('--lengths <kind>', 'sequence lengths: full (all T) or random', 'full')
    .option('--inputs <dir>', 'read <name>.npy (float32, or float16 widened exactly) for inputs [batch, T, ...], params [...] and initial states [batch, ...] (<state>.final.npy resumes a saved run)', pathFlag('--inputs'))
    .option('--save <dir>', 'write <output>.npy and <state>.final.npy (outputs as float16 with --precision f16-storage or f16)', pathFlag('--save'))
    .option('--verify', 'compare with the reference interpreter (float64); exit 1 if over the tolerance')
    .option('--tolerance <x>', 'largest allowed |gpu - ref| / (1 + |ref|)', positiveNumber, DEFAULT_TOLERANCE)
    .option('--allow-nonfinite', 'with --verify: accept NaN and infinite results where the reference has them too (by default they fail the verification)')
    .option('--segment <steps>', 'run the time axis in pieces of at most this many steps, each starting from the state the previous one ended in (default: whole sequences, or the longest pieces the adapter\'s buffer limits allow)', positiveInt('--segment'))
    .option('--deterministic', 'the same bits on every run: no scan pass whose order of combining follows the workgroups\' timing (the chained single pass, whose (+, ×) sums round differently from run to run); the scan reduces, then scans, in a fixed order')
    .option('--grad', 'also run the backward pass: the gradients of the inputs, params and initial states (grad_<name>.npy with --save) for upstream gradients grad_<output>.npy and grad_<state>.final.npy from --inputs, seeded random where missing')
    .option('--grad-mode <mode>', 'with --grad: the backward kernel, seq, scan, chunk (the staged adjoint recurrence of a low-rank cell in chunks) or auto (default: seq with --mode seq, auto otherwise)')
    .option('--checkpoint <C>', 'with --grad: keep the state every C steps only and recompute the steps between in the backward pass (memory O(T/C · state) instead of O(T · state))', positiveInt('--checkpoint'))
    .option('--timeout <seconds>', 'stop the GPU run if it takes longer than this (exit 1; default 600)', positiveInt('--timeout'))
    .option('--json', 'print a JSON report on stdout')
    .option('--grid <H,W>', 'for a grid cell (`rnn NAME grid`): its rows and columns (default: as the --inputs files have them); --mode seq runs its wavefront kernel, scan or chunk a separable cell along its axis, reference the reference interpreter')
    .addOption(precisionOption())
    .addOption(newtonTolOption()).addOption(newtonMaxIterOption())
    .action(async (file: string, flags: RunFlags, command: Command) => {
      if (flags.grid !== undefined || flags.mode === 'reference') {
        // A grid cell runs on the reference interpreter (run-grid.ts); a time cell takes neither flag.
        const { source, result } = loadValid(file, flags.json);
        if (!result.module.grid) throw new UserError(`rnnc: ${flags.grid !== undefined ? '--grid' : '--mode reference'} is for a grid cell (\`rnn ${result.module.name} grid\`); ${result.module.name} runs over time (--T)`, EXIT_INTERNAL);
        return runGridCommand(source, result.module, result.analysis, flags, command);
      }
      if (flags.mode === NEWTON_MODE && flags.precision !== 'auto' && flags.precision !== 'f32') throw new UserError(`rnnc: --precision ${flags.precision} does not go with --mode newton: its kernels are f32`, EXIT_INTERNAL);
      if (flags.mode === NEWTON_MODE) return runNewtonCommand(file, flags);
      // The flags first (exit 2), then the files (exit 1).
      if (flags.lengths !== 'full' && flags.lengths !== 'random') throw new UserError(`rnnc: --lengths must be full or random, got '${flags.lengths}'`, EXIT_INTERNAL);
      const mode = parseMode(flags.mode, [NEWTON_MODE]);
      const precision = parsePrecision(flags.precision);
      if (flags.grad && precision !== 'auto' && precision !== 'f32') throw new UserError(`rnnc: --precision ${precision} does not go with --grad: the backward pass runs in f32 (--precision f32 or auto)`, EXIT_INTERNAL);
      const given = parseDimFlags(flags.dim);
      // Warnings never change the exit code; they go to stderr and, with --json, into the report.
      const warnings: string[] = [];
      const warnAll = (list: string[]) => {
        list.forEach(warn);
        warnings.push(...list);
      };
      const unused = ['tolerance', 'allowNonfinite'].filter((o) => command.getOptionValueSource(o) === 'cli' && !flags.verify);
      warnAll(unused.map((o) => `${o === 'tolerance' ? '--tolerance' : '--allow-nonfinite'} has no effect without --verify`));
      const gradMode = flags.grad ? gradModeOf(mode, flags.gradMode) : undefined;
      if (!flags.grad) warnAll((['gradMode', 'checkpoint'] as const).filter((o) => flags[o] !== undefined).map((o) => `${o === 'gradMode' ? '--grad-mode' : '--checkpoint'} has no effect without --grad`));
      // The Dawn host starts and opens its device (~0.3 s) while this process parses the spec, reads
      // the .npy files and plans; given up at once if any of that fails (a user error comes first,
      // as before) or the cell turns out to be a grid cell.
      const starting = GpuSession.start(flags.timeout !== undefined ? { jobTimeoutMs: flags.timeout * 1000 } : {});
      let gpuTaken = false;
      try {
        // Through the front-end cache: a spec run before skips parsing and the analysis's law checks.
        const { source, result } = loadValid(file, flags.json, true);
        const module = result.module;
        if (module.grid) {
          starting.abandon();
          return runGridCommand(source, module, result.analysis, flags, command, true);
        }
        let inputDir: InputDir | undefined;
        if (flags.inputs !== undefined) {
          inputDir = await readInputDir(flags.inputs, module, flags.grad ? isGradFile : undefined);
          for (const n of inputDir.notes) process.stderr.write(n + '\n');
          warnAll(inputDir.warnings);
        }
        const dims = inputDir ? { ...dimsFromFiles(module, inputDir, given), ...given } : given;
        // Planned before the GPU starts: a mode the cell cannot take, or a dim without a size, fails here, fast.
        const options: PlanOptions = { mode, dims, verb: 'run', precision, ...(flags.chunk !== undefined ? { chunk: flags.chunk } : {}), ...(flags.deterministic ? { deterministic: true } : {}) };
        let compilation = plan(module, result.analysis!, options, source);
        let grad: GradCompilation | undefined = gradMode ? planGrad(compilation, gradMode, options) : undefined;
        const sizes = compilation.sizes;
        const fromFiles = inputDir ? sizeFromFiles(module, inputDir) : {};
        const size: RunSize = { batch: flags.batch ?? fromFiles.batch ?? DEFAULT_SIZE.batch, T: flags.T ?? fromFiles.T ?? DEFAULT_SIZE.T };
        if (flags.chunk !== undefined && compilation.plan.mode !== 'chunk' && !(grad?.parts ?? (grad ? [grad] : [])).some((g) => g.staged?.core.plan.mode === 'chunk')) warnAll([`--chunk has no effect: it sizes the kernels of --mode chunk, and this run uses ${compilation.plan.mode}`]);
        // Before the GPU starts: a file of the wrong shape, or a --save folder that cannot be written, fails at once.
        if (inputDir) checkShapes(module, sizes, size, inputDir);
        if (flags.save !== undefined) checkSaveDir(flags.save, module, flags.grad ? gradientFileNames(module) : []);
        // T and batch are bounded by host memory (the GPU runs them in segments): a run that cannot hold its arrays fails here.
        checkHostMemory(module, sizes, size, { verify: Boolean(flags.verify), grad: Boolean(flags.grad) });
        // The upstream gradients are read (or drawn) only once the run is known to fit.
        const upstream: UpstreamData | undefined = flags.grad ? await readUpstream(inputDir, module, sizes, size, flags.seed) : undefined;
        if (upstream) warnAll(upstream.warnings);

        // While the host still opens its device, a free core faults in the memory the outputs will be
        // read into (a result buffer per output, [batch, T, ...] as the plan stores it); memory of
        // sizes the run does not return (other backends' layouts, segments) is just not used.
        if (!flags.grad) {
          const bytes = halfStorage(compilation.plan) ? 2 : 4;
          GpuSession.prefaultResults(tensorsOf(module, 'output').map((t) => bytes * size.batch * size.T * t.dims.reduce((n, d) => n * sizes[d]!, 1)));
        }
        // The scan's kernels are fitted to the adapter (its subgroups): planned again for it if need be, never analysed again.
        // Before any data is generated or read in full: a run is cut to fit the adapter's limits, or fails here, fast.
        // A bidirectional cell in chunk mode or in pieces of time runs as its two parts (src/driver/directions.ts).
        const fitFor = (adapter: AdapterSummary) => fitCompilation(retarget(compilation, targetOf(adapter), options), adapter.limits, size, flags.segment);
        const assemble = () => {
          const lengths = flags.lengths === 'random' ? randomLengths(size.batch, size.T, flags.seed) : undefined;
          return { lengths, assembled: assembleRunData(module, sizes, size, flags.seed, inputDir, lengths) };
        };
        // The host announces its adapter before it creates the device (~a quarter of a second): the run
        // is fitted to it and its data assembled (random data drawn) meanwhile, and fitted again only
        // if the open device turns out to differ. Not with --grad, whose plan is fitted to the session.
        const preview = flags.grad ? undefined : await starting.adapter.catch(() => undefined);
        const early = preview ? { fitted: fitFor(preview), ...assemble() } : undefined;
        const gpu = await stage('starting the GPU runtime', () => reportingGpuErrors(() => starting.ready));
        gpuTaken = true;
        let report: Record<string, unknown>;
        let failed = false;
        let why = '';
        try {
          const fitted = early && sameFit(preview!, gpu.adapter) ? early.fitted : fitFor(gpu.adapter);
          if (grad) grad = retargetGrad(grad, gpu, options);
          compilation = fitted.compilation;
          const { segments } = fitted;
          const { lengths, assembled } = early ?? assemble();
          // With f16 storage, the data as the kernels hold it: the GPU and the reference read the same values.
          assembled.data = storedData(compilation.plan, assembled.data);
          const half = halfStorage(compilation.plan);
          warnAll(assembled.warnings);
          const dims = Object.entries(sizes).map(([d, n]) => `${d}=${n}`).join(', ');
          const pieces = segments.count > 1 ? ` in ${segments.count} segments of ${segments.T} steps × ${segments.batch} sequence${segments.batch === 1 ? '' : 's'}` : '';
          const progress = process.stderr.isTTY && segments.count > 1 ? (done: number, count: number) => process.stderr.write(`\rrnnc: segment ${done}/${count}${done === count ? '\n' : ''}`) : undefined;
          const timedOut = (e: unknown) => {
            if (flags.timeout === undefined || !(e instanceof RnncError) || e.gpu !== 'timeout') throw e;
            throw new UserError(`rnnc: the GPU run did not finish within --timeout ${flags.timeout} s; it was stopped and nothing was written (a smaller --T, --batch or --dim, or a longer --timeout)`, EXIT_USER);
          };
          const what = `${module.name} (${compilation.plan.mode}${grad ? `, backward ${usesStages(grad) ? `staged, its recurrence ${grad.staged!.core.plan.mode}` : grad.backward.plan.mode}` : ''}, batch ${size.batch}, T ${size.T}${pieces})`;
          const gradients = grad
            ? await stage(`running ${what} forward and backward on the GPU`, () =>
                runGrad(gpu, grad!, assembled.data, upstream!.upstream, { ...(flags.checkpoint !== undefined ? { checkpoint: flags.checkpoint } : {}), ...(flags.segment !== undefined ? { segment: flags.segment } : {}) }).catch(timedOut),
              )
            : undefined;
          const got = gradients
            ? { outputs: gradients.forward.outputs, finalState: gradients.forward.final }
            : await stage(`running ${what} on the GPU`, () => fitted.run(gpu, assembled.data, progress).catch(timedOut));

          const shapeOf = (t: (typeof module.tensors)[number]) => concreteShape(arrayShape(t), sizes, size);
          const gradTensors = gradients ? gradientTensors(module, sizes, size, gradients) : [];
          // The save's writes start first (on libuv's thread pool) and the checksums are computed while they run.
          const saving = flags.save !== undefined ? saveResults(flags.save, module, sizes, size, got, gradientFiles(gradTensors), half ? '<f2' : '<f4') : undefined;
          const outputs = tensorsOf(module, 'output').map((t) => summarize(t.name, shapeOf(t), got.outputs[t.name]!));
          const finals = tensorsOf(module, 'state').map((t) => summarize(t.name, shapeOf(t), got.finalState[t.name]!));
          const gradSummaries = gradTensors.map((t) => summarize(t.name, t.shape, t.data));
          const saved = await saving;

          let verification;
          let gradVerification;
          if (flags.verify) {
            const { data } = assembled;
            const shape = { ...size, sizes, ...(lengths ? { lengths } : {}) };
            const cellData = { inputs: data.inputs, params: data.params, ...(data.initialState ? { initial: data.initialState } : {}) };
            const refGrads = grad ? await stage('running the reference interpreter, forward and backward', () => referenceGradients(grad!, shape, cellData, upstream!.upstream, flags.checkpoint)) : undefined;
            const reference = refGrads ? refGrads.forward : await stage('running the reference interpreter', () => interpret(module, shape, cellData));
            verification = half ? verifyAtPrecision(compilation.plan, got, reference, flags.tolerance, { rejectNonFinite: !flags.allowNonfinite }) : verifyRun(got, reference, flags.tolerance, { rejectNonFinite: !flags.allowNonfinite });
            gradVerification = refGrads ? verifyGradients(module, sizes, size, gradients!, refGrads, flags.tolerance, { rejectNonFinite: !flags.allowNonfinite }) : undefined;
            if (gradVerification) verification = { ...verification, ok: verification.ok && gradVerification.ok };
            failed = !verification.ok;
            const over = [...verification.tensors, ...(gradVerification?.tensors ?? [])].some((t) => !t.ok && t.note === undefined);
            why = over ? `the GPU results differ from the reference by more than ${flags.tolerance}${half ? ` (outputs, stored as f16: ${flags.tolerance} + 2^-11)` : ''}` : 'the reference has NaN or infinite results (--allow-nonfinite accepts them where the GPU agrees)';
          }

          report = {
            file,
            ok: !failed,
            name: module.name,
            mode: compilation.plan.mode,
            plan: { requested: compilation.plan.requested, why: compilation.plan.why, decision: compilation.plan.decision },
            ...(compilation.plan.precision && precision !== 'auto' ? { precision: compilation.plan.precision } : {}),
            adapter: gpu.adapter.description,
            batch: size.batch,
            T: size.T,
            dims: sizes,
            seed: flags.seed,
            lengths: lengths ? Array.from(lengths) : 'full',
            segments: { steps: segments.T, sequences: segments.batch, count: segments.count },
            ...(fitted.parts ? { parts: fitted.parts } : {}),
            sources: assembled.sources,
            warnings,
            outputs,
            finalStates: finals,
            ...(grad ? { grad: gradReport(grad, flags.checkpoint, upstream!.sources, gradSummaries) } : {}),
            ...(saved ? { saved } : {}),
            ...(verification
              ? {
                  verify: {
                    reference: 'float64',
                    criterion: half ? '|gpu - ref| <= tolerance * (1 + |ref|); outputs stored as f16: (tolerance + 2^-11) * (1 + |ref|), on inputs and params rounded to f16' : '|gpu - ref| <= tolerance * (1 + |ref|)',
                    ...verification,
                    ...(gradVerification ? { gradients: { criterion: '|gpu - ref| <= tolerance * (1 + max |ref| of the tensor)', ...gradVerification } } : {}),
                  },
                }
              : {}),
          };
          if (!flags.json) {
            const lines = [
              `${source.path}: ${module.name} on ${gpu.adapter.description} — ${compilation.plan.mode} kernel, batch ${size.batch}, T ${size.T}${dims ? `, ${dims}` : ''}, seed ${flags.seed}, lengths ${lengths ? `random (${Array.from(lengths).join(', ')})` : 'full'}`,
              ...(half ? [`precision: ${compilation.plan.precision!.why}`] : []),
              ...(fitted.parts ?? []).map((p) => `${p.direction} part (${p.name}): ${p.mode} kernel${p.segments.count > 1 ? `, ${p.segments.count} segments of at most ${p.segments.steps} steps` : ''} — ${p.why}`),
              ...(segments.count > 1 ? [`run in ${segments.count} segments of at most ${segments.T} steps and ${segments.batch} sequence${segments.batch === 1 ? '' : 's'}, the state carried between them`] : []),
              // A bidirectional cell's backward runs per part (driver/grad.ts planGrad): one line each.
              ...(grad ? (grad.parts ?? [grad]).map((g, _, all) => `backward${all.length > 1 ? ` of the ${g.forward.module.reversed ? 'reversed' : 'forward'} part (${g.forward.module.name})` : ''}: ${backwardKernelText(g)}${flags.checkpoint !== undefined ? `, states checkpointed every ${flags.checkpoint} steps` : ''}`) : []),
              ...summaryLines(outputs, finals, gradSummaries),
              ...(saved ? [`saved ${saved.join(', ')}`] : []),
              ...(verification ? verificationLines({ ...verification, ok: verification.tensors.every((t) => t.ok) }, half ? `error = max |gpu - ref| / (1 + |ref|), outputs (stored as f16) against the tolerance + 2^-11 = ${outputTolerance(compilation.plan, flags.tolerance).toPrecision(3)}` : undefined) : []),
              ...(gradVerification ? verificationLines(gradVerification, 'gradients, error = max |gpu - ref| / (1 + max |ref| of the tensor)') : []),
            ];
            process.stdout.write(lines.join('\n') + '\n');
          }
        } finally {
          await gpu.close();
        }
        finishRun(Boolean(flags.json), report, failed, why);
      } finally {
        if (!gpuTaken) starting.abandon();
      }
    });
}
