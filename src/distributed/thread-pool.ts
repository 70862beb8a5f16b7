/**
 * The fetch threads of a worker process: a Piscina pool of `fetch-thread.js`, set up as the
 * in-process pool is (src/workers/pool.ts: two tasks per thread, bounded heaps), plus the
 * main-thread end of the request schedule: threads ask for request slots over a
 * BroadcastChannel and this side reserves them in Redis.
 */
import { randomBytes } from 'node:crypto';
import { BroadcastChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { deserializeError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { FetchTask, FetchTaskOutcome, FetchTaskResult } from '../workers/protocol.js';
import type { RequestSchedule } from './request-schedule.js';
import type { FetchThreadData, SlotGrant, SlotRequest, ThreadTask } from './thread-protocol.js';

export interface FetchThreadPoolOptions {
  threads: number;
  heapLimitMb: number;
  schedule: RequestSchedule;
  logger: Logger;
}

export class FetchThreadPool {
  readonly #pool: Piscina<ThreadTask, FetchTaskOutcome>;
  readonly #channel: BroadcastChannel;
  readonly #schedule: RequestSchedule;
  readonly #logger: Logger;
  #closing: Promise<void> | undefined;
  /** Request slots granted so far. */
  slots = 0;

  constructor(options: FetchThreadPoolOptions) {
    this.#schedule = options.schedule;
    this.#logger = options.logger;
    const name = `league-backfill:request-slots:${process.pid}:${randomBytes(4).toString('hex')}`;
    this.#channel = new BroadcastChannel(name);
    this.#channel.onmessage = (event: unknown) => this.#grant((event as { data: SlotRequest }).data);
    const workerData: FetchThreadData = { channel: name };
    this.#pool = new Piscina<ThreadTask, FetchTaskOutcome>({
      filename: new URL('./fetch-thread.js', import.meta.url).href,
      minThreads: options.threads,
      maxThreads: options.threads,
      concurrentTasksPerWorker: 2,
      idleTimeout: 30_000,
      resourceLimits: { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: options.heapLimitMb },
      workerData,
    });
  }

  /** Runs one fetch task in a thread; a failure is rebuilt into its typed error. */
  async run(task: FetchTask, requestsPerSecond: number): Promise<FetchTaskResult> {
    const outcome = await this.#pool.run({ task, requestsPerSecond });
    if (!outcome.ok) throw deserializeError(outcome.error);
    return outcome.result;
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#channel.close();
      await this.#pool.close({ force: true });
    })();
    return this.#closing;
  }

  #grant(request: SlotRequest | undefined): void {
    if (request?.type !== 'slot' || this.#closing) return;
    const reply = (grant: SlotGrant): void => {
      if (!this.#closing) this.#channel.postMessage(grant);
    };
    this.#schedule.reserve(request.requestsPerSecond).then(
      (waitMs) => {
        this.slots++;
        reply({ type: 'grant', id: request.id, waitMs });
      },
      (error: Error) => {
        this.#logger.warn({ err: error.message }, 'could not reserve a request slot in Redis');
        reply({ type: 'grant', id: request.id, waitMs: 0, error: `could not reserve a request slot in Redis (${error.message})` });
      },
    );
  }
}
