// Writes docs/playground.png: the playground after running Mamba S6 on the browser's WebGPU, in the
// same headless Chromium as the playground test. Fails unless the page reports the run verified.
// Run: npx tsx scripts/playground-screenshot.ts [--out FILE]
import { join } from 'node:path';
import { buildPlayground, ROOT } from '../playground/build.js';
import { launchChromium, openPlayground, runExample, serveDir } from '../playground/harness.js';

const outFlag = process.argv.indexOf('--out');
const out = outFlag > 0 ? process.argv[outFlag + 1]! : join(ROOT, 'docs', 'playground.png');

const browser = await launchChromium();
const served = await serveDir(await buildPlayground());
try {
  const { page, log } = await openPlayground(browser, served.url);
  const verdict = await runExample(page, 'mamba_s6.rnn');
  if (verdict.state !== 'verified') throw new Error(`the run was not verified (${verdict.state}): ${verdict.text}`);
  if (log.errors.length) throw new Error(`the page reported errors:\n${log.errors.join('\n')}`);
  // The caret and the editor's focus ring are not part of the picture.
  await page.$eval('#source', (e) => (e as HTMLTextAreaElement).blur());
  await page.screenshot({ path: out as `${string}.png` });
  console.log(`playground-screenshot: wrote ${out} (${verdict.text})`);
} finally {
  await browser.close();
  await served.close();
}
