/**
 * The writer thread: the only write connection the engine opens. Messages are handled one at
 * a time, in order, so every write of the process is serialised here and no two of them can
 * contend for SQLite's lock. Locks caused by other processes are waited out, retried,
 * counted in job_log and reported to the main thread.
 *
 * This file is a thread entry: it is never exported from the package.
 */
import { statSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parentPort, workerData } from 'node:worker_threads';
import pRetry from 'p-retry';
import type { Database, Statement } from 'better-sqlite3';
import { describeHolders, findLockHolders, writeLockHolders } from '../db/lock-holders.js';
import { openDatabase } from '../db/open.js';
import { insertTransactionSql } from '../db/schema.js';
import { BackfillError, DatabaseLockedError, isLockError, serializeError } from '../errors.js';
import type { Flags } from '../flags/index.js';
import { connectionBusyTimeout, LOCK_WAITERS } from './lock-wait.js';
import { NO_RETRY_POLICY, retryDelayMs } from './retry.js';
import type {
  BatchMessage,
  BatchOutcome,
  CheckpointInfo,
  CommitResult,
  JobStartRequest,
  JobStartResult,
  LockInfo,
  RetryPolicy,
  TransactionMode,
  WriterConfig,
  WriterNotice,
  WriterRequest,
} from './protocol.js';
import type { RowTuple } from '../source/types.js';

/** The first wait of a RESTART checkpoint for readers of older snapshots (ms); it doubles while starvation lasts. */
const RESTART_WAIT_MS = 200;

const port = parentPort;
if (!port) throw new Error('writer-thread.js must run as a worker thread');
const config = workerData as WriterConfig;
const notify = (notice: WriterNotice): void => port.postMessage(notice);

interface PendingLocks {
  count: number;
  maxRetry: number;
  retrySeconds: number;
  operations: Record<string, number>;
}

class WriterThread {
  readonly #db: Database;
  readonly #flags: Flags;
  readonly #statements: ReturnType<typeof prepareStatements>;
  /** Lock figures not yet written to job_log: written with the job's next successful commit. */
  readonly #pendingLocks = new Map<string, PendingLocks>();
  /** lock_operations of running jobs, kept here because this thread is job_log's only writer. */
  readonly #lockOperations = new Map<string, Record<string, number>>();
  readonly #walPath: string;
  #lastWalBytes = 0;
  /** Device and inode of the database file when it was opened (null for :memory:). */
  readonly #identity: string | null;
  /** Lock holders as last read (the lock is gone once the writer has it, so they are read while it fails). */
  #holders: LockInfo['holders'] = [];
  #holdersReadAt = Number.NEGATIVE_INFINITY;
  #starvedCheckpoints = 0;
  /** Figures of the current minute, written with the next transaction: rolled back with it if it fails. */
  #metrics = { locks: 0, retries: 0, lockWaitMs: 0 };
  /** The open interactive transaction, if any. */
  #session: { end: () => void } | undefined;
  /** A moving estimate of how long COMMIT takes, so a transaction stops in time to stay within its budget. */
  #commitEstimateMs = 5;
  /** Bookkeeping that may only happen once the current transaction has committed. */
  #afterCommit: Array<() => void> = [];

  constructor() {
    const opened = openDatabase({
      path: config.path,
      flags: config.flags,
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
    for (const warning of opened.settings.warnings) notify({ type: 'log', level: 'warn', message: warning });
    notify({ type: 'ready', settings: opened.settings, migration: opened.migration });
  }

  get #retry() {
    return this.#flags.retry_logic ? config.retry : NO_RETRY_POLICY;
  }

  async handle(request: WriterRequest): Promise<unknown> {
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
      case 'close':
        return this.#close();
      case 'tx:begin':
      case 'tx:run':
      case 'tx:end':
        throw new BackfillError('ERR_INTERNAL', `${request.type} is served by the message loop`);
    }
  }

  // ---- batches -----------------------------------------------------------------------------

