/**
 * The writer pump: takes every batch waiting in the queue and hands it to the writer as one
 * group commit, one group at a time, so the writer is never idle while batches wait and never
 * has more than one group to work on.
 */
import { BackfillError } from '../errors.js';
import type { BatchQueue } from '../queue/batch-queue.js';
import type { WriterHandle } from '../writer/writer.js';
import type { BatchMessage, BatchResult } from '../writer/protocol.js';
import type { RunTotals } from './events.js';
import { commitError, toBackfillError } from './failures.js';

/** A batch in the queue, with the promise of its commit. */
export interface QueuedBatch {
  readonly batch: BatchMessage;
  readonly rowCount: number;
  resolve(result: BatchResult): void;
  reject(error: Error): void;
}

export interface PumpContext {
  readonly queue: BatchQueue<QueuedBatch>;
  readonly writer: Pick<WriterHandle, 'commit'>;
  /** Most rows in one group commit. */
  readonly groupMaxRows: number;
  /** Jobs that failed: their batches still queued are dropped, and a failed commit adds its job. */
  readonly failedJobs: Set<string>;
  readonly totals: RunTotals;
}

/**
 * Runs until the queue is closed and empty. Never rejects: each batch's failure goes to its own promise.
 *
 * The writer may keep the tail of a group that did not fit its transaction (the batches past
 * CommitResult's last outcome) to write it first in the next one, with what arrived meanwhile: beside other
 * processes every transaction costs a gap, and that tail alone would be a transaction of a few
 * milliseconds that costs a whole gap. Those batches stay here, in `carried`, until their
 * outcome comes back, and the next group is sent without waiting for the queue.
 */
export async function runPump(context: PumpContext): Promise<void> {
  const { queue, writer, failedJobs, totals } = context;
  let carried: QueuedBatch[] = [];
  for (;;) {
    let taken: QueuedBatch[];
    if (carried.length === 0) {
      const next = await queue.take(context.groupMaxRows);
      if (next === null) return;
      taken = next;
    } else {
      taken = queue.takeWaiting(context.groupMaxRows - carried.reduce((sum, item) => sum + item.rowCount, 0));
    }
    // A batch of a job that has failed must not commit: its cursor would skip the page that failed.
    const fresh = taken.filter((item) => {
      if (!failedJobs.has(item.batch.jobId)) return true;
      item.reject(new BackfillError('ERR_JOB_FAILED', `Job ${item.batch.jobId} failed earlier; batch dropped`));
      return false;
    });
    if (fresh.length === 0 && carried.length === 0) continue;
    const items = carried.concat(fresh);
    try {
      const result = await writer.commit(fresh.map((item) => item.batch));
      totals.transactions += result.transactions;
      totals.maxLockHoldMs = Math.max(totals.maxLockHoldMs, result.maxHoldMs);
      result.outcomes.forEach((outcome, index) => {
        const item = items[index]!;
        if (outcome.ok) {
          item.resolve(outcome);
        } else {
          failedJobs.add(outcome.jobId);
          item.reject(commitError(outcome.error));
        }
      });
      carried = items.slice(result.outcomes.length);
    } catch (error) {
      for (const item of items) {
        failedJobs.add(item.batch.jobId);
        item.reject(toBackfillError(error));
      }
      carried = [];
    }
  }
}
