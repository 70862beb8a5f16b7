/**
 * The writer thread: the only write connection the engine opens. Messages are handled one at
 * a time, in order, so every write of the process is serialised here and no two of them can
 * contend for SQLite's lock. Locks caused by other processes are waited out, retried,
 * counted in job_log and reported to the main thread; and while other processes use the file,
 * the writer leaves the lock free between its transactions so that they get their turn
 * (thread/neighbours.ts).
 *
 * This file is a thread entry: it is never exported from the package.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import type { Database, Statement } from 'better-sqlite3';
import { acquireWriterLease, leasePathOf, removeLeaseFile, type WriterLease } from '../db/lease.js';
import { describeHolders, findLockHolders, writeLockHolders } from '../db/locking/lock-holders.js';
import { WAITED_CODE, withLockRetry, type LockMet, type LockRetryFailure } from '../db/locking/lock-retry.js';
import { pinnedFrames, readWalIndex } from '../db/doctor/wal-index.js';
import { checkDatabasePath, openDatabase } from '../db/open.js';
import { insertTransactionSql, WRITER_TABLES } from '../db/schema.js';
import { BackfillError, DatabaseLockedError, isLockError, serializeError } from '../errors.js';
import type { Flags } from '../flags/index.js';
import { sleep } from '../util/sleep.js';
import { connectionBusyTimeout, LOCK_WAITERS } from '../db/locking/lock-waiters.js';
import { NO_RETRY_POLICY } from '../db/locking/retry-policy.js';
import { CheckpointPolicy, type CheckpointResult, type PinningReader, type WalPin } from './thread/checkpoint-policy.js';
import { CommitBudget } from './thread/commit-budget.js';
import {
  copyMinute, countLock, emptyMinute, emptyOperation, mergeOperation, mergeOperationsJson, subtractMinute,
  type HolderWait, type MinuteFigures, type OperationLocks,
} from './thread/lock-accounting.js';
import { NeighbourPolicy } from './thread/neighbours.js';
import type {
  AlertRecord,
  BatchMessage,
  BatchOutcome,
  CheckpointInfo,
  CheckpointMode,
  CommitResult,
  ExecResult,
  JobStartRequest,
  JobStartResult,
  LockInfo,
  RetryPolicy,
  TransactionMode,
  WriterConfig,
  WriterNotice,
  WriterRequest,
} from './protocol.js';
import type { RowTuple } from '../model/index.js';

const port = parentPort;
if (!port) throw new Error('writer-thread.js must run as a worker thread');
const config = workerData as WriterConfig;
const notify = (notice: WriterNotice): void => port.postMessage(notice);

/** How often the writer looks at its neighbours' commits (and a pinned WAL) during a gap (ms). */
const GAP_STEP_MS = 2;

/** What kind of write begins a transaction: it decides how BEGIN is spelled (see #begin). */
type WriteKind = 'batch' | 'submit' | 'bookkeeping' | 'session';

interface LockedOperation<T> {
  value: T;
  attempts: number;
  /** Time until the lock was held, when a lock was met (ms); else 0. */
  waitMs: number;
  /** BEGIN to the end of COMMIT (ms). */
  holdMs: number;
}

interface RetryOptions {
  policy?: RetryPolicy;
  /** The job this operation's lock figures are charged to. */
  jobId?: string | null;
  /** Leave the transaction open after the body (interactive sessions). */
  keepOpen?: boolean;
}

class WriterThread {
  readonly #db: Database;
  readonly #lease: WriterLease;
  readonly #flags: Flags;
  readonly #statements: ReturnType<typeof prepareStatements>;
  readonly #walPath: string;
  /** Device and inode of the database file when it was opened (null for :memory:). */
  readonly #identity: string | null;
  readonly #neighbours: NeighbourPolicy;
  readonly #checkpoints: CheckpointPolicy;
  readonly #budget: CommitBudget;
  /** Aborted by the main thread when the engine stops: backoff sleeps end at once. */
  readonly #stopping = new AbortController();
  /** Lock figures of operations that failed, kept until their job's next write (at the latest its end). */
  readonly #unwritten = new Map<string, OperationLocks>();
  /** Figures of the current minute, written with the next transaction: rolled back with it if it fails. */
  #minute: MinuteFigures = emptyMinute();
  /** Alerts and state changes for other processes, written with the next transaction. */
  #pendingAlerts: Array<AlertRecord & { at: string }> = [];
  #pendingPin: { value: WalPin | null } | undefined;
  /** Holders seen at the first busy try of the current wait (see LockWaitContext.onBusy). */
  #waitHolders: HolderWait[] = [];
  #holdersReadAt = Number.NEGATIVE_INFINITY;
  #cachedHolders: HolderWait[] = [];
  /** The open interactive transaction, if any. */
  #session: { id: number; end: () => void } | undefined;
  /** Frames the last checkpoint had copied: a quiet look that moved them is reported after all. */
  #lastCheckpointed = -1;
  /** Why the last session ended, for a late message of it. */
  readonly #endedSessions = new Map<number, string>();
  /** Bookkeeping that may only happen once the current transaction has committed, or that undoes itself when it rolled back. */
  #afterCommit: Array<() => void> = [];
  #afterRollback: Array<() => void> = [];