  /**
   * Group commit: every batch the main thread had waiting arrives in one message and is
   * committed in as few transactions as the time budget allows. Commits, not rows, are what
   * cost, so this is where throughput comes from.
   */
  async #commit(batches: BatchMessage[]): Promise<CommitResult> {
    this.#assertSameFile();
    const outcomes: BatchOutcome[] = [];
    let transactions = 0;
    let maxHoldMs = 0;
    let next = 0;
    while (next < batches.length) {
      const start = next;
      const jobIds = uniqueJobIds(batches, start);
      try {
        const { value, attempts, waitMs, holdMs } = await this.#withLockRetry('commit', jobIds, 'immediate', (attempt) => {
          const begun = performance.now();
          const done: BatchOutcome[] = [];
          let index = start;
          do {
            done.push(this.#writeBatch(batches[index]!));
            index++;
            // The lock is held until COMMIT returns, and COMMIT writes every dirty page to the
            // WAL: stop early enough for the last measured commit to fit in the budget.
          } while (index < batches.length && performance.now() - begun + this.#commitEstimateMs < config.transactionBudgetMs);
          this.#applyPendingLocks(uniqueJobIds(batches, start, index), attempt);
          this.#writeMetrics(index - start, done.reduce((sum, o) => sum + (o.ok ? o.rowCount : 0), 0), performance.now() - begun);
          return { done, end: index };
        });
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
        // Between transactions, never inside one: the WAL is checked after every commit, so a
        // large group cannot carry it far past its threshold.
        this.#maybeCheckpoint();
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

  #writeBatch(batch: BatchMessage): BatchOutcome {
    const s = this.#statements;
    const rows = JSON.parse(batch.rows) as RowTuple[];
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
    const { value } = await this.#withLockRetry('job:start', [job.jobId], 'immediate', () => {
      const s = this.#statements;
      const existing = s.getJob.get(job.jobId) as { status: string; cursor: number | null; lock_operations: string | null } | undefined;
      if (existing?.status === 'completed' && !job.force) {
        return { alreadyCompleted: true, cursor: existing.cursor ?? 0 };
      }
      const now = new Date().toISOString();
      s.startJob.run({ jobId: job.jobId, leagueKey: job.leagueKey, season: job.season, source: job.source, force: job.force ? 1 : 0, now });
      // A forced job starts over: its rejected records are recorded again as it goes.
      if (job.force) s.clearRejected.run(job.jobId);
      this.#lockOperations.set(job.jobId, parseOperations(existing?.lock_operations ?? null));
      const cursor = job.force ? 0 : (existing?.cursor ?? 0);
      return { alreadyCompleted: false, cursor };
    }, this.#retry, { bookkeeping: true });
    return value;
  }

