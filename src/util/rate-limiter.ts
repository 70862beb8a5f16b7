/** What a caller needs of a rate limit: one slot per request. */
export interface RequestGate {
  acquire(signal?: AbortSignal): Promise<void>;
}

/** A gate that also says whether it limits at all, so callers can skip the wrapping. */
export interface RateGate extends RequestGate {
  readonly limited: boolean;
}

/**
 * One request rate shared by every fetch worker. The schedule lives in a SharedArrayBuffer
 * (the time of the next free slot, in microseconds), so worker threads reserve slots with one
 * atomic compare-and-swap each and no thread has to relay permission to the others.
 */
export class SharedRateLimiter implements RateGate {
  readonly buffer: SharedArrayBuffer;
  readonly #next: BigInt64Array;
  readonly #intervalMicros: bigint;

  /** `requestsPerSecond` 0 or Infinity means no limit. */
  constructor(requestsPerSecond: number, buffer: SharedArrayBuffer = new SharedArrayBuffer(8)) {
    this.buffer = buffer;
    this.#next = new BigInt64Array(buffer);
    this.#intervalMicros = requestsPerSecond > 0 && Number.isFinite(requestsPerSecond) ? BigInt(Math.round(1_000_000 / requestsPerSecond)) : 0n;
  }

  get limited(): boolean {
    return this.#intervalMicros > 0n;
  }

  /** Reserves the next slot and returns how long to wait for it (ms). */
  reserve(): number {
    if (this.#intervalMicros === 0n) return 0;
    const now = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000));
    for (;;) {
      const next = Atomics.load(this.#next, 0);
      const slot = next > now ? next : now;
      if (Atomics.compareExchange(this.#next, 0, next, slot + this.#intervalMicros) === next) {
        return Number(slot - now) / 1000;
      }
    }
  }

  /** Waits for this caller's slot. */
  async acquire(signal?: AbortSignal): Promise<void> {
    const waitMs = this.reserve();
    if (waitMs <= 0) return;
    const { setTimeout: sleep } = await import('node:timers/promises');
    await sleep(waitMs, undefined, signal ? { signal } : {});
  }
}
