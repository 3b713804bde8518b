// `npm run fuzz -- --count N --seed S`: generated cells through check, analysis and every backend,
// mutated specs through the front end, and (with --validate, --run) Tint's verdict on every kernel
// and runs on Dawn against the reference interpreter. Prints the counts and each kind of failure
// once, with the case that shows it (with --shrink, failures found on the CPU — front end, emission —
// are shrunk by fast-check; Tint and run failures are shown as found). Exit 1 on any failure that is
// not a known bug (test/fuzz/known.ts).
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { caseSeed, sampleOne } from '../test/fuzz/choices.js';
import { cellArbitrary, mutantArbitrary, tameCellArbitrary } from '../test/fuzz/cases.js';
import { cellProblems, frontEndProblems, FUZZ_LAW_TRIPLES, type Problem } from '../test/fuzz/properties.js';
import { emitProblems, runAndVerify, validateShaders } from '../test/fuzz/emit.js';
import { knownBug } from '../test/fuzz/known.js';
import { openGpu } from '../src/driver/index.js';
import type { Device } from '../src/runtime/device.js';
import type { GpuShaderSpec } from '../backends/job.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '1' },
    mutations: { type: 'string' },
    validate: { type: 'boolean', default: false },
    // Sampling, for long runs: the law check, the scan without subgroups and Tint on one case in N.
    'law-every': { type: 'string', default: '1' },
    'nosub-every': { type: 'string', default: '1' },
    'validate-every': { type: 'string', default: '1' },
    run: { type: 'string', default: '0' },
    shrink: { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});
const count = Number(values.count);
const seed = Number(values.seed);
const mutations = Number(values.mutations ?? values.count);
const runs = Number(values.run);
const every = (option: string, k: number) => k % Number(values[option as 'law-every']) === 0;

interface Failure {
  kind: string;
  known?: string;
  message: string;
  /** Which arbitrary and case: reproduce with sampleOne(arbitrary, caseSeed(seed, index)). */
  source: 'cell' | 'mutant' | 'tame';
  index: number;
  text: string;
}

const counts = { generated: 0, clean: 0, emitted: 0, kernels: 0, declined: 0, cellsValidated: 0, validated: 0, shadersValid: 0, mutants: 0, run: 0, verified: 0 };
const modes: Record<string, number> = {};
const failures: Failure[] = [];
const note = (source: Failure['source'], index: number, text: string, p: Problem) => {
  const known = knownBug(p);
  failures.push({ kind: p.kind, ...(known ? { known } : {}), message: p.message, source, index, text });
};
const started = performance.now();

const byKind = () => {
  const kinds = new Map<string, Failure[]>();
  for (const f of failures) kinds.set(f.kind, [...(kinds.get(f.kind) ?? []), f]);
  return kinds;
};
const seconds = () => Math.round((performance.now() - started) / 1000);
function writeJson(stage: string) {
  if (!values.json) return;
  const failed = [...byKind()].map(([kind, fs]) => ({ kind, count: fs.length, known: fs[0]!.known ?? null, first: fs[0] }));
  writeFileSync(values.json, JSON.stringify({ seed, stage, counts, modes, seconds: seconds(), failures: failed }, null, 2) + '\n');
}
process.on('SIGTERM', () => {
  writeJson('stopped by SIGTERM');
  process.stderr.write(`stopped: ${JSON.stringify(counts)}\n`);
  process.exit(130);
});
/** A progress line and, with --json, the counts so far: a long run stopped early still says what it did. */
const progress = async (what: string, k: number, of: number) => {
  if (k % 1000 !== 0 || k === 0) return;
  process.stderr.write(`${what}: ${k}/${of}, ${((performance.now() - started) / 1000).toFixed(0)} s, ${failures.length} failures\n`);
  writeJson(`${what}: ${k}/${of}`);
  await new Promise((resolve) => setImmediate(resolve)); // let a SIGTERM in
};

