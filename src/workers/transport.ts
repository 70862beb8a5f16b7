/**
 * How fetch tasks reach the code that runs them. The engine plans jobs and commits results;
 * a transport only carries a task out and its result back. Two implementations: the
 * in-process Piscina pool (FetchPool, the default) and BullMQ over Redis (src/distributed/).
 */
import type { FetchTask, FetchTaskResult } from './protocol.js';

export interface FetchTransport {
  /**
   * Runs one fetch task and resolves with its pages, in order. Rejects with the task's typed
   * error (rebuilt from its SerializedError); `error.transient === true` marks a failure worth
   * retrying. Rejects with the signal's reason when the signal aborts.
   */
  run(task: FetchTask, signal?: AbortSignal): Promise<FetchTaskResult>;
  /** Stops taking tasks and releases every connection and thread. Idempotent. */
  close(): Promise<void>;
}

/** What the engine passes to a transport factory when it starts. */
export interface FetchTransportContext {
  /** Fetch worker threads asked for (`workers`); a remote transport may ignore it. */
  workers: number;
  /** Requests per second across every worker; 0 for no limit. */
  requestsPerSecond: number;
  /** Heap limit of each fetch worker thread (MB). */
  heapLimitMb: number;
  /** How much lower than the engine's own threads the fetch worker threads run (a nice increment, 0 to 19). */
  niceIncrement: number;
}

/** Made once per engine, when the engine starts. */
export type FetchTransportFactory = (context: FetchTransportContext) => FetchTransport | Promise<FetchTransport>;
