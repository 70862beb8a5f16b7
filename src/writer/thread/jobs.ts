/**
 * Each job's line in `job_log`, written by the writer thread: its start (which refuses a league
 * that holds another source's rows, skips a job already complete, or starts one over), its end,
 * and the lock figures of its operations, always in the same transaction as the job's own writes.
 */
import type { WriterStatements } from '../../db/writer-statements.js';
import { BackfillError } from '../../errors.js';
import type { JobStartRequest, JobStartResult, RetryPolicy } from '../protocol.js';
import { emptyOperation, mergeOperation, mergeOperationsJson, type OperationLocks } from './lock-accounting.js';
import type { TransactionRunner } from './transactions.js';

export class JobBookkeeping {
  readonly #tx: TransactionRunner;
  readonly #statements: WriterStatements;
  /** The full retry policy: a job's end must land even with retry_logic off. */
  readonly #retry: RetryPolicy;

  constructor(tx: TransactionRunner, statements: WriterStatements, retry: RetryPolicy) {
    this.#tx = tx;
    this.#statements = statements;
    this.#retry = retry;
  }

  async start(job: JobStartRequest): Promise<JobStartResult> {
    const { value, attempts } = await this.#tx.run('job:start', 'immediate', 'bookkeeping', (_begun, locks) => {
      const s = this.#statements;
      const existing = s.getJob.get(job.jobId) as { status: string; cursor: number | null; source: string | null } | undefined;
      const other = s.otherSource.get(job.leagueKey, job.source) as { source: string; jobs: number; rows: number } | undefined;
      if (other && !job.replaceSource) {
        throw new BackfillError('ERR_SOURCE_MISMATCH',
          `League ${job.leagueKey} already holds ${other.rows} rows from the ${other.source} source (${other.jobs} job${other.jobs === 1 ? '' : 's'} in job_log); ` +
          `this run's source is ${job.source}, and rows of two sources under one league would mix. ` +
          `Run with the ${other.source} source again, use another database, or pass --replace-source (API: replaceSource) ` +
          `to delete the ${other.source} rows of each season as it is fetched again from ${job.source}.`);
      }
      const replacing = existing !== undefined && existing.source !== null && existing.source !== job.source;
      if (existing?.status === 'completed' && !job.force && !replacing) {
        this.writeLocks(job.jobId, locks);
        return { alreadyCompleted: true, cursor: existing.cursor ?? 0, attempts: 0 };
      }
      const restart = job.force || replacing;
      if (replacing) s.deleteJobRows.run(job.jobId);
      const now = new Date().toISOString();
      s.startJob.run({ jobId: job.jobId, leagueKey: job.leagueKey, season: job.season, source: job.source, force: restart ? 1 : 0, now });
      // A job that starts over records its rejected records again as it goes.
      if (restart) s.clearRejected.run(job.jobId);
      this.writeLocks(job.jobId, locks);
      return { alreadyCompleted: false, cursor: restart ? 0 : (existing?.cursor ?? 0), attempts: 0 };
    }, { jobId: job.jobId });
    return { ...value, attempts };
  }

  async end(jobId: string, status: 'failed' | 'cancelled', error: string | null): Promise<{ attempts: number }> {
    // Recording the end is bookkeeping that must land even with retry_logic off, or a failed
    // job would still read `running`: it always gets the full retry policy. A job that
    // completed stays completed: its last batch said so, in the same transaction as its rows.
    const { attempts } = await this.#tx.run('job:end', 'immediate', 'bookkeeping', (_begun, locks) => {
      this.writeLocks(jobId, locks);
      this.#statements.endJob.run({ jobId, status, error, now: new Date().toISOString() });
    }, { policy: this.#retry, jobId });
    this.#tx.unwritten.delete(jobId);
    return { attempts };
  }

  /** Writes an operation's lock figures (and any kept from its job's failed operations) into job_log. */
  writeLocks(jobId: string, locks: OperationLocks): void {
    const figures = emptyOperation();
    const kept = this.#tx.unwritten.get(jobId);
    if (kept) mergeOperation(figures, kept);
    mergeOperation(figures, locks);
    if (figures.count === 0 && figures.retries === 0) return;
    const stored = (this.#statements.getOperations.get(jobId) as { lock_operations: string | null } | undefined)?.lock_operations ?? null;
    this.#statements.addLocks.run({
      jobId,
      count: figures.count,
      maxRetry: figures.retries,
      retrySeconds: figures.waitMs / 1000,
      operations: mergeOperationsJson(stored, figures.operations),
    });
    if (kept) this.#tx.onCommit(() => this.#tx.unwritten.delete(jobId));
  }
}