// Kernels waiting for Tint, with the case each came from; validated in batches on one host.
let session: Device | undefined;
let pending: { shader: GpuShaderSpec; index: number; text: string; mode: string }[] = [];
let sinceOpen = 0;
async function flush() {
  if (pending.length === 0) return;
  // A fresh host now and then keeps its memory (modules, pipelines) bounded over a long run.
  if (!session || sinceOpen > 3000) {
    await session?.close();
    session = await openGpu();
    sinceOpen = 0;
  }
  const batch = pending;
  pending = [];
  const verdicts = await validateShaders(session, batch.map((b) => b.shader));
  sinceOpen += batch.length;
  verdicts.forEach((v, k) => {
    counts.validated++;
    if (v.errors.length === 0) counts.shadersValid++;
    else note('cell', batch[k]!.index, batch[k]!.text, { kind: `tint: ${batch[k]!.mode}`, message: v.errors.join('\n') });
  });
}

for (let k = 0; k < count; k++) {
  await progress('cells', k, count);
  const cell = sampleOne(cellArbitrary, caseSeed(seed, k));
  counts.generated++;
  const { problems, checked } = cellProblems(cell, every('law-every', k) ? FUZZ_LAW_TRIPLES : 0);
  for (const p of problems) note('cell', k, cell.text, p);
  if (!checked) continue;
  counts.clean++;
  const emitted = emitProblems(checked, { withoutSubgroups: every('nosub-every', k) });
  for (const p of emitted.problems) note('cell', k, cell.text, p);
  const emission = emitted.emission;
  counts.declined += emission.declined.length;
  if (emission.failures.length === 0) counts.emitted++;
  counts.kernels += emission.kernels.length;
  for (const m of new Set(emission.kernels.map((x) => x.mode))) modes[m] = (modes[m] ?? 0) + 1;
  if (values.validate && every('validate-every', k)) {
    counts.cellsValidated++;
    // Labels need only be unique within one request.
    for (const x of emission.kernels) pending.push({ shader: { label: `${k}:${x.label}`, code: x.wgsl, entryPoint: x.entryPoint }, index: k, text: cell.text, mode: x.mode });
    if (pending.length >= 64) await flush();
  }
}
if (values.validate) await flush();

for (let k = 0; k < mutations; k++) {
  await progress('mutants', k, mutations);
  const text = sampleOne(mutantArbitrary, caseSeed(seed, k));
  counts.mutants++;
  for (const p of frontEndProblems(text, every('law-every', k) ? FUZZ_LAW_TRIPLES : 0).problems) note('mutant', k, text, p);
}

for (let k = 0; k < runs; k++) {
  const cell = sampleOne(tameCellArbitrary, caseSeed(seed, k));
  const { checked } = cellProblems(cell);
  if (!checked) continue;
  session ??= await openGpu();
  counts.run++;
  const checks = await runAndVerify(session, checked, { seed: k });
  const problems = checks.flatMap((c) => c.problems);
  if (problems.length === 0) counts.verified++;
  for (const p of problems) note('tame', k, cell.text, p);
}
await session?.close();

// One line per kind of failure, with its first case (shrunk on request).
console.log(`seed ${seed}: ${JSON.stringify(counts)} modes ${JSON.stringify(modes)} in ${seconds()} s`);
for (const [kind, fs] of byKind()) {
  const first = fs[0]!;
  console.log(`\n== ${kind}: ${fs.length} (${first.known ? `known: ${first.known}` : 'NEW'}); first: ${first.source} #${first.index}\n${first.message.split('\n').slice(0, 6).join('\n')}`);
  let text = first.text;
  if (values.shrink && first.source === 'cell' && /^(front-end|not clean|emit):/.test(kind)) {
    const arb = cellArbitrary;
    const result = fc.check(
      fc.property(arb, (cell) => {
        const { problems, checked } = cellProblems(cell);
        return ![...problems, ...(checked ? emitProblems(checked).problems : [])].some((p) => p.kind === kind);
      }),
      { seed: caseSeed(seed, first.index), numRuns: 1 },
    );
    const shrunk = result.counterexample?.[0] as { text: string } | undefined;
    if (shrunk) text = shrunk.text;
  }
  console.log(text);
}
writeJson('done');
process.exitCode = failures.some((f) => !f.known) ? 1 : 0;
