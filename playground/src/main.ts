// The playground page: an editor with highlighting, the diagnostics as you type, the analysis, the
// IR and the WGSL, and a run on the browser's WebGPU checked against the reference interpreter.
import examples from 'rnnc-examples';
import { GpuError } from '../../backends/job.js';
import { defaultTarget, isModeRequest, type ModeRequest, type Target } from '../../src/compiler/plan/plan.js';
import { compileSpec, planReport, type PageCompilation } from './compiler.js';
import { gpuExecutor, NoWebGpu, runAndVerify, targetOf, TOLERANCE, type PageRun } from './gpu-run.js';
import { highlightHtml } from './highlight.js';

const DEFAULT_EXAMPLE = 'mamba_s6.rnn';
/** Compile this long after the last keystroke: the passes take a few milliseconds, the page stays responsive. */
const DEBOUNCE_MS = 120;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const editor = $<HTMLTextAreaElement>('source');
const highlight = $<HTMLPreElement>('highlight');
const diagnostics = $<HTMLPreElement>('diagnostics');
const diagnosticsSummary = $<HTMLSpanElement>('diagnostics-summary');
const analysisView = $<HTMLPreElement>('analysis');
const irView = $<HTMLPreElement>('ir');
const wgslView = $<HTMLPreElement>('wgsl');
const runButton = $<HTMLButtonElement>('run');
const runStatus = $<HTMLDivElement>('run-status');
const runTable = $<HTMLTableElement>('run-table');
const modeSelect = $<HTMLSelectElement>('mode');
const batchInput = $<HTMLInputElement>('batch');
const stepsInput = $<HTMLInputElement>('steps');
const fileName = $<HTMLSpanElement>('file-name');
const adapterLine = $<HTMLSpanElement>('adapter');

let path = DEFAULT_EXAMPLE;
let target: Target = defaultTarget;
let current: PageCompilation | undefined;
let timer: ReturnType<typeof setTimeout> | undefined;

function setStatus(state: 'idle' | 'running' | 'verified' | 'failed' | 'error' | 'stale', text: string) {
  runStatus.dataset['state'] = state;
  runStatus.textContent = text;
}

function renderHighlight() {
  // A trailing newline needs a character after it to take up a line in the <pre>.
  highlight.innerHTML = highlightHtml(editor.value) + '\n';
  highlight.scrollTop = editor.scrollTop;
  highlight.scrollLeft = editor.scrollLeft;
}

function compileNow() {
  clearTimeout(timer);
  const mode = modeSelect.value as ModeRequest;
  let c: PageCompilation;
  try {
    c = compileSpec(path, editor.value, mode, target);
  } catch (e) {
    // A compiler bug, not the author's mistake: say so, and keep the page alive for the next edit.
    current = undefined;
    diagnostics.dataset['errors'] = '1';
    diagnostics.textContent = `internal error in rnnc: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\nplease report it with the spec`;
    runButton.disabled = true;
    return;
  }
  current = c;
  const errors = c.diagnostics.filter((d) => d.severity === 'error').length;
  const warnings = c.diagnostics.length - errors;
  diagnostics.dataset['errors'] = String(errors);
  diagnostics.textContent = c.rendered || 'no errors';
  diagnosticsSummary.textContent = errors ? `${errors} error${errors === 1 ? '' : 's'}` : warnings ? `${warnings} warning${warnings === 1 ? '' : 's'}` : 'ok';
  diagnosticsSummary.dataset['state'] = errors ? 'error' : warnings ? 'warning' : 'ok';

  const plan = c.compilation ? planReport(c.compilation) : c.planError;
  analysisView.textContent = [
    c.analysisReport ?? '(the analysis runs once the spec checks)',
    ...(plan ? ['', 'plan', plan] : []),
    ...(c.scanElement ? ['', 'scan element', c.scanElement] : []),
  ].join('\n');
  irView.textContent = c.ir ?? '(the IR is built once the spec checks)';
  wgslView.textContent = c.compiled
    ? c.compiled.kernels.map((k) => `// ${k.file} (entry point ${k.entryPoint})\n${k.wgsl}`).join('\n\n')
    : (c.planError ?? '(the kernels are emitted once the spec checks)');
  runButton.disabled = !c.compiled;
  if (runStatus.dataset['state'] !== 'idle' && runStatus.dataset['state'] !== 'running') setStatus('stale', 'the spec changed since the last run');
}

function scheduleCompile() {
  clearTimeout(timer);
  timer = setTimeout(compileNow, DEBOUNCE_MS);
}

function load(name: string) {
  const text = examples[name];
  if (text === undefined) return;
  path = name;
  fileName.textContent = name;
  editor.value = text;
  for (const b of document.querySelectorAll<HTMLButtonElement>('#examples button')) b.setAttribute('aria-pressed', String(b.dataset['example'] === name));
  renderHighlight();
  setStatus('idle', 'not run yet');
  runTable.replaceChildren();
  compileNow();
}

const fmt = (x: number) => (x === 0 ? '0' : Math.abs(x) >= 1e-3 && Math.abs(x) < 1e4 ? x.toPrecision(3) : x.toExponential(2));