  constructor() {
    // The path's own problems (not a database, a folder, no such folder) are named first, and
    // leave nothing behind; then the lease: a second engine must fail before it migrates or
    // writes anything.
    const inMemory = config.path === ':memory:' || config.path === '';
    if (!inMemory) {
      checkDatabasePath(config.path, { createFolder: config.createFolder });
      if (config.createFolder) mkdirSync(dirname(resolve(config.path)), { recursive: true });
    }
    const leaseExisted = inMemory || existsSync(leasePathOf(config.path));
    this.#lease = acquireWriterLease(config.path);
    try {
      const opened = openDatabase({
        path: config.path,
        flags: config.flags,
        workload: config.workload,
        createFolder: config.createFolder,
        busyTimeoutMs: connectionBusyTimeout(config.lockWait, config.busyTimeoutMs),
        journalSizeLimit: config.journalSizeLimit,
        walAutocheckpointPages: config.walAutocheckpointPages,
        tables: config.tables,
      });
      this.#db = opened.db;
      this.#flags = opened.settings.effectiveFlags;
      this.#statements = prepareStatements(this.#db, config);
      this.#walPath = `${config.path}-wal`;
      this.#identity = fileIdentity(config.path);
      this.#budget = new CommitBudget({ budgetMs: config.transactionBudgetMs });
      this.#neighbours = new NeighbourPolicy({ gapMs: config.neighbourGapMs, windowMs: config.transactionBudgetMs }, {
        othersHaveFileOpen: () => findLockHolders(config.path).some((holder) => !holder.self),
        dataVersion: () => Number(this.#db.pragma('data_version', { simple: true })),
        now: () => performance.now(),
      });
      this.#checkpoints = new CheckpointPolicy({ thresholdBytes: config.checkpointThresholdBytes, restartWaitMs: config.transactionBudgetMs }, {
        walBytes: () => this.#walBytes(),
        passive: (quiet) => toResult(this.#checkpoint('PASSIVE', quiet)),
        restart: (waitMs) => this.#restart(waitMs),
        pinningReaders: () => pinningReaders(config.path),
        alert: (level, message, figures) => this.#raise({ level, message, figures }),
        recordPin: (pin) => {
          this.#pendingPin = { value: pin };
        },
        now: () => performance.now(),
        isoNow: () => new Date().toISOString(),
      });
      for (const warning of opened.settings.warnings) notify({ type: 'log', level: 'warn', message: warning });
      this.#recordWriterState({ pid: process.pid, host: hostname(), command: processCommand(), startedAt: new Date().toISOString() });
      notify({ type: 'ready', settings: opened.settings, migration: opened.migration });
    } catch (error) {
      this.#lease.release();
      // A database that could not be opened gets no lease file left beside it.
      if (!leaseExisted) removeLeaseFile(config.path);
      throw error;
    }
  }

  get #retry(): RetryPolicy {
    return this.#flags.retry_logic ? config.retry : NO_RETRY_POLICY;
  }

  async handle(request: Exclude<WriterRequest, { type: 'tx:begin' | 'tx:run' | 'tx:end' | 'abort' }>): Promise<unknown> {
    switch (request.type) {
      case 'commit':
        return this.#commit(request.batches);
      case 'job:start':
        return this.#startJob(request.job);
      case 'job:end':
        return this.#endJob(request.jobId, request.status, request.error);
      case 'exec':
        return this.#exec(request.sql, request.params, request.mode);
      case 'checkpoint':
        return this.#checkpoint(request.mode);
      case 'alert':
        this.#pendingAlerts.push({ ...request.alert, at: new Date().toISOString() });
        return null;
      case 'close':
        return this.#close();
    }
  }

  abort(): void {
    this.#stopping.abort(new BackfillError('ERR_ABORTED', 'The engine is closing'));
  }

  // ---- batches -----------------------------------------------------------------------------

  /**
   * Group commit: every batch the main thread had waiting arrives in one message and is
   * committed in as few transactions as the lock budget allows. Commits, not rows, are what
   * cost, so this is where throughput comes from. A group is cut only after a page's last
   * batch: a page's rows and its rejected records commit together with its cursor, so a crash
   * can never leave half a page behind to be fetched and rejected again.
   */
  async #commit(batches: BatchMessage[]): Promise<CommitResult> {
    this.#assertSameFile();
    // Rows are decoded before the lock is taken: the work overlaps the gap left to the
    // neighbours (or the previous checkpoint) instead of lengthening the hold.
    const decoded = batches.map((batch) => JSON.parse(batch.rows) as RowTuple[]);
    const outcomes: BatchOutcome[] = [];
    let transactions = 0;
    let maxHoldMs = 0;
    let next = 0;
    while (next < batches.length) {
      const start = next;
      const chargedJob = batches[start]!.jobId;
      try {
        const { value, attempts, waitMs, holdMs } = await this.#withLockRetry('commit', 'immediate', 'batch', (begun, locks) => {
          const done: BatchOutcome[] = [];
          let index = start;
          let insertMs = 0;
          let pageMs = 0;
          let pageStart = performance.now();
          for (;;) {
            const batch = batches[index]!;
            const before = performance.now();
            done.push(this.#writeBatch(batch, decoded[index]!));
            insertMs += performance.now() - before;
            index++;
            if (index >= batches.length) break;
            if (batch.cursor === null) continue; // never cut inside a page
            // The lock is held until COMMIT returns, and COMMIT writes every page dirtied so
            // far: stop while the next page and the predicted commit still fit the budget.
            pageMs = Math.max(pageMs * 0.5, performance.now() - pageStart);
            pageStart = performance.now();
            if (!this.#budget.hasRoom(performance.now() - begun, insertMs, pageMs)) break;
          }
          this.#writeJobLocks(chargedJob, locks);
          const rows = done.reduce((sum, outcome) => sum + (outcome.ok ? outcome.rowCount : 0), 0);
          this.#writeMinute(index - start, rows, performance.now() - begun);
          return { done, end: index, insertMs };
        }, { jobId: chargedJob });
        for (const outcome of value.done) {
          if (outcome.ok) {
            outcome.attempts = attempts;
            outcome.waitMs = waitMs;
            outcome.commitMs = holdMs;
          }
          outcomes.push(outcome);
        }
        next = value.end;
        transactions++;
        maxHoldMs = Math.max(maxHoldMs, holdMs);
      } catch (error) {
        // The transaction rolled back as a whole, and SQLite does not say which batch caused a
        // non-lock error (a full disk fails them all alike): fail every batch not yet committed.
        // The main thread fails their jobs; they resume from their last committed cursor.
        const serialized = serializeError(error);
        for (let index = start; index < batches.length; index++) {
          outcomes.push({ ok: false, jobId: batches[index]!.jobId, error: serialized });
        }
        this.#recordFailedBatches(batches.length - start);
        next = batches.length;
      }
    }
    return { outcomes, transactions, maxHoldMs };
  }

  #writeBatch(batch: BatchMessage, rows: RowTuple[]): BatchOutcome {
    const s = this.#statements;
    let inserted = 0;
    for (const row of rows) inserted += s.insertRow.run(...row, batch.jobId, batch.season, batch.leagueSeries).changes;
    const now = new Date().toISOString();
    for (const rejected of batch.rejected) s.insertRejected.run(batch.jobId, rejected.raw, rejected.reason, now);
    const ignored = rows.length - inserted;
    s.advanceJob.run({
      jobId: batch.jobId,
      cursor: batch.cursor,
      pages: batch.cursor === null ? 0 : 1,
      fetched: rows.length,
      inserted,
      ignored,
      rejected: batch.rejected.length,
      final: batch.final ? 1 : 0,
      now,
    });
    return { ok: true, jobId: batch.jobId, rowCount: rows.length, inserted, ignored, rejected: batch.rejected.length, attempts: 1, waitMs: 0, commitMs: 0 };
  }

  /**
   * A database file deleted or replaced under an open connection is not an error to SQLite:
   * it goes on writing into the unlinked file, and every row is lost when it closes. So the
   * file is checked before each group of batches, and a change fails them with a clear error.
   */
  #assertSameFile(): void {
    if (this.#identity === null) return;
    const now = fileIdentity(config.path);
    if (now !== this.#identity) {
      throw new BackfillError('ERR_DATABASE_WRITE',
        `The database file ${config.path} was ${now === null ? 'deleted' : 'replaced by another file'} while the engine had it open; ` +
        'nothing more is written to it. Restore the file (or start again on the new one) and run again.');
    }
  }

  // ---- jobs --------------------------------------------------------------------------------

  async #startJob(job: JobStartRequest): Promise<JobStartResult> {
    const { value, attempts } = await this.#withLockRetry('job:start', 'immediate', 'bookkeeping', (_begun, locks) => {
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
        this.#writeJobLocks(job.jobId, locks);
        return { alreadyCompleted: true, cursor: existing.cursor ?? 0, attempts: 0 };
      }
      const restart = job.force || replacing;
      if (replacing) s.deleteJobRows.run(job.jobId);
      const now = new Date().toISOString();
      s.startJob.run({ jobId: job.jobId, leagueKey: job.leagueKey, season: job.season, source: job.source, force: restart ? 1 : 0, now });
      // A job that starts over records its rejected records again as it goes.
      if (restart) s.clearRejected.run(job.jobId);
      this.#writeJobLocks(job.jobId, locks);
      return { alreadyCompleted: false, cursor: restart ? 0 : (existing?.cursor ?? 0), attempts: 0 };
    }, { jobId: job.jobId });
    return { ...value, attempts };
  }

  async #endJob(jobId: string, status: 'failed' | 'cancelled', error: string | null): Promise<{ attempts: number }> {
    // Recording the end is bookkeeping that must land even with retry_logic off, or a failed
    // job would still read `running`: it always gets the full retry policy. A job that
    // completed stays completed: its last batch said so, in the same transaction as its rows.
    const { attempts } = await this.#withLockRetry('job:end', 'immediate', 'bookkeeping', (_begun, locks) => {
      this.#writeJobLocks(jobId, locks);
      this.#statements.endJob.run({ jobId, status, error, now: new Date().toISOString() });
    }, { policy: config.retry, jobId });
    this.#unwritten.delete(jobId);
    return { attempts };
  }

  /** Writes an operation's lock figures (and any kept from its job's failed operations) into job_log. */
  #writeJobLocks(jobId: string, locks: OperationLocks): void {
    const figures = emptyOperation();
    const kept = this.#unwritten.get(jobId);
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
    if (kept) this.#afterCommit.push(() => this.#unwritten.delete(jobId));
  }

  // ---- other writes ------------------------------------------------------------------------

  async #exec(sql: string, params: unknown[][], mode: TransactionMode): Promise<ExecResult> {
    const { value } = await this.#withLockRetry('submit', mode, 'submit', () => {
      const statement = this.#db.prepare(sql);
      let changes = 0;
      let lastInsertRowid: number | undefined;
      for (const set of params.length === 0 ? [[]] : params) {
        const result = statement.run(...set);
        changes += result.changes;
        // SQLite keeps the last rowid of the connection, whatever the statement: it means
        // something only when this statement inserted.
        if (result.changes > 0 && /^\s*(INSERT|REPLACE)\b/i.test(sql)) lastInsertRowid = Number(result.lastInsertRowid);
      }
      this.#writeMinute(0, 0, 0);
      return lastInsertRowid === undefined ? { changes } : { changes, lastInsertRowid };
    });
    return value;
  }

  // ---- interactive transactions ------------------------------------------------------------

  /**
   * Opens a transaction that a caller drives statement by statement (serializable()). Only the
   * BEGIN is retried on a lock: statements after it belong to the caller. The writer serves
   * nothing else until the caller ends it, so the timeout bounds how long a careless caller
   * can keep every other write waiting. Every later message must carry the session's id: a
   * statement that arrives after its session timed out must not run in the next one.
   */
  async beginSession(id: number, mode: TransactionMode, timeoutMs: number): Promise<{ ended: Promise<void> }> {
    await this.#withLockRetry('serializable', mode, 'session', () => undefined, { keepOpen: true });
    let end!: () => void;
    const ended = new Promise<void>((resolve) => {
      end = resolve;
    });
    const timer = setTimeout(() => {
      if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
      this.#closeSession(id, `it was still open after ${timeoutMs} ms and was rolled back`);
      notify({ type: 'log', level: 'warn', message: `serializable transaction ${id} was still open after ${timeoutMs} ms and was rolled back` });
    }, timeoutMs);
    this.#session = { id, end: () => { clearTimeout(timer); end(); } };
    return { ended };
  }

  #closeSession(id: number, why: string): void {
    const session = this.#session;
    if (session?.id !== id) return;
    this.#session = undefined;
    this.#endedSessions.set(id, why);
    // Remember a few, for clear messages; the ids only grow.
    for (const key of this.#endedSessions.keys()) {
      if (this.#endedSessions.size <= 16) break;
      this.#endedSessions.delete(key);
    }
    this.#neighbours.lockReleased();
    session.end();
  }

  #assertSession(id: number): void {
    if (this.#session?.id === id && this.#db.inTransaction) return;
    const why = this.#endedSessions.get(id) ?? 'it already ended';
    throw new BackfillError('ERR_TRANSACTION_CLOSED', `The serializable transaction ${id} is no longer open (${why}); nothing more runs in it, and it did not commit.`);
  }

  runInSession(id: number, sql: string, params: unknown[], returnRows: boolean): ExecResult | Array<Record<string, unknown>> {
    this.#assertSession(id);
    const statement = this.#db.prepare(sql);
    if (returnRows && statement.reader) return statement.all(...params) as Array<Record<string, unknown>>;
    const result = statement.run(...params);
    return result.changes > 0 && /^\s*(INSERT|REPLACE)\b/i.test(sql)
      ? { changes: result.changes, lastInsertRowid: Number(result.lastInsertRowid) }
      : { changes: result.changes };
  }

  endSession(id: number, commit: boolean): null {
    this.#assertSession(id);
    try {
      this.#db.exec(commit ? 'COMMIT' : 'ROLLBACK');
    } catch (error) {
      if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
      this.#closeSession(id, `its ${commit ? 'COMMIT' : 'ROLLBACK'} failed: ${(error as Error).message}`);
      throw error;
    }
    this.#closeSession(id, commit ? 'it committed' : 'it was rolled back');
    return null;
  }

  // ---- locks and retries -------------------------------------------------------------------

  /**
   * Runs `body` in one transaction, retrying the whole transaction on SQLITE_BUSY/LOCKED through
   * the one retry loop (db/locking/lock-retry.ts). Only lock errors are retried: anything else
   * rolls back and fails at once. The body gets the time the lock was taken and the operation's
   * lock figures so far, to write them in the same transaction.
   */
  async #withLockRetry<T>(
    operation: string,
    mode: TransactionMode,
    kind: WriteKind,
    body: (begunAt: number, locks: OperationLocks) => T,
    { policy = this.#retry, jobId = null, keepOpen = false }: RetryOptions = {},
  ): Promise<LockedOperation<T>> {
    const locks = emptyOperation();
    let holdMs = 0;
    const outcome = await withLockRetry({
      policy,
      waitThresholdMs: config.lockWaitThresholdMs,
      signal: this.#stopping.signal,
      // A group commit may hold the lock for a whole budget; bookkeeping and submitted writes
      // for about a millisecond, so several of them can share one gap.
      beforeAttempt: () => this.#leaveGap(kind === 'batch' || kind === 'session' ? config.transactionBudgetMs : 1),
      onLock: (lock) => this.#lock(locks, operation, lock, jobId),
      exhausted: (failure) => this.#lockedOut(operation, jobId, locks, failure),
    }, (attempt) => {
      this.#waitHolders = [];
      return this.#begin(mode, kind).then(() => {
        const { lockedAt, waitMs } = attempt.locked();
        locks.retries = attempt.number - 1;
        locks.waitMs = waitMs;
        this.#afterCommit = [];
        this.#afterRollback = [];
        try {
          const result = body(lockedAt, locks);
          if (keepOpen) return result;
          const commitStart = performance.now();
          this.#db.exec('COMMIT');
          const now = performance.now();
          holdMs = now - lockedAt;
          if (kind === 'batch') this.#budget.record((result as { insertMs?: number }).insertMs ?? 0, now - commitStart);
          for (const step of this.#afterCommit) step();
          return result;
        } catch (error) {
          // SQLite may already have rolled back (for example on SQLITE_FULL or a BUSY commit).
          if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
          for (const step of this.#afterRollback) step();
          throw error;
        } finally {
          this.#afterCommit = [];
          this.#afterRollback = [];
          if (!keepOpen) this.#lockReleased();
        }
      });
    });
    if (outcome.locks > 0) {
      // Counted once the operation is over, like job_log's total_retry_time (written with the next transaction).
      this.#minute.lockWaitMs += outcome.waitMs;
      notify({ type: 'operation', info: { operation, attempts: outcome.attempts, waitMs: outcome.waitMs, ok: true, jobId } });
    }
    return { value: outcome.value, attempts: outcome.attempts, waitMs: outcome.waitMs, holdMs };
  }

  /** The error of an operation whose every attempt met a lock; its figures go with its job's next write (or its end). */
  #lockedOut(operation: string, jobId: string | null, locks: OperationLocks, failure: LockRetryFailure): Error {
    const { attempts, waitMs, lastError } = failure;
    locks.retries = attempts - 1;
    locks.waitMs = waitMs;
    if (jobId !== null) {
      const kept = this.#unwritten.get(jobId) ?? emptyOperation();
      mergeOperation(kept, locks);
      this.#unwritten.set(jobId, kept);
    }
    this.#minute.lockWaitMs += waitMs;
    notify({ type: 'operation', info: { operation, attempts, waitMs, ok: false, jobId } });
    this.#holdersReadAt = Number.NEGATIVE_INFINITY;
    const holders = writeLockHolders(findLockHolders(config.path)).filter((holder) => !holder.self);
    const who = holders.length > 0 ? ` Held by: ${describeHolders(holders)}.` : '';
    return new DatabaseLockedError(
      `The database stayed locked by another process through ${attempts} attempt${attempts === 1 ? '' : 's'} over ${(failure.elapsedMs / 1000).toFixed(1)} s ` +
      `(${operation}: ${lastError.message}${this.#flags.retry_logic ? '' : '; retry_logic is off, so the first lock fails'}). ` +
      `Nothing of it was written; stop the other writer or run again later to resume.${who}`,
      { cause: lastError },
    );
  }

  /** Counts one lock of the operation, names who held it, and tells the main thread. */
  #lock(locks: OperationLocks, operation: string, lock: LockMet, jobId: string | null): void {
    const holders = this.#waitHolders.length > 0 ? this.#waitHolders : this.#lockHolders();
    countLock(locks, operation, holders);
    const minute = this.#minute;
    minute.locks++;
    if (lock.retrying) minute.retries++;
    for (const holder of holders) {
      const entry = minute.holders.get(holder.pid) ?? { command: holder.command, waits: 0, waitMs: 0 };
      entry.waits++;
      entry.waitMs += lock.totalWaitMs;
      minute.holders.set(holder.pid, entry);
    }
    const info: LockInfo = {
      operation: lock.code === WAITED_CODE ? `${operation}:begin` : operation,
      attempt: lock.attempt, delayMs: lock.delayMs, waitMs: lock.totalWaitMs, jobIds: jobId === null ? [] : [jobId], code: lock.code,
      holders: holders.map(({ pid, command }) => ({ pid, command, lock: 'write' })),
    };
    notify({ type: 'lock', info });
    if (lock.retrying) notify({ type: 'retry', info });
  }

  /** While other processes use the file, keeps the lock free for a moment before taking it again. */
  async #leaveGap(expectedHoldMs: number): Promise<void> {
    const gap = this.#neighbours.gapBeforeBegin(expectedHoldMs);
    if (gap <= 0) return;
    const started = performance.now();
    const planned = started + gap;
    // The gap is watched every few ms: it goes on while neighbours commit in it (see
    // NeighbourPolicy.gapEnd), and while a reader holds the checkpoint back the writer looks
    // at the WAL, so the copy after that reader lets go is the writer's, not a neighbour's
    // inside its COMMIT (see CheckpointPolicy.inGap).
    for (let now = started; !this.#stopping.signal.aborted; now = performance.now()) {
      const left = this.#neighbours.gapEnd(started, planned) - now;
      if (left <= 0) break;
      if (this.#flags.wal_mode && this.#checkpoints.watching) this.#checkpoints.inGap();
      await sleep(Math.min(left, GAP_STEP_MS), this.#stopping.signal).catch(() => undefined);
    }
    this.#minute.yields++;
    this.#minute.yieldMs += performance.now() - started;
  }

  #lockReleased(): void {
    this.#neighbours.lockReleased();
    this.#minute.neighbourCommits += this.#neighbours.takeNeighbourCommits();
    // Between transactions, never inside one; while neighbours are present this runs in the
    // gap the writer leaves them anyway.
    if (this.#flags.wal_mode) this.#checkpoints.afterTransaction(this.#neighbours.gapDue);
  }

  /** Takes the write lock the way the configured strategy waits for it (see lock-wait.ts). */
  async #begin(mode: TransactionMode, kind: WriteKind): Promise<void> {
    // explicit_transactions decides how batches and submitted writes begin. The writer's own
    // bookkeeping (a job's start and end) reads then writes, and a deferred transaction that
    // upgrades from read to write fails at once when another writer holds the lock (SQLite
    // skips the busy handler there to avoid deadlock): it always begins IMMEDIATE. A
    // serializable() session keeps the mode isolation_levels gave it.
    const legacy = !this.#flags.explicit_transactions && (kind === 'batch' || kind === 'submit');
    const statement = legacy || mode === 'deferred' ? 'BEGIN' : mode === 'exclusive' ? 'BEGIN EXCLUSIVE' : 'BEGIN IMMEDIATE';
    // A deferred BEGIN takes no lock: the wait happens at the first write, inside SQLite.
    if (statement === 'BEGIN') {
      this.#db.exec(statement);
      return;
    }
    // Without pragma_optimizations there is no busy wait at all (the legacy behaviour), whatever the strategy.
    const deadlineMs = this.#flags.pragma_optimizations ? config.lockWaitDeadlineMs : 0;
    await LOCK_WAITERS[config.lockWait]({
      db: this.#db, statement, deadlineMs,
      onBusy: () => {
        this.#holdersReadAt = Number.NEGATIVE_INFINITY;
        this.#waitHolders = this.#lockHolders();
      },
    });
  }

  /**
   * Who holds the write lock, from /proc/locks. Read at most every 100 ms: a lock storm must
   * not turn into a storm of /proc reads on the writer's hot path.
   */
  #lockHolders(): HolderWait[] {
    const now = performance.now();
    if (now - this.#holdersReadAt > 100) {
      this.#holdersReadAt = now;
      this.#cachedHolders = writeLockHolders(findLockHolders(config.path))
        .filter((holder) => !holder.self)
        .map(({ pid, command }) => ({ pid, command }));
    }
    return this.#cachedHolders;
  }

  /** Writes the minute's figures (and pending alerts and state) inside the current transaction. */
  #writeMinute(batches: number, rows: number, holdMs: number): void {
    const minute = Math.floor(Date.now() / 60_000);
    const written = copyMinute(this.#minute);
    const checkpoints = this.#checkpoints.takeFigures();
    const s = this.#statements;
    s.addMetrics.run({
      minute, batches, rows, failed: 0, locks: written.locks, retries: written.retries, lockWaitMs: written.lockWaitMs, holdMs,
      walBytes: checkpoints.maxWalBytes, checkpoints: checkpoints.checkpoints, blocked: checkpoints.blocked,
      yields: written.yields, yieldMs: written.yieldMs, neighbourCommits: written.neighbourCommits,
    });
    for (const [pid, holder] of written.holders) s.addHolder.run({ minute, pid, command: holder.command, waits: holder.waits, waitMs: holder.waitMs });
    const alerts = this.#pendingAlerts.splice(0);
    for (const alert of alerts) s.addAlert.run(alert.at, alert.level, alert.message, JSON.stringify(alert.figures));
    const pin = this.#pendingPin;
    this.#pendingPin = undefined;
    if (pin) s.setState.run('wal_pin', JSON.stringify(pin.value), new Date().toISOString());
    this.#afterCommit.push(() => subtractMinute(this.#minute, written));
    // Rolled back: the alerts and the pin go with the next transaction.
    this.#afterRollback.push(() => {
      this.#pendingAlerts.unshift(...alerts);
      this.#pendingPin ??= pin;
    });
  }

  /** A failed batch is counted in its own small transaction; if even that is locked out, the count is lost (best effort). */
  #recordFailedBatches(count: number): void {
    if (count === 0) return;
    try {
      const minute = Math.floor(Date.now() / 60_000);
      this.#db.transaction(() => {
        this.#statements.addMetrics.run({
          minute, batches: 0, rows: 0, failed: count, locks: 0, retries: 0, lockWaitMs: 0, holdMs: 0,
          walBytes: 0, checkpoints: 0, blocked: 0, yields: 0, yieldMs: 0, neighbourCommits: 0,
        });
      }).immediate();
    } catch {
      // Metrics are best effort; the batch failure itself reaches the caller.
    }
  }

  #raise(alert: AlertRecord): void {
    this.#pendingAlerts.push({ ...alert, at: new Date().toISOString() });
    notify({ type: 'alert', ...alert });
  }

  #recordWriterState(value: Record<string, unknown> | null): void {
    try {
      this.#db.transaction(() => this.#statements.setState.run('writer', JSON.stringify(value), new Date().toISOString())).immediate();
    } catch (error) {
      if (!isLockError(error)) throw error;
      // Informational: another process held the lock past busy_timeout at start or close.
    }
  }

  // ---- checkpoints -------------------------------------------------------------------------

  #walBytes(): number {
    try {
      return statSync(this.#walPath).size;
    } catch {
      return 0;
    }
  }

  /** RESTART with a bounded wait for readers; null when the lock could not be had in time. */
  #restart(waitMs: number): CheckpointResult | null {
    const busyTimeout = Number(this.#db.pragma('busy_timeout', { simple: true }));
    this.#db.pragma(`busy_timeout = ${Math.max(1, Math.floor(waitMs))}`);
    try {
      return toResult(this.#checkpoint('RESTART'));
    } catch (error) {
      if (isLockError(error)) return null;
      throw error;
    } finally {
      this.#db.pragma(`busy_timeout = ${busyTimeout}`);
      // RESTART held the write lock while it waited for readers: the gap owed to the
      // neighbours starts now, not at the commit before it.
      this.#neighbours.lockReleased();
    }
  }

  /** `quiet`: a look that copied nothing is not reported (the policy looks often while a reader pins the WAL). */
  #checkpoint(mode: CheckpointMode, quiet = false): CheckpointInfo {
    const walBytesBefore = this.#walBytes();
    const started = performance.now();
    const [result] = this.#db.pragma(`wal_checkpoint(${mode})`) as Array<{ busy: number; log: number; checkpointed: number }>;
    const info: CheckpointInfo = {
      mode,
      busy: (result?.busy ?? 0) !== 0,
      walPages: result?.log ?? 0,
      checkpointedPages: result?.checkpointed ?? 0,
      walBytesBefore,
      durationMs: performance.now() - started,
    };
    if (!quiet || info.checkpointedPages !== this.#lastCheckpointed) notify({ type: 'checkpoint', info });
    this.#lastCheckpointed = info.checkpointedPages;
    return info;
  }

  #close(): null {
    try {
      // Figures and alerts still pending are written in one last small transaction.
      if (this.#pendingAlerts.length > 0 || this.#pendingPin || this.#minute.locks > 0 || this.#minute.yields > 0) {
        try {
          this.#db.transaction(() => this.#writeMinute(0, 0, 0)).immediate();
        } catch {
          // best effort
        }
      }
      this.#recordWriterState(null);
      if (this.#flags.wal_mode) this.#checkpoint('PASSIVE');
      this.#db.pragma('optimize');
    } finally {
      this.#db.close();
      this.#lease.release();
    }
    return null;
  }
}