  async #endJob(jobId: string, status: 'failed' | 'cancelled', error: string | null): Promise<void> {
    // Recording the end is bookkeeping that must land even with retry_logic off, or a failed
    // job would still read `running`: it always gets the full retry policy.
    await this.#withLockRetry('job:end', [jobId], 'immediate', (attempt) => {
      this.#applyPendingLocks([jobId], attempt);
      this.#statements.endJob.run({ jobId, status, error, now: new Date().toISOString() });
    }, config.retry, { bookkeeping: true });
    this.#lockOperations.delete(jobId);
  }

  // ---- other writes ------------------------------------------------------------------------

  async #exec(sql: string, params: unknown[][], mode: TransactionMode): Promise<{ changes: number; lastInsertRowid: number }> {
    const { value } = await this.#withLockRetry('submit', [], mode, () => {
      const statement = this.#db.prepare(sql);
      let changes = 0;
      let lastInsertRowid = 0;
      for (const set of params.length === 0 ? [[]] : params) {
        const result = statement.run(...set);
        changes += result.changes;
        lastInsertRowid = Number(result.lastInsertRowid);
      }
      return { changes, lastInsertRowid };
    });
    return value;
  }

  // ---- interactive transactions ------------------------------------------------------------

  /**
   * Opens a transaction that a caller drives statement by statement (serializable()). Only the
   * BEGIN is retried on a lock: statements after it belong to the caller. The writer serves
   * nothing else until the caller ends it, so the timeout bounds how long a careless caller
   * can keep every other write waiting.
   */
  async beginSession(mode: TransactionMode, timeoutMs: number): Promise<{ ended: Promise<void> }> {
    await this.#withLockRetry('serializable', [], mode, () => undefined, this.#retry, { keepOpen: true });
    let end!: () => void;
    const ended = new Promise<void>((resolve) => {
      end = resolve;
    });
    const timer = setTimeout(() => {
      if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
      this.#session = undefined;
      notify({ type: 'log', level: 'warn', message: `a serializable transaction was still open after ${timeoutMs} ms and was rolled back` });
      end();
    }, timeoutMs);
    this.#session = { end: () => { clearTimeout(timer); this.#session = undefined; end(); } };
    return { ended };
  }

  runInSession(sql: string, params: unknown[], returnRows: boolean): unknown {
    if (!this.#session || !this.#db.inTransaction) throw new BackfillError('ERR_CLOSED', 'The serializable transaction is no longer open (it ended, failed or timed out)');
    const statement = this.#db.prepare(sql);
    if (returnRows && statement.reader) return statement.all(...params);
    const result = statement.run(...params);
    return { changes: result.changes, lastInsertRowid: Number(result.lastInsertRowid) };
  }

  endSession(commit: boolean): void {
    const session = this.#session;
    if (!session) throw new BackfillError('ERR_CLOSED', 'The serializable transaction is no longer open (it ended, failed or timed out)');
    try {
      if (this.#db.inTransaction) this.#db.exec(commit ? 'COMMIT' : 'ROLLBACK');
    } catch (error) {
      if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
      throw error;
    } finally {
      session.end();
    }
  }

  // ---- locks and retries -------------------------------------------------------------------

  /**
   * Runs `body` in one transaction, retrying the whole transaction on SQLITE_BUSY/LOCKED with
   * exponential backoff and jitter. Only lock errors are retried: anything else rolls back and
   * fails at once. Every failed attempt and every long wait is counted as a lock.
   */
  async #withLockRetry<T>(
    operation: string,
    jobIds: string[],
    mode: TransactionMode,
    body: (attempt: number) => T,
    policy: RetryPolicy = this.#retry,
    { keepOpen = false, bookkeeping = false }: { keepOpen?: boolean; bookkeeping?: boolean } = {},
  ): Promise<{ value: T; attempts: number; waitMs: number; holdMs: number }> {
    const started = performance.now();
    let attempts = 0;
    let waitMs = 0;
    let holdMs = 0;
    let value: T;
    const attempt = async (): Promise<T> => {
      attempts++;
      const attemptStart = performance.now();
      await this.#begin(mode, bookkeeping);
      waitMs = performance.now() - attemptStart;
      if (waitMs > config.lockWaitThresholdMs) {
        this.#recordLock({ operation: `${operation}:begin`, attempt: attempts, delayMs: 0, waitMs, jobIds, code: 'SQLITE_BUSY (waited)', holders: [] }, started);
      }
      const lockAcquired = performance.now();
      this.#afterCommit = [];
      try {
        const result = body(attempts);
        if (keepOpen) return result;
        const commitStart = performance.now();
        this.#db.exec('COMMIT');
        const now = performance.now();
        this.#commitEstimateMs = 0.7 * this.#commitEstimateMs + 0.3 * (now - commitStart);
        holdMs = now - lockAcquired;
        for (const step of this.#afterCommit) step();
        return result;
      } catch (error) {
        // SQLite may already have rolled back (for example on SQLITE_FULL or a BUSY commit).
        if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
        throw error;
      } finally {
        this.#afterCommit = [];
      }
    };
    try {
      value = await pRetry(attempt, {
        retries: policy.attempts - 1,
        // The delay is ours (jitter 0.5 to 1.5 around the exponential step, DESIGN section 5);
        // p-retry counts attempts and stops on anything that is not a lock error.
        minTimeout: 0,
        maxTimeout: 0,
        shouldRetry: ({ error }) => isLockError(error),
        onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
          if (!isLockError(error)) return;
          const delayMs = retriesLeft > 0 ? retryDelayMs(policy, attemptNumber) : 0;
          const code = String((error as { code?: string }).code);
          const info: LockInfo = { operation, attempt: attemptNumber, delayMs, waitMs: performance.now() - started, jobIds, code, holders: this.#lockHolders() };
          this.#recordLock(info, started);
          if (retriesLeft > 0) {
            this.#metrics.retries++;
            notify({ type: 'retry', info });
            await sleep(delayMs);
          }
        },
      });
    } catch (error) {
      if (!isLockError(error)) throw error;
      const seconds = ((performance.now() - started) / 1000).toFixed(1);
      this.#holdersReadAt = Number.NEGATIVE_INFINITY;
      const holders = writeLockHolders(findLockHolders(config.path)).filter((holder) => !holder.self);
      const who = holders.length > 0 ? ` Held by: ${describeHolders(holders)}.` : '';
      throw new DatabaseLockedError(
        `The database stayed locked by another process through ${attempts} attempt${attempts === 1 ? '' : 's'} over ${seconds} s ` +
        `(${operation}: ${(error as Error).message}${this.#flags.retry_logic ? '' : '; retry_logic is off, so the first lock fails'}). ` +
        `Nothing of it was written; stop the other writer or run again later to resume.${who}`,
        { cause: error },
      );
    }
    return { value, attempts, waitMs, holdMs };
  }

  /** Takes the write lock the way the configured strategy waits for it (see lock-wait.ts). */
  async #begin(mode: TransactionMode, bookkeeping: boolean): Promise<void> {
    // explicit_transactions decides how batches and submitted writes begin. The writer's own
    // bookkeeping (a job's start and end) reads then writes, and a deferred transaction that
    // upgrades from read to write fails at once when another writer holds the lock (SQLite
    // skips the busy handler there to avoid deadlock): it always begins IMMEDIATE.
    const legacy = !this.#flags.explicit_transactions && !bookkeeping;
    const statement = legacy || mode === 'deferred' ? 'BEGIN' : mode === 'exclusive' ? 'BEGIN EXCLUSIVE' : 'BEGIN IMMEDIATE';
    // A deferred BEGIN takes no lock: the wait happens at the first write, inside SQLite.
    if (statement === 'BEGIN') {
      this.#db.exec(statement);
      return;
    }
    // Without pragma_optimizations there is no busy wait at all (the legacy behaviour), whatever the strategy.
    const deadlineMs = this.#flags.pragma_optimizations ? config.lockWaitDeadlineMs : 0;
    await LOCK_WAITERS[config.lockWait]({ db: this.#db, statement, deadlineMs });
  }

  /**
   * Who holds the write lock, from /proc/locks. Read at most every 250 ms: a lock storm must
   * not turn into a storm of /proc reads on the writer's hot path.
   */
  #lockHolders(): LockInfo['holders'] {
    const now = performance.now();
    if (now - this.#holdersReadAt > 250) {
      this.#holdersReadAt = now;
      this.#holders = writeLockHolders(findLockHolders(config.path))
        .filter((holder) => !holder.self)
        .map(({ pid, command, lock }) => ({ pid, command, lock }));
    }
    return this.#holders;
  }

  #recordLock(info: LockInfo, started: number): void {
    this.#metrics.locks++;
    this.#metrics.lockWaitMs += info.waitMs;
    for (const jobId of info.jobIds) {
      const pending = this.#pendingLocks.get(jobId) ?? { count: 0, maxRetry: 0, retrySeconds: 0, operations: {} };
      pending.count++;
      pending.maxRetry = Math.max(pending.maxRetry, info.attempt - (info.code.includes('waited') ? 1 : 0));
      pending.retrySeconds = Math.max(pending.retrySeconds, (performance.now() - started) / 1000);
      pending.operations[info.operation] = (pending.operations[info.operation] ?? 0) + 1;
      // lock_operations also counts who held the lock, as `holder:pid (command)` keys.
      for (const holder of info.holders) {
        const key = `holder:${holder.pid} (${holder.command.slice(0, 80)})`;
        pending.operations[key] = (pending.operations[key] ?? 0) + 1;
      }
      this.#pendingLocks.set(jobId, pending);
    }
    notify({ type: 'lock', info });
  }

  /** Writes the lock figures gathered for these jobs into job_log, inside the current transaction. */
  #applyPendingLocks(jobIds: Iterable<string>, attempt: number): void {
    for (const jobId of jobIds) {
      const pending = this.#pendingLocks.get(jobId);
      if (!pending) continue;
      const operations = this.#lockOperations.get(jobId) ?? {};
      for (const [name, count] of Object.entries(pending.operations)) operations[name] = (operations[name] ?? 0) + count;
      this.#lockOperations.set(jobId, operations);
      this.#statements.addLocks.run({
        jobId,
        count: pending.count,
        maxRetry: Math.max(pending.maxRetry, attempt - 1),
        retrySeconds: pending.retrySeconds,
        operations: JSON.stringify(operations),
      });
    }
    // Cleared only once the transaction commits; a rollback must not lose them.
    const applied = [...jobIds];
    this.#afterCommit.push(() => {
      for (const jobId of applied) this.#pendingLocks.delete(jobId);
    });
  }

  #writeMetrics(batches: number, rows: number, holdMs: number): void {
    const minute = Math.floor(Date.now() / 60_000);
    const written = { ...this.#metrics };
    this.#statements.addMetrics.run({ minute, batches, rows, failed: 0, locks: written.locks, retries: written.retries, lockWaitMs: written.lockWaitMs, holdMs });
    this.#afterCommit.push(() => {
      this.#metrics.locks -= written.locks;
      this.#metrics.retries -= written.retries;
      this.#metrics.lockWaitMs -= written.lockWaitMs;
    });
  }

  /** A failed batch is counted in its own small transaction; if even that is locked out, the count is kept for the next one. */
  #recordFailedBatches(count: number): void {
    if (count === 0) return;
    try {
      const minute = Math.floor(Date.now() / 60_000);
      this.#db.transaction(() => {
        this.#statements.addMetrics.run({ minute, batches: 0, rows: 0, failed: count, locks: this.#metrics.locks, retries: this.#metrics.retries, lockWaitMs: this.#metrics.lockWaitMs, holdMs: 0 });
      }).immediate();
      this.#metrics = { locks: 0, retries: 0, lockWaitMs: 0 };
    } catch {
      // Metrics are best effort; the batch failure itself reaches the caller.
    }
  }

  // ---- checkpoints -------------------------------------------------------------------------

  /**
   * Checkpoints between transactions once the WAL passes its threshold, so the WAL cannot grow
   * without bound. PASSIVE never waits for readers; when it could copy every frame, RESTART
   * lets the next writer start the WAL from its beginning (and journal_size_limit trims it).
   * A WAL that keeps growing although we checkpoint means a reader holds an old snapshot.
   */
  #maybeCheckpoint(): void {
    if (!this.#flags.wal_mode) return;
    let walBytes = 0;
    try {
      walBytes = statSync(this.#walPath).size;
    } catch {
      return;
    }
    if (walBytes < config.checkpointThresholdBytes) return;
    // PASSIVE never waits: it copies what no reader still needs, and once every frame is
    // copied the next commit starts the WAL over (journal_size_limit trims the file). Under
    // a steady stream of readers that moment may never come, and the WAL only grows: then
    // RESTART, which waits for the readers of older snapshots to finish their statement.
    // It waits through the busy handler, so its wait is cut short to keep the writer moving.
    const passive = this.#checkpoint('PASSIVE');
    let complete = !passive.busy && passive.checkpointedPages >= passive.walPages;
    if (!complete) complete = this.#restartCheckpoint();
    if (complete) {
      this.#starvedCheckpoints = 0;
    } else {
      this.#starvedCheckpoints++;
      if (this.#starvedCheckpoints >= 3 && walBytes > this.#lastWalBytes) {
        notify({
          type: 'alert',
          level: 'warning',
          message: `checkpoint starvation: the WAL grew to ${walBytes} bytes across ${this.#starvedCheckpoints} checkpoints that could not finish; a reader keeps an old snapshot open`,
          figures: { walBytes, starvedCheckpoints: this.#starvedCheckpoints },
        });
      }
    }
    this.#lastWalBytes = walBytes;
  }

  /** RESTART with a short wait for readers; true when the WAL will start over. */
  #restartCheckpoint(): boolean {
    const busyTimeout = Number(this.#db.pragma('busy_timeout', { simple: true }));
    // The wait grows while starvation persists (200 ms, 400 ms, ... up to busy_timeout): readers
    // whose statements overlap and each outlast a short wait would otherwise starve it forever.
    const wait = Math.min(Math.max(busyTimeout, RESTART_WAIT_MS), RESTART_WAIT_MS * 2 ** Math.min(this.#starvedCheckpoints, 5));
    this.#db.pragma(`busy_timeout = ${wait}`);
    try {
      const restart = this.#checkpoint('RESTART');
      return !restart.busy;
    } catch (error) {
      if (isLockError(error)) return false;
      throw error;
    } finally {
      this.#db.pragma(`busy_timeout = ${busyTimeout}`);
    }
  }

  #checkpoint(mode: 'PASSIVE' | 'FULL' | 'RESTART' | 'TRUNCATE'): CheckpointInfo {
    let walBytesBefore = 0;
    try {
      walBytesBefore = statSync(this.#walPath).size;
    } catch {
      // no WAL file: nothing to report
    }
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
    notify({ type: 'checkpoint', info });
    return info;
  }

  #close(): void {
    try {
      if (this.#flags.wal_mode) this.#checkpoint('PASSIVE');
      this.#db.pragma('optimize');
    } finally {
      this.#db.close();
    }
  }
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

function uniqueJobIds(batches: BatchMessage[], start: number, end = batches.length): string[] {
  const ids = new Set<string>();
  for (let index = start; index < end; index++) ids.add(batches[index]!.jobId);
  return [...ids];
}

function parseOperations(text: string | null): Record<string, number> {
  if (!text) return {};
  try {
    const value = JSON.parse(text) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, number>) : {};
  } catch {
    return {};
  }
}

function prepareStatements(db: Database, cfg: WriterConfig): Record<string, Statement> & {
  insertRow: Statement; insertRejected: Statement; getJob: Statement; clearRejected: Statement; startJob: Statement; advanceJob: Statement;
  endJob: Statement; addLocks: Statement; addMetrics: Statement;
} {
  const t = cfg.tables;
  return {
    insertRow: db.prepare(insertTransactionSql(t.transactions)),
    insertRejected: db.prepare(`INSERT INTO ${t.rejectedRows} (job_id, raw, reason, rejected_at) VALUES (?, ?, ?, ?)`),
    getJob: db.prepare(`SELECT status, cursor, lock_operations FROM ${t.jobLog} WHERE job_id = ?`),
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
    advanceJob: db.prepare(`UPDATE ${t.jobLog} SET cursor = coalesce(@cursor, cursor), pages_fetched = pages_fetched + @pages,
      rows_fetched = rows_fetched + @fetched, rows_inserted = rows_inserted + @inserted, rows_ignored = rows_ignored + @ignored,
      rows_rejected = rows_rejected + @rejected,
      status = CASE WHEN @final THEN 'completed' ELSE status END,
      finished_at = CASE WHEN @final THEN @now ELSE finished_at END, updated_at = @now
      WHERE job_id = @jobId`),
    endJob: db.prepare(`UPDATE ${t.jobLog} SET status = @status, error = @error, finished_at = @now, updated_at = @now WHERE job_id = @jobId`),
    addLocks: db.prepare(`UPDATE ${t.jobLog} SET lock_count = coalesce(lock_count, 0) + @count,
      max_retry_count = max(coalesce(max_retry_count, 0), @maxRetry), total_retry_time = coalesce(total_retry_time, 0) + @retrySeconds,
      lock_operations = @operations WHERE job_id = @jobId`),
    addMetrics: db.prepare(`INSERT INTO ${t.writerMetrics} (minute, transactions, batches, failed_batches, rows, locks, retries, lock_wait_ms, max_hold_ms)
      VALUES (@minute, CASE WHEN @batches > 0 THEN 1 ELSE 0 END, @batches, @failed, @rows, @locks, @retries, @lockWaitMs, @holdMs)
      ON CONFLICT (minute) DO UPDATE SET transactions = transactions + excluded.transactions, batches = batches + excluded.batches,
        failed_batches = failed_batches + excluded.failed_batches, rows = rows + excluded.rows, locks = locks + excluded.locks,
        retries = retries + excluded.retries, lock_wait_ms = lock_wait_ms + excluded.lock_wait_ms,
        max_hold_ms = max(max_hold_ms, excluded.max_hold_ms)`),
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
  // for that transaction to end.
  if (request.type === 'tx:run') return reply(request.id, () => writer.runInSession(request.sql, request.params, request.returnRows));
  if (request.type === 'tx:end') return reply(request.id, () => writer.endSession(request.commit));
  queue = queue.then(async () => {
    try {
      if (request.type === 'tx:begin') {
        const { ended } = await writer.beginSession(request.mode, request.timeoutMs);
        notify({ type: 'result', id: request.id, ok: true, value: null });
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
