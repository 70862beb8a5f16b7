/**
 * Running jobs: each job fetches its pages through the fetch transport, puts each page in the
 * queue whole (waiting while the queue is full: the backpressure), and ends once its batches
 * are committed. At most `concurrency` jobs fetch at once.
 */
import { BackfillError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { BatchQueue } from '../queue/batch-queue.js';
import { Job, type JobHandle, type JobRequest } from '../queue/job.js';
import { sleep } from '../util/sleep.js';
import type { FetchTaskResult } from '../workers/protocol.js';
import type { FetchTransport } from '../workers/transport.js';
import type { BatchMessage, BatchResult } from '../writer/protocol.js';
import type { WriterHandle } from '../writer/writer.js';
import type { EmitEngineEvent, RunTotals } from './events.js';
import { toBackfillError } from './failures.js';
import type { ResolvedEngineOptions } from './options.js';
import type { QueuedBatch } from './pump.js';

export interface JobRunnerContext {
  readonly options: Pick<ResolvedEngineOptions, 'source' | 'pageSize' | 'batchSize' | 'pagesPerTask' | 'fetchAttempts' | 'concurrency'>;
  readonly writer: Pick<WriterHandle, 'startJob' | 'endJob'>;
  readonly transport: Pick<FetchTransport, 'run'>;
  readonly queue: BatchQueue<QueuedBatch>;
  /** Aborted when the engine closes: no job fetches further. */
  readonly stopping: AbortSignal;
  /** Shared with the pump, which drops the batches of these jobs. */
  readonly failedJobs: Set<string>;
  readonly totals: RunTotals;
  readonly logger: Logger;
  readonly emit: EmitEngineEvent;
}

export class JobRunner {
  readonly #context: JobRunnerContext;
  readonly #waiting: Job[] = [];
  readonly #jobs = new Map<string, Job>();
  #fetching = 0;

  constructor(context: JobRunnerContext) {
    this.#context = context;
  }

  /** Adds a job; the same job already queued or running is not added twice. */
  enqueue(request: JobRequest): JobHandle {
    const { options, failedJobs, totals, emit } = this.#context;
    const job = new Job(request, options.source.kind);
    const existing = this.#jobs.get(job.id);
    if (existing && (existing.state === 'queued' || existing.state === 'running')) return existing.handle;
    this.#jobs.set(job.id, job);
    failedJobs.delete(job.id);
    totals.jobs++;
    this.#waiting.push(job);
    emit('job:queued', job.handle);
    this.#startWaitingJobs();
    return job.handle;
  }

  /** Settles once every job enqueued so far has ended. */
  async settled(): Promise<void> {
    await Promise.all([...this.#jobs.values()].filter((job) => !job.ended).map((job) => job.settled));
  }

  /** Ends every job that has not started as cancelled (the engine is closing). */
  cancelWaiting(): void {
    for (const job of this.#waiting.splice(0)) {
      this.#context.totals.cancelled++;
      job.end('cancelled', 0, { error: new BackfillError('ERR_ABORTED', 'The engine closed before the job started') });
    }
  }

  /** Waits for every job still known to end, whatever its outcome. */
  async allEnded(): Promise<void> {
    await Promise.all([...this.#jobs.values()].map((job) => job.settled));
  }

  /**
   * Starts waiting jobs while fewer than `concurrency` are fetching. A job gives its slot back
   * as soon as it has fetched its last page, not when its last batch commits: otherwise every
   * job boundary would stall fetching until the writer caught up.
   */
  #startWaitingJobs(): void {
    while (this.#fetching < this.#context.options.concurrency && this.#waiting.length > 0 && !this.#context.stopping.aborted) {
      const job = this.#waiting.shift()!;
      this.#fetching++;
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        this.#fetching--;
        this.#startWaitingJobs();
      };
      void this.#runJob(job, release).finally(release);
    }
  }

  async #runJob(job: Job, releaseFetchSlot: () => void): Promise<void> {
    const { writer, options, totals, emit } = this.#context;
    const signal = this.#context.stopping;
    const startedAt = performance.now();
    try {
      const start = await writer.startJob({
        jobId: job.id, leagueKey: job.request.leagueKey, season: job.request.season, source: job.sourceKind,
        force: job.request.force ?? false, replaceSource: job.request.replaceSource ?? false,
      });
      job.addAttempts(start.attempts);
      if (start.alreadyCompleted) {
        totals.skipped++;
        this.#finish(job, 'completed', startedAt, { skipped: true });
        return;
      }
      job.markRunning(start.cursor);
      emit('job:started', job.handle, start.cursor);
      const commits: Array<Promise<void>> = [];
      let cursor = start.cursor;
      for (;;) {
        signal.throwIfAborted();
        if (job.error) throw job.error;
        const fetched = await this.#fetch(job, cursor, signal);
        let final = false;
        for (const page of fetched.pages) {
          const nextCursor = cursor + page.recordCount;
          final = page.recordCount < options.pageSize;
          // An empty page still commits its cursor and its rejected records.
          const batches = page.batches.length > 0 ? page.batches : [{ rows: '[]', rowCount: 0 }];
          const messages = batches.map((encoded, index): BatchMessage => {
            const last = index === batches.length - 1;
            return {
              jobId: job.id,
              season: job.request.season,
              leagueSeries: job.request.leagueKey,
              rows: encoded.rows,
              rowCount: encoded.rowCount,
              rejected: index === 0 ? page.rejected : [],
              cursor: last ? nextCursor : null,
              final: last && final,
            };
          });
          // A page enters the queue whole and is committed whole (its rows, its rejected
          // records and its cursor in one transaction). Waits while the queue is full: this is
          // the backpressure that keeps memory flat.
          const pending = await this.#enqueuePage(messages, signal);
          pending.forEach((committed, index) => {
            const cursorAfter = index === messages.length - 1 ? nextCursor : null;
            const commit = job.track(committed).then((result) => this.#onCommitted(job, result, cursorAfter));
            // A failed commit stops the job before it fetches further (and is never an unhandled rejection).
            commit.catch((error: Error) => job.fail(error));
            commits.push(commit);
          });
          cursor = nextCursor;
        }
        if (final) break;
      }
      releaseFetchSlot();
      await Promise.all(commits);
      totals.completed++;
      this.#finish(job, 'completed', startedAt);
    } catch (caught) {
      await this.#endJob(job, caught, startedAt);
    }
  }

  async #fetch(job: Job, start: number, signal: AbortSignal): Promise<FetchTaskResult> {
    const { options, transport, logger } = this.#context;
    const task = {
      source: options.source, job: job.ref, start, pageSize: options.pageSize, batchSize: options.batchSize, maxPages: options.pagesPerTask,
    };
    for (let attempt = 1; ; attempt++) {
      try {
        return await transport.run(task, signal);
      } catch (error) {
        const transient = (error as { transient?: boolean }).transient === true;
        if (!transient || attempt >= options.fetchAttempts || signal.aborted) throw error;
        const delayMs = Math.min(5000, 200 * 2 ** (attempt - 1)) * (0.5 + Math.random());
        logger.warn({ jobId: job.id, start, attempt, delayMs: Math.round(delayMs), err: (error as Error).message }, 'page fetch failed; retrying');
        await sleep(delayMs, signal);
      }
    }
  }

  /**
   * Queues a page's batches as one unit, waiting for room; resolves with one commit promise
   * per batch, so that awaiting the room does not also await the commits.
   */
  async #enqueuePage(batches: BatchMessage[], signal: AbortSignal): Promise<Array<Promise<BatchResult>>> {
    const items: QueuedBatch[] = [];
    const committed = batches.map((batch) => new Promise<BatchResult>((resolve, reject) => {
      items.push({ batch, rowCount: batch.rowCount, resolve, reject });
    }));
    await this.#context.queue.pushUnit(items, signal);
    return committed;
  }

  #onCommitted(job: Job, result: BatchResult, cursor: number | null): void {
    const { totals, emit } = this.#context;
    job.addCommitted(result, cursor);
    totals.rowsFetched += result.rowCount;
    totals.rowsInserted += result.inserted;
    totals.rowsIgnored += result.ignored;
    totals.rowsRejected += result.rejected;
    emit('batch:committed', result);
    if (cursor !== null) emit('job:progress', job.summary(job.elapsedMs));
  }

  async #endJob(job: Job, caught: unknown, startedAt: number): Promise<void> {
    const { stopping, failedJobs, writer, logger, totals } = this.#context;
    const aborted = stopping.aborted && !(job.error && job.error.code !== 'ERR_ABORTED');
    const error = job.error ?? toBackfillError(caught);
    const status = aborted ? 'cancelled' : 'failed';
    if (!aborted) failedJobs.add(job.id);
    // Wait until this job's batches already queued are committed (cancelled) or dropped (failed):
    // the job's row in job_log must not say `failed` while a batch of it is still being written.
    await job.quiesce();
    try {
      const ended = await writer.endJob(job.id, status, aborted ? 'stopped before completion; run again to resume' : error.message);
      job.addAttempts(ended.attempts);
    } catch (endError) {
      logger.warn({ jobId: job.id, err: (endError as Error).message }, 'could not record the end of the job in job_log; it stays resumable');
    }
    if (status === 'failed') totals.failed++;
    else totals.cancelled++;
    this.#finish(job, status, startedAt, { error });
  }

  #finish(job: Job, status: 'completed' | 'failed' | 'cancelled', startedAt: number, extra: { skipped?: boolean; error?: BackfillError } = {}): void {
    const summary = job.end(status, performance.now() - startedAt, extra);
    // An ended job is the caller's (through its handle); keeping it here would grow with the run.
    if (this.#jobs.get(job.id) === job) this.#jobs.delete(job.id);
    if (status === 'completed') this.#context.emit('job:completed', summary);
    else if (status === 'failed') this.#context.emit('job:failed', summary, extra.error!);
  }
}