function toResult(info: CheckpointInfo): CheckpointResult {
  return { busy: info.busy, walFrames: info.walPages, checkpointedFrames: info.checkpointedPages };
}

/**
 * Other processes in a read transaction (a read lock on one of the five read-mark slots of the
 * -shm file), the one that holds back the most frames first. Which slot a reader holds comes
 * from /proc/locks; where that slot's snapshot ends, from the WAL index header: a notebook's
 * old snapshot holds back more than a dashboard's fresh one, so it is named, not the dashboard.
 * Slot 0 counts too: its reader reads the database file itself, which no checkpoint may
 * overwrite under it.
 */
function pinningReaders(path: string): PinningReader[] {
  const header = readWalIndex(path);
  const best = new Map<number, { reader: PinningReader; frames: number }>();
  for (const holder of findLockHolders(path)) {
    if (holder.self || holder.file !== 'shm' || holder.type !== 'READ') continue;
    const end = Math.min(holder.end ?? 127, 127);
    for (let byte = Math.max(holder.start, 123); byte <= end; byte++) {
      const frames = header === null ? 0 : pinnedFrames(header, byte - 123);
      const known = best.get(holder.pid);
      if (!known || frames > known.frames) best.set(holder.pid, { reader: { pid: holder.pid, command: holder.command }, frames });
    }
  }
  return [...best.values()].sort((a, b) => b.frames - a.frames).map((entry) => entry.reader);
}

