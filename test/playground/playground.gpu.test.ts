// The playground in a real headless Chromium (Debian's `chromium`, driven by puppeteer-core), with
// WebGPU on Chromium's SwiftShader Vulkan driver (playground/harness.ts says why not lavapipe): the
// page is built, served, loaded; an edit brings a diagnostic at the right line:col as you type, its
// fix clears it; Mamba S6 runs on the browser's WebGPU and the page reports it verified against the
// reference interpreter. No Chromium, or no WebGPU adapter in it, fails with what to install.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, describe, expect, it } from 'vitest';
import { buildPlayground, ROOT } from '../../playground/build.js';
import { adapterLine, launchChromium, openPlayground, runExample, serveDir, SWIFTSHADER_ICD, type PageLog, type Served } from '../../playground/harness.js';

const EXAMPLE = 'mamba_s6.rnn';
const NO_ADAPTER_HINT =
  `Chromium's WebGPU found no adapter: it runs on SwiftShader, whose Vulkan ICD Debian's chromium package ships (${SWIFTSHADER_ICD}); ` +
  'reinstall it with `bash scripts/setup-browser.sh` (apt-get install chromium)';

let served: Served | undefined;
let browser: Browser | undefined;
let page: Page;
let log: PageLog;

/**
 * The browser and the page, set up by the first test that asks: a setup failure (no Chromium, a page
 * that does not build) then fails every test with its message, where a failing beforeAll would leave
 * them reported as skipped.
 */
let ready: Promise<void> | undefined;
const setUp = () =>
  (ready ??= (async () => {
    // The browser first: a missing one fails at once, with what to install.
    browser = await launchChromium();
    // Built here, type-check included, so the test never runs a stale dist/.
    served = await serveDir(await buildPlayground());
    ({ page, log } = await openPlayground(browser, served.url));
  })());

afterAll(async () => {
  await browser?.close();
  await served?.close();
});

/** The editor's text; `select` then `type` edit it through the keyboard, as a user does. */
const editorText = () => page.$eval('#source', (e) => (e as HTMLTextAreaElement).value);
async function select(from: number, to: number) {
  await page.focus('#source');
  await page.$eval('#source', (e, a, b) => (e as HTMLTextAreaElement).setSelectionRange(a, b), from, to);
}
const diagnosticsState = () => page.$eval('#diagnostics', (e) => ({ errors: (e as HTMLElement).dataset['errors'] ?? '', text: e.textContent ?? '' }));

describe('the playground in headless Chromium', () => {
  it('loads the compiler, the examples and a WebGPU adapter', async () => {
    await setUp();
    const adapter = await adapterLine(page);
    if (!adapter.startsWith('WebGPU: ')) throw new Error(`${NO_ADAPTER_HINT}; the page says: ${adapter}`);
    const examples = await page.$$eval('#examples button', (bs) => bs.map((b) => (b as HTMLElement).dataset['example']));
    expect(examples).toContain(EXAMPLE);
    await page.click(`#examples button[data-example="${EXAMPLE}"]`);
    expect(await editorText()).toBe(readFileSync(join(ROOT, 'examples', EXAMPLE), 'utf8'));
    // Highlighted by the compiler's lexer: keywords and builtins have their classes.
    expect(await page.$$eval('#highlight .tok-kw', (s) => s.map((e) => e.textContent))).toEqual(expect.arrayContaining(['rnn', 'state', 'let', 'output']));
    expect(await page.$$eval('#highlight .tok-fn', (s) => s.map((e) => e.textContent))).toEqual(expect.arrayContaining(['softplus', 'exp', 'sum']));
    expect(await diagnosticsState()).toEqual({ errors: '0', text: 'no errors' });
    expect(await page.$eval('#analysis', (e) => e.textContent)).toMatch(/analysis h: algebra sum_prod .*parallel scan: yes/);
    expect(await page.$eval('#ir', (e) => e.textContent)).toContain('mamba_s6');
    expect(await page.$eval('#wgsl', (e) => e.textContent)).toMatch(/@compute @workgroup_size/);
  }, 300_000);

  it('shows a diagnostic with its line:col and code frame as you type, and clears it when fixed', async () => {
    await setUp();
    const text = await editorText();
    const at = text.indexOf('softplus(dt[d])') + 'softplus(dt['.length;
    expect(at).toBeGreaterThan(20);
    const line = text.slice(0, at).split('\n').length;
    const column = at - text.lastIndexOf('\n', at - 1);

    await select(at, at + 1);
    await page.keyboard.type('q');
    await page.waitForFunction(() => document.getElementById('diagnostics')!.dataset['errors'] !== '0', { timeout: 10_000 });
    const broken = await diagnosticsState();
    expect(broken.errors).toBe('1');
    const [head, frameLine, caret] = broken.text.split('\n');
    expect(head).toBe(`${EXAMPLE}:${line}:${column}: error RNN0303: index \`q\` is not bound: it is neither on the left side nor bound by an enclosing reduction`);
    expect(frameLine).toBe(`${line} |   let step[d] = softplus(dt[q])`);
    expect(caret).toBe(`${' '.repeat(String(line).length)} | ${' '.repeat(column - 1)}^`);
    expect(await page.$eval('#run', (b) => (b as HTMLButtonElement).disabled)).toBe(true);

    await select(at, at + 1);
    await page.keyboard.type('d');
    await page.waitForFunction(() => document.getElementById('diagnostics')!.dataset['errors'] === '0', { timeout: 10_000 });
    expect(await diagnosticsState()).toEqual({ errors: '0', text: 'no errors' });
    expect(await editorText()).toBe(text);
  });

  it('runs Mamba S6 on the browser WebGPU and verifies it against the reference interpreter', async () => {
    await setUp();
    const verdict = await runExample(page, EXAMPLE);
    expect(verdict.text).toMatch(/^verified against the reference interpreter: 2 tensors within 0\.0001 .*mamba_s6, \w+ kernel, batch 4, T 64/);
    expect(verdict.state).toBe('verified');
    const rows = await page.$$eval('#run-table tr', (rs) => rs.slice(1).map((r) => [r.children[0]!.textContent, r.className]));
    expect(rows).toEqual([
      ['y', 'ok'],
      ['h', 'ok'],
    ]);
    // Pipelines are made once per device: running the same kernels again makes none.
    const pipelines = await page.$eval('#run-status', (e) => Number((e as HTMLElement).dataset['pipelines']));
    expect(pipelines).toBeGreaterThan(0);
    await page.click('#run');
    await page.waitForFunction(() => document.getElementById('run-status')!.dataset['state'] !== 'running', { timeout: 60_000 });
    expect(await page.$eval('#run-status', (e) => [(e as HTMLElement).dataset['state'], Number((e as HTMLElement).dataset['pipelines'])])).toEqual(['verified', pipelines]);
    expect(log.errors).toEqual([]);
  }, 180_000);

  it('runs the other backends too: LSTM sequentially, DeltaNet in chunks, a grid cell (mamba_rows) as its wavefront', async () => {
    await setUp();
    for (const [example, mode] of [
      ['lstm.rnn', 'seq'],
      ['deltanet.rnn', 'chunk'],
      ['mamba_rows.rnn', 'seq'],
    ] as const) {
      const verdict = await runExample(page, example, mode);
      expect(verdict.text).toMatch(new RegExp(`^verified against the reference interpreter: .* — ${example.replace('.rnn', '')}, ${mode} kernel, batch \\d+, ${example === 'mamba_rows.rnn' ? 'grid 8 x 8' : 'T \\d+'},`));
    }
    expect(log.errors).toEqual([]);
  }, 180_000);
});
