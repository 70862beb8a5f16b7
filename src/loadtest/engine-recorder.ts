/**
 * What the load test learns from the engine's public events: commit latency per transaction,
 * rows each job was reported to have committed, errors that reached the caller, and the
 * timeline. Nothing here reaches into the engine's internals.
 */
import type { BackfillError } from '../errors.js';
import { isLockError } from '../errors.js';
import type { Engine } from '../engine/index.js';
import { Timeline } from './timeline.js';

/** True when a job's error is a lock error, or was caused by one. */
export function isLockFailure(error: BackfillError): boolean {
  let current: unknown = error;
  for (let depth = 0; current && depth < 5; depth++) {
    if ((current as { code?: unknown }).code === 'ERR_DATABASE_LOCKED' || isLockError(current)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

export class EngineRecorder {
  readonly timeline: Timeline;
  /** Lock wait + lock hold of each transaction (ms): the commit latency a batch sees once the writer takes it. */
  readonly transactionLatenciesMs: number[] = [];
  /** The wait for the write lock of each transaction (ms). */
  readonly lockWaitsMs: number[] = [];
  /** Rows the engine reported committed, by job id. */
  readonly insertedByJob = new Map<string, number>();
  readonly completedJobs = new Set<string>();
  readonly failures: Array<{ jobId: string; code: string; message: string; lock: boolean }> = [];
  /** Transactions that needed more than one attempt. */
  retriedTransactions = 0;
  readonly #seenTransactions = new Set<string>();

  constructor(engine: Engine) {
    this.timeline = new Timeline();
    engine.on('batch:committed', (result) => {
      this.insertedByJob.set(result.jobId, (this.insertedByJob.get(result.jobId) ?? 0) + result.inserted);
      this.timeline.addRows(result.inserted);
      // Every batch of one transaction carries that transaction's figures: count each transaction once.
      const transaction = `${result.attempts}|${result.waitMs}|${result.commitMs}`;
      if (this.#seenTransactions.has(transaction)) return;
      this.#seenTransactions.add(transaction);
      this.transactionLatenciesMs.push(result.waitMs + result.commitMs);
      this.lockWaitsMs.push(result.waitMs);
      this.timeline.addLockWait(result.waitMs);
      if (result.attempts > 1) this.retriedTransactions++;
    });
    engine.on('lock', () => this.timeline.addLock());
    engine.on('job:completed', (summary) => this.completedJobs.add(summary.jobId));
    engine.on('job:failed', (summary, error) => {
      this.failures.push({ jobId: summary.jobId, code: error.code, message: error.message, lock: isLockFailure(error) });
    });
  }

  get lockErrors(): number {
    return this.failures.filter((failure) => failure.lock).length;
  }
}