function fileIdentity(path: string): string | null {
  if (path === ':memory:' || path === '') return null;
  try {
    const stats = statSync(path);
    return `${stats.dev}:${stats.ino}`;
  } catch {
    return null;
  }
}

/** The process's command line (a worker thread's process.argv names its own entry file). */
function processCommand(): string {
  try {
    return readFileSync('/proc/self/cmdline', 'utf8').split('\0').filter(Boolean).join(' ').slice(0, 200);
  } catch {
    return process.title.slice(0, 200);
  }
}

function prepareStatements(db: Database, cfg: WriterConfig): Record<string, Statement> & {
  insertRow: Statement; insertRejected: Statement; getJob: Statement; otherSource: Statement; deleteJobRows: Statement; clearRejected: Statement;
  startJob: Statement; advanceJob: Statement; endJob: Statement; getOperations: Statement; addLocks: Statement; addMetrics: Statement;
  addHolder: Statement; addAlert: Statement; setState: Statement;
} {
  const t = cfg.tables;
  return {
    insertRow: db.prepare(insertTransactionSql(t.transactions)),
    insertRejected: db.prepare(`INSERT INTO ${t.rejectedRows} (job_id, raw, reason, rejected_at) VALUES (?, ?, ?, ?)`),
    getJob: db.prepare(`SELECT status, cursor, source FROM ${t.jobLog} WHERE job_id = ?`),
    // Jobs of the same league (its key across seasons) written from another source.
    otherSource: db.prepare(`SELECT source, count(*) AS jobs, sum(rows_inserted) AS rows FROM ${t.jobLog}
      WHERE league_key = ? AND source IS NOT NULL AND source <> ? AND rows_inserted > 0 GROUP BY source ORDER BY rows DESC LIMIT 1`),
    deleteJobRows: db.prepare(`DELETE FROM ${t.transactions} WHERE job_id = ?`),
    clearRejected: db.prepare(`DELETE FROM ${t.rejectedRows} WHERE job_id = ?`),
    startJob: db.prepare(`INSERT INTO ${t.jobLog} (job_id, job_type, league_key, season, source, status, cursor, runs, created_at, started_at, updated_at)
      VALUES (@jobId, 'transactions', @leagueKey, @season, @source, 'running', 0, 1, @now, @now, @now)
      ON CONFLICT (job_id) DO UPDATE SET status = 'running', runs = coalesce(runs, 0) + 1, error = NULL, finished_at = NULL,
        started_at = @now, updated_at = @now, league_key = @leagueKey, season = @season, source = @source,
        cursor = CASE WHEN @force THEN 0 ELSE coalesce(cursor, 0) END,
        pages_fetched = CASE WHEN @force THEN 0 ELSE pages_fetched END,
        rows_fetched = CASE WHEN @force THEN 0 ELSE rows_fetched END,
        rows_inserted = CASE WHEN @force THEN 0 ELSE rows_inserted END,
        rows_ignored = CASE WHEN @force THEN 0 ELSE rows_ignored END,
        rows_rejected = CASE WHEN @force THEN 0 ELSE rows_rejected END`),
    // The cursor only moves forward: a batch can never take a job back to an older page.
    advanceJob: db.prepare(`UPDATE ${t.jobLog} SET cursor = max(coalesce(cursor, 0), coalesce(@cursor, cursor, 0)), pages_fetched = pages_fetched + @pages,
      rows_fetched = rows_fetched + @fetched, rows_inserted = rows_inserted + @inserted, rows_ignored = rows_ignored + @ignored,
      rows_rejected = rows_rejected + @rejected,
      status = CASE WHEN @final THEN 'completed' ELSE status END,
      finished_at = CASE WHEN @final THEN @now ELSE finished_at END, updated_at = @now
      WHERE job_id = @jobId`),
    // Ending a job is idempotent, and a completed job stays completed.
    endJob: db.prepare(`UPDATE ${t.jobLog} SET status = @status, error = @error, finished_at = @now, updated_at = @now
      WHERE job_id = @jobId AND status <> 'completed'`),
    getOperations: db.prepare(`SELECT lock_operations FROM ${t.jobLog} WHERE job_id = ?`),
    addLocks: db.prepare(`UPDATE ${t.jobLog} SET lock_count = coalesce(lock_count, 0) + @count,
      max_retry_count = max(coalesce(max_retry_count, 0), @maxRetry), total_retry_time = coalesce(total_retry_time, 0) + @retrySeconds,
      lock_operations = @operations WHERE job_id = @jobId`),
    addMetrics: db.prepare(`INSERT INTO ${t.writerMetrics} (minute, transactions, batches, failed_batches, rows, locks, retries, lock_wait_ms, max_hold_ms,
        max_wal_bytes, checkpoints, checkpoints_blocked, yields, yield_ms, neighbour_commits)
      VALUES (@minute, CASE WHEN @batches > 0 THEN 1 ELSE 0 END, @batches, @failed, @rows, @locks, @retries, @lockWaitMs, @holdMs,
        @walBytes, @checkpoints, @blocked, @yields, @yieldMs, @neighbourCommits)
      ON CONFLICT (minute) DO UPDATE SET transactions = transactions + excluded.transactions, batches = batches + excluded.batches,
        failed_batches = failed_batches + excluded.failed_batches, rows = rows + excluded.rows, locks = locks + excluded.locks,
        retries = retries + excluded.retries, lock_wait_ms = lock_wait_ms + excluded.lock_wait_ms,
        max_hold_ms = max(max_hold_ms, excluded.max_hold_ms), max_wal_bytes = max(max_wal_bytes, excluded.max_wal_bytes),
        checkpoints = checkpoints + excluded.checkpoints, checkpoints_blocked = checkpoints_blocked + excluded.checkpoints_blocked,
        yields = yields + excluded.yields, yield_ms = yield_ms + excluded.yield_ms, neighbour_commits = neighbour_commits + excluded.neighbour_commits`),
    addHolder: db.prepare(`INSERT INTO ${WRITER_TABLES.lockHolders} (minute, pid, command, waits, wait_ms) VALUES (@minute, @pid, @command, @waits, @waitMs)
      ON CONFLICT (minute, pid) DO UPDATE SET waits = waits + excluded.waits, wait_ms = wait_ms + excluded.wait_ms, command = excluded.command`),
    addAlert: db.prepare(`INSERT INTO ${WRITER_TABLES.alerts} (at, level, message, figures) VALUES (?, ?, ?, ?)`),
    setState: db.prepare(`INSERT INTO ${WRITER_TABLES.state} (key, value, updated_at) VALUES (?, ?, ?)
      ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`),
  };
}

