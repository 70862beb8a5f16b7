/** The peak resident memory of this process (every thread) over a run, sampled. */
export class MemorySampler {
  readonly baselineBytes = process.memoryUsage.rss();
  #peakBytes = this.baselineBytes;
  readonly #timer: NodeJS.Timeout;

  constructor(intervalMs = 100) {
    this.#timer = setInterval(() => this.sample(), intervalMs);
    this.#timer.unref();
  }

  sample(): void {
    this.#peakBytes = Math.max(this.#peakBytes, process.memoryUsage.rss());
  }

  /** Stops sampling; returns the peak above the baseline, in MB. */
  stop(): number {
    this.sample();
    clearInterval(this.#timer);
    return (this.#peakBytes - this.baselineBytes) / (1024 * 1024);
  }
}