function showRun(r: PageRun, name: string, mode: string, adapter: string) {
  const { verification: v } = r;
  const worst = Math.max(...v.tensors.map((t) => t.maxErr));
  const where = `${name}, ${mode} kernel, batch ${r.batch}, ${r.grid ? `grid ${r.grid.H} x ${r.grid.W}` : `T ${r.T}`}, seed ${r.seed}, on ${adapter}; GPU ${r.gpuMs.toFixed(0)} ms, reference ${r.referenceMs.toFixed(0)} ms`;
  if (v.ok) setStatus('verified', `verified against the reference interpreter: ${v.tensors.length} tensors within ${TOLERANCE} (largest error ${fmt(worst)}) — ${where}`);
  else setStatus('failed', `differs from the reference interpreter: ${v.tensors.filter((t) => !t.ok).map((t) => t.name).join(', ')} over ${TOLERANCE} — ${where}`);
  const head = document.createElement('tr');
  for (const h of ['tensor', 'kind', 'max |gpu − ref|', 'max error', '']) head.appendChild(Object.assign(document.createElement('th'), { textContent: h }));
  const rows = v.tensors.map((t) => {
    const tr = document.createElement('tr');
    tr.className = t.ok ? 'ok' : 'bad';
    for (const cell of [t.name, t.kind, fmt(t.maxAbs), fmt(t.maxErr), t.ok ? '✓' : `✗ ${t.note ?? ''}`]) tr.appendChild(Object.assign(document.createElement('td'), { textContent: cell }));
    return tr;
  });
  runTable.replaceChildren(head, ...rows);
}

async function run() {
  compileNow();
  runButton.disabled = true;
  runTable.replaceChildren();
  setStatus('running', 'opening the GPU…');
  try {
    const executor = await gpuExecutor();
    const wanted = targetOf(executor.adapter);
    if (wanted.subgroups !== target.subgroups) {
      target = wanted;
      compileNow();
    }
    const c = current;
    if (!c?.compiled || !c.module || !c.compilation) throw new Error('the spec has errors: fix them first');
    const size = { batch: Number(batchInput.value) || 4, T: Number(stepsInput.value) || 64, seed: 0 };
    setStatus('running', `running ${c.module.name} (${c.compiled.mode}) on WebGPU…`);
    const r = await runAndVerify(executor, c.module, c.compilation.sizes, c.compiled, size);
    if (current !== c) return; // edited meanwhile: compileNow already marked the result stale
    showRun(r, c.module.name, c.compiled.mode, adapterName(executor.adapter));
    // For the browser test: a second run of the same kernels makes no new pipelines.
    runStatus.dataset['pipelines'] = String(executor.pipelineCount);
  } catch (e) {
    const message = e instanceof NoWebGpu || e instanceof GpuError ? e.message : e instanceof Error ? e.message : String(e);
    setStatus('error', message);
  } finally {
    runButton.disabled = !current?.compiled;
  }
}

function adapterName(a: { vendor: string; architecture: string; description: string; isSoftware: boolean }) {
  const name = [a.vendor, a.architecture, a.description].filter(Boolean).join(' ') || 'an unnamed adapter';
  return a.isSoftware ? `${name} (software)` : name;
}

// ---- wiring ----
const examplesBar = $<HTMLDivElement>('examples');
for (const name of Object.keys(examples).sort()) {
  const b = document.createElement('button');
  b.textContent = name.replace(/\.rnn$/, '');
  b.dataset['example'] = name;
  b.addEventListener('click', () => load(name));
  examplesBar.appendChild(b);
}
editor.addEventListener('input', () => {
  renderHighlight();
  scheduleCompile();
});
editor.addEventListener('scroll', () => {
  highlight.scrollTop = editor.scrollTop;
  highlight.scrollLeft = editor.scrollLeft;
});
// Tab indents rather than leaving the editor.
editor.addEventListener('keydown', (e) => {
  if (e.key !== 'Tab' || e.shiftKey || e.ctrlKey || e.metaKey || e.altKey) return;
  e.preventDefault();
  document.execCommand('insertText', false, '  ');
});
modeSelect.addEventListener('change', () => {
  if (isModeRequest(modeSelect.value)) compileNow();
});
runButton.addEventListener('click', () => void run());
for (const tab of document.querySelectorAll<HTMLButtonElement>('[role=tab]'))
  tab.addEventListener('click', () => {
    for (const t of document.querySelectorAll<HTMLButtonElement>('[role=tab]')) {
      const on = t === tab;
      t.setAttribute('aria-selected', String(on));
      $(t.getAttribute('aria-controls')!).hidden = !on;
    }
  });

load(examples[DEFAULT_EXAMPLE] !== undefined ? DEFAULT_EXAMPLE : Object.keys(examples).sort()[0]!);
// Learn the adapter early, so the kernels shown are the ones a run uses (subgroups or not).
gpuExecutor().then(
  (executor) => {
    adapterLine.textContent = `WebGPU: ${adapterName(executor.adapter)}`;
    const wanted = targetOf(executor.adapter);
    if (wanted.subgroups !== target.subgroups) {
      target = wanted;
      compileNow();
    }
  },
  (e: unknown) => (adapterLine.textContent = e instanceof Error ? e.message : String(e)),
);
document.body.dataset['ready'] = 'true';