// ---- message loop ----------------------------------------------------------------------------

let writer: WriterThread;
try {
  writer = new WriterThread();
} catch (error) {
  notify({ type: 'fatal', error: serializeError(error) });
  process.exit(1);
}

let queue: Promise<void> = Promise.resolve();
const reply = (id: number, run: () => unknown): void => {
  try {
    notify({ type: 'result', id, ok: true, value: run() });
  } catch (error) {
    notify({ type: 'result', id, ok: false, error: serializeError(error) });
  }
};
port.on('message', (request: WriterRequest) => {
  // Statements of the open interactive transaction are served at once: the queue is waiting
  // for that transaction to end. So is an abort: it must reach a writer that is waiting.
  if (request.type === 'tx:run') return reply(request.id, () => writer.runInSession(request.sessionId, request.sql, request.params, request.returnRows));
  if (request.type === 'tx:end') return reply(request.id, () => writer.endSession(request.sessionId, request.commit));
  if (request.type === 'abort') return reply(request.id, () => { writer.abort(); return null; });
  queue = queue.then(async () => {
    try {
      if (request.type === 'tx:begin') {
        const { ended } = await writer.beginSession(request.id, request.mode, request.timeoutMs);
        notify({ type: 'result', id: request.id, ok: true, value: { sessionId: request.id } });
        await ended;
        return;
      }
      const value = await writer.handle(request);
      notify({ type: 'result', id: request.id, ok: true, value });
      if (request.type === 'close') port.close();
    } catch (error) {
      notify({ type: 'result', id: request.id, ok: false, error: serializeError(error) });
    }
  });
});
