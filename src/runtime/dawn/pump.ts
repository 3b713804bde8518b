// Dawn's Node binding pumps its events by calling the global setImmediate again and again while any
// promise (mapAsync, onSubmittedWorkDone) is pending: a busy loop that takes a whole core from a
// software driver's worker threads (lavapipe on 2 cores: ~1.5x slower kernels). The throttle spins
// for the first millisecond of a wait, for latency, then polls each millisecond. Installed once per
// process, before `webgpu` creates an instance: by the Dawn host (host.ts) and by openNodeDevice
// (node-device.ts) for programs that run generated host modules. RNNC_DAWN_PUMP=spin keeps the
// binding's own busy loop.
const SPIN = process.env.RNNC_DAWN_PUMP === 'spin';
let eagerPump = SPIN;
let burstStart = 0;
let last = 0;
let installed = false;

export function installPumpThrottle(): void {
  if (installed) return;
  installed = true;
  const immediate = globalThis.setImmediate;
  globalThis.setImmediate = ((cb: (...a: unknown[]) => void, ...args: unknown[]) => {
    const now = performance.now();
    if (now - last > 3) burstStart = now; // a gap: a new wait begins
    last = now;
    if (eagerPump || now - burstStart < 1) return immediate(cb, ...args);
    return setTimeout(cb, 1, ...args) as unknown as NodeJS.Immediate;
  }) as typeof setImmediate;
}

/** Awaits GPU work: the pump spins for the first millisecond of this wait, then polls (as after any gap). */
export function gpuWait<T>(promise: Promise<T>): Promise<T> {
  burstStart = last = performance.now();
  return promise;
}

/**
 * Awaits a Dawn promise that waits for no GPU work (popping an error scope, mapping an idle
 * buffer): only for the event pump to deliver it, so the pump spins meanwhile rather than polling
 * each millisecond.
 */
export async function soon<T>(promise: Promise<T>): Promise<T> {
  const was = eagerPump;
  eagerPump = true;
  try {
    return await promise;
  } finally {
    eagerPump = was;
  }
}

/** Wall-clock timing: the pump spins freely while `fn` runs. */
export async function spinning<T>(fn: () => Promise<T>): Promise<T> {
  const was = eagerPump;
  eagerPump = true;
  try {
    return await fn();
  } finally {
    eagerPump = was;
  }
}
