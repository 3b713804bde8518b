// Driving the built playground in a real headless Chromium (puppeteer-core and the system's Chromium,
// Debian's `chromium` package): a static server for playground/dist, the browser launched with
// WebGPU on, and the page's steps. Used by test/playground/playground.gpu.test.ts and by
// scripts/playground-screenshot.ts.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

export const CHROMIUM = process.env['RNNC_CHROMIUM'] ?? '/usr/bin/chromium';
/**
 * The Vulkan driver Chromium's WebGPU runs on: SwiftShader, the one Debian's chromium ships. Lavapipe
 * was tried first (VK_ICD_FILENAMES=/usr/share/vulkan/icd.d/lvp_icd.json, as Dawn in Node uses): the
 * browser's Dawn still reported the adapter `google swiftshader`, with or without --enable-features=
 * Vulkan, --use-vulkan=native and --ignore-gpu-blocklist (Chromium 156), so pointing the loader at
 * SwiftShader's ICD only makes that choice explicit and independent of the machine's drivers.
 */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';
export const INSTALL_HINT = "install Debian's chromium: `bash scripts/setup-browser.sh` (apt-get install chromium), or set RNNC_CHROMIUM to a Chromium binary";

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json',
  '.png': 'image/png',
};

export interface Served {
  url: string;
  close(): Promise<void>;
}

/** Serves a directory's files over http on 127.0.0.1 (WebGPU needs a secure context: localhost is one). */
export async function serveDir(dir: string): Promise<Served> {
  const root = normalize(dir + sep);
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = normalize(join(root, path.endsWith('/') ? path + 'index.html' : path));
    if (!file.startsWith(root) || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
    res.end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Headless Chromium with WebGPU on SwiftShader; a missing browser is an error that says what to install. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: ${INSTALL_HINT}`);
  const env: Record<string, string> = { ...(process.env as Record<string, string>) };
  if (existsSync(SWIFTSHADER_ICD)) env['VK_ICD_FILENAMES'] = env['VK_DRIVER_FILES'] = SWIFTSHADER_ICD;
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    env,
    args: ['--enable-unsafe-webgpu', '--no-sandbox', '--enable-features=Vulkan', '--use-webgpu-adapter=swiftshader'],
  });
}

export interface PageLog {
  errors: string[];
}

/** Opens the playground and waits until its script has wired the page. Page errors and failed loads collect in the log. */
export async function openPlayground(browser: Browser, url: string): Promise<{ page: Page; log: PageLog }> {
  const page = await browser.newPage();
  const log: PageLog = { errors: [] };
  page.on('pageerror', (e) => log.errors.push(`page error: ${e instanceof Error ? e.message : String(e)}`));
  page.on('console', (m) => {
    if (m.type() === 'error') log.errors.push(`console error: ${m.text()}`);
  });
  page.on('requestfailed', (r) => log.errors.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
  await page.setViewport({ width: 1440, height: 900 });
  await page.goto(url, { waitUntil: 'load' });
  await page.waitForSelector('body[data-ready=true]', { timeout: 30_000 });
  return { page, log };
}

/** Waits for the adapter line to settle and returns it ("WebGPU: ..." or why there is none). */
export async function adapterLine(page: Page): Promise<string> {
  await page.waitForFunction(() => !document.getElementById('adapter')!.textContent!.includes('looking for'), { timeout: 60_000 });
  return page.$eval('#adapter', (e) => e.textContent ?? '');
}

/** Loads an example, runs it on WebGPU (in `mode`, by default the page's `auto`) and waits for the verdict: the run status's state and text. */
export async function runExample(page: Page, example: string, mode = 'auto', timeoutMs = 120_000): Promise<{ state: string; text: string }> {
  await page.click(`#examples button[data-example="${example}"]`);
  await page.select('#mode', mode);
  await page.waitForFunction(() => !(document.getElementById('run') as HTMLButtonElement).disabled, { timeout: 30_000 });
  await page.click('#run');
  await page.waitForFunction(() => ['verified', 'failed', 'error'].includes(document.getElementById('run-status')!.dataset['state'] ?? ''), { timeout: timeoutMs });
  return page.$eval('#run-status', (e) => ({ state: (e as HTMLElement).dataset['state'] ?? '', text: e.textContent ?? '' }));
}
