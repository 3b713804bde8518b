// Buffers kept across the jobs of a session, as a library's allocator keeps them: creating a large
// buffer costs page faults and Dawn's zero-fill on first use (lavapipe, a 4 MiB call: ~5 ms of
// upload and read-back on fresh buffers against ~1 ms on reused ones), and benchmarks and repeated
// runs ask for the same sizes again and again. Runs in the Dawn host only.

/**
 * Pooled bytes past which the least recently returned buffers are destroyed: enough for the buffers
 * of one job at published sizes (a backward's rest piece holds ~0.5 GB with its staging buffers).
 */
const DEFAULT_CAP_BYTES = 2 ** 30;

/**
 * The cap for an adapter: on a software one (lavapipe) the buffers are host memory, and the pool
 * keeps up to an eighth of it (at most 4 GiB), so that the jobs of a training step — a backward's
 * saving forward, core and rest, ~1.2 GB at T = 2^20 for gla — find their buffers again at the next
 * step instead of evicting each other; a GPU's memory is not known here, so it keeps the default.
 */
export function poolCap(software: boolean, hostMemory: number): number {
  return software ? Math.max(DEFAULT_CAP_BYTES, Math.min(4 * 2 ** 30, Math.floor(hostMemory / 8))) : DEFAULT_CAP_BYTES;
}
/** From this size a pooled buffer somewhat larger than asked for is taken (`take`). */
const FIT_MIN_BYTES = 2 ** 20;
/** At most this factor larger. */
const FIT_SLACK = 1.25;

const keyOf = (size: number, usage: number) => `${size}:${usage}`;

export class BufferPool {
  /** Free buffers by (size, usage), least recently returned first. */
  private readonly free = new Map<string, GPUBuffer[]>();
  /** Free buffers in the order they were returned, for eviction. */
  private readonly order: GPUBuffer[] = [];
  private freeBytes = 0;

  constructor(public capBytes = DEFAULT_CAP_BYTES) {}

  /**
   * A free buffer of this usage: of exactly this size, or from FIT_MIN_BYTES on the smallest free one
   * up to FIT_SLACK larger (the jobs of one call — a backward's saving forward, core and rest — ask
   * for sizes a few percent apart); undefined if none. The caller binds and copies the size it
   * asked for, not the buffer's.
   */
  take(size: number, usage: number): GPUBuffer | undefined {
    let list = this.free.get(keyOf(size, usage));
    if (!list?.length && size >= FIT_MIN_BYTES) {
      let best: number | undefined;
      for (const [key, l] of this.free) {
        const [bytes, use] = key.split(':').map(Number) as [number, number];
        if (l.length > 0 && use === usage && bytes > size && bytes <= size * FIT_SLACK && (best === undefined || bytes < best)) best = bytes;
      }
      if (best !== undefined) list = this.free.get(keyOf(best, usage));
    }
    const buffer = list?.pop();
    if (!buffer) return undefined;
    this.order.splice(this.order.indexOf(buffer), 1);
    this.freeBytes -= buffer.size;
    return buffer;
  }

  /** Back to the pool, unmapped; the oldest free buffers go once the pool holds more than its cap. */
  give(buffer: GPUBuffer): void {
    buffer.unmap(); // a no-op unless a read-back left it mapped
    const key = keyOf(buffer.size, buffer.usage);
    this.free.set(key, [...(this.free.get(key) ?? []), buffer]);
    this.order.push(buffer);
    this.freeBytes += buffer.size;
    while (this.freeBytes > this.capBytes && this.order.length > 0) {
      const old = this.order.shift()!;
      const list = this.free.get(keyOf(old.size, old.usage))!;
      list.splice(list.indexOf(old), 1);
      this.freeBytes -= old.size;
      old.destroy();
    }
  }

  /** Destroys every free buffer (the session closes or its device is lost). */
  clear(): void {
    for (const b of this.order) b.destroy();
    this.free.clear();
    this.order.length = 0;
    this.freeBytes = 0;
  }
}

/**
 * The buffers of one call: taken from the pool or created, and returned together when the call is
 * done — to the pool after a clean call, destroyed after a failed one (whatever state it left them
 * in). `reused` tells the caller which buffers may hold an earlier call's data.
 */
export class Lease {
  private readonly held: GPUBuffer[] = [];
  private readonly recycled = new Set<GPUBuffer>();

  constructor(
    private readonly dev: GPUDevice,
    private readonly pool: BufferPool,
  ) {}

  readonly make = (size: number, usage: number, label: string): GPUBuffer => {
    let buffer = this.pool.take(size, usage);
    if (buffer) {
      buffer.label = label;
      this.recycled.add(buffer);
    } else buffer = this.dev.createBuffer({ size, usage, label });
    this.held.push(buffer);
    return buffer;
  };

  /**
   * A buffer to write from the CPU (usage with MAP_WRITE): a new one comes mapped at creation
   * (`mapped`), a pooled one unmapped, to be mapped with mapAsync(WRITE).
   */
  makeMapped(size: number, usage: number, label: string): { buffer: GPUBuffer; mapped: boolean } {
    let buffer = this.pool.take(size, usage);
    const mapped = !buffer;
    if (buffer) {
      buffer.label = label;
      this.recycled.add(buffer);
    } else buffer = this.dev.createBuffer({ size, usage, label, mappedAtCreation: true });
    this.held.push(buffer);
    return { buffer, mapped };
  }

  reused(buffer: GPUBuffer): boolean {
    return this.recycled.has(buffer);
  }

  release(clean: boolean): void {
    for (const b of this.held) {
      if (clean) this.pool.give(b);
      else b.destroy();
    }
    this.held.length = 0;
    this.recycled.clear();
  }
}
