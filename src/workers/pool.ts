import { Piscina } from 'piscina';
import { ClosedError, deserializeError } from '../errors.js';
import type { FetchTask, FetchTaskOutcome, FetchTaskResult, FetchWorkerData } from './protocol.js';
import { SharedRateLimiter } from '../util/rate-limiter.js';
import type { FetchTransport } from './transport.js';

export interface FetchPoolOptions {
  /** Worker threads. @default 2 */
  workers: number;
  /** Requests per second across all workers; 0 for no limit. */
  requestsPerSecond: number;
  /** Old-generation heap limit of each worker (MB). */
  heapLimitMb: number;
  /** The workers' nice increment (Linux and other Unix; 0 keeps the engine's priority). */
  niceIncrement: number;
}

/**
 * The fetch workers: a Piscina pool running `fetch-worker.js`, with one rate limit shared by
 * all of them through shared memory.
 */
export class FetchPool implements FetchTransport {
  readonly #pool: Piscina<FetchTask, FetchTaskOutcome>;
  readonly rateLimiter: SharedRateLimiter;
  #closing: Promise<void> | undefined;

  constructor(options: FetchPoolOptions) {
    this.rateLimiter = new SharedRateLimiter(options.requestsPerSecond);
    const workerData: FetchWorkerData = { rateBuffer: this.rateLimiter.buffer, requestsPerSecond: options.requestsPerSecond };
    this.#pool = new Piscina<FetchTask, FetchTaskOutcome>({
      filename: new URL('./fetch-worker.js', import.meta.url).href,
      minThreads: options.workers,
      maxThreads: options.workers,
      // Each job has one task in flight, so the pool never holds more tasks than running jobs.
      // Two per worker let a worker start its next task without waiting for the main thread.
      concurrentTasksPerWorker: 2,
      idleTimeout: 30_000,
      // V8 grows an idle-looking thread's heap lazily, so without limits a long run's peak
      // memory grows with its length. A small young generation and a bounded old one keep
      // each worker's footprint flat (bench/: the peak stops growing with the seasons).
      resourceLimits: { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: options.heapLimitMb },
      workerData,
      // Parsing pages is throughput work that can wait a moment; the writer thread, which holds
      // the lock everyone waits on, and the other programs on the machine should not.
      niceIncrement: options.niceIncrement,
    });
  }

  /** Runs one fetch task (one or more pages); a failure is rebuilt into its typed error. */
  async run(task: FetchTask, signal?: AbortSignal): Promise<FetchTaskResult> {
    if (this.#closing) throw new ClosedError('The fetch pool');
    const outcome = await this.#pool.run(task, signal ? { signal } : {});
    if (!outcome.ok) throw deserializeError(outcome.error);
    return outcome.result;
  }

  get utilization(): number {
    return this.#pool.utilization;
  }

  close(): Promise<void> {
    this.#closing ??= this.#pool.close({ force: true });
    return this.#closing;
  }
}
