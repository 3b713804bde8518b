// `rnnc run` whose Dawn host is killed with SIGKILL mid-job (as `kill -9` or the OOM killer would):
// exit 2, the kill named (not blamed on the known webgpu crash), and nothing saved. The message
// texts themselves are pinned in test/runtime/host-death.test.ts, which needs no GPU.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it, vi } from 'vitest';
import { Host } from '../../src/runtime/dawn/runtime.js';
import { captureCli } from '../cli-run/rnnc.js';

const rnnc = captureCli();
const root = mkdtempSync(join(tmpdir(), 'rnnc-killed-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

it('rnnc run: the host killed by SIGKILL mid-job: exit 2, the signal named, nothing written', async () => {
  const request = Host.prototype.request;
  let killed: number | undefined;
  vi.spyOn(Host.prototype, 'request').mockImplementation(function (this: Host, ...args: Parameters<Host['request']>) {
    const reply = request.apply(this, args);
    // The job has been sent to the host: kill it from outside while it works on it.
    if (args[0].type === 'run') process.kill((killed = this.child.pid!), 'SIGKILL');
    return reply;
  });
  const save = join(root, 'saved');
  const r = await rnnc('run', 'examples/mamba_s6.rnn', '--batch', '1', '--T', '8', '--save', save);
  expect(killed).toBeDefined();
  expect(r.code).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr.split('\n')[0]).toBe(
    `rnnc: the GPU run failed: the Dawn host process (pid ${killed}) was killed by signal SIGKILL from outside rnnc (a user's \`kill -9\`, or the system's out-of-memory killer); this is not a crash of rnnc or Dawn. Only the job in flight was lost: the next job starts a fresh host. Nothing was written. If memory ran out (the kernel log, \`dmesg\`, says so), lower --batch, --T or a --dim.`,
  );
  expect(r.stderr).not.toContain('known crash');
  expect(existsSync(save)).toBe(false);
});
