/**
 * The writer thread: the only write connection the engine opens. Messages are handled one at
 * a time, in order, so every write of the process is serialised here and no two of them can
 * contend for SQLite's lock. Locks caused by other processes are waited out, retried,
 * counted in job_log and reported to the main thread; and while other processes use the file,
 * the writer leaves the lock free between its transactions so that they get their turn
 * (neighbours.ts).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { Database } from 'better-sqlite3';
import { acquireWriterLease, leasePathOf, removeLeaseFile, type WriterLease } from '../../db/lease.js';
import { findLockHolders, readCommandLine } from '../../db/locking/lock-holders.js';
import { walReaders } from '../../db/locking/wal-readers.js';
import { fileIdentity, sameFile, type FileIdentity } from '../../db/file-identity.js';
import { checkDatabasePath, openDatabase } from '../../db/open.js';
import { prepareWriterStatements, type WriterStatements } from '../../db/writer-statements.js';
import { BackfillError, serializeError } from '../../errors.js';
import type { Flags } from '../../flags/index.js';
import { connectionBusyTimeout } from '../../db/locking/lock-waiters.js';
import { CheckpointPolicy, type CheckpointResult } from './checkpoint-policy.js';
import { runCheckpoint, toResult, walBytes, walFrameBytes, withBoundedWait } from './checkpoints.js';
import { WriterRecords } from './records.js';
import { TransactionRunner } from './transactions.js';
import { JobBookkeeping } from './jobs.js';
import { Sessions } from './sessions.js';
import { CommitBudget } from './commit-budget.js';
import { NeighbourPolicy } from './neighbours.js';
import { WalTrim } from './wal-trim.js';
import { RowStaging, type StagedRange } from './staging.js';
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
  TransactionMode,
  WriterConfig,
  WriterNotice,
  WriterRequest,
} from '../protocol.js';
import type { RowTuple } from '../../model/index.js';

/**
 * The writer thread's state and what each request does. The thread entry (writer-thread.ts)
 * feeds it the main thread's messages one at a time, in order.
 */
const decoder = new TextDecoder();

export class WriterThread {
  readonly #config: WriterConfig;
  readonly #notify: (notice: WriterNotice) => void;
  readonly #db: Database;
  readonly #lease: WriterLease;
  readonly #flags: Flags;
  readonly #statements: WriterStatements;
  readonly #walPath: string;
  /** The database file when it was opened (null for :memory:). */
  readonly #identity: FileIdentity | null;
  readonly #neighbours: NeighbourPolicy;
  readonly #checkpoints: CheckpointPolicy;
  readonly #budget: CommitBudget;
  /** When the WAL file is cut back to its limit, in a transaction of its own (null without WAL). */
  readonly #walTrim: WalTrim | null;
  /** Runs every transaction: gaps, locks, retries and their figures. */
  readonly #tx: TransactionRunner;
  readonly #jobs: JobBookkeeping;
  /** Aborted by the main thread when the engine stops: backoff sleeps end at once. */
  readonly #stopping = new AbortController();
  /** Alerts and state changes for other processes, written with the next transaction. */
  readonly #records: WriterRecords;
  /** The open interactive transaction, if any, and why the last ones ended. */
  readonly #sessions = new Sessions();
  /** Rows wait here, outside the lock, until their transaction copies them into the table. */
  readonly #staging: RowStaging;
  /** A group's tail that did not fit its transaction, staged, written first in the next commit (pump.ts). */
  #carried: { batches: BatchMessage[]; ranges: StagedRange[] } = { batches: [], ranges: [] };
  /** Frames the last checkpoint had copied: a quiet look that moved them is reported after all. */
  #lastCheckpointed = -1;

  constructor(config: WriterConfig, notify: (notice: WriterNotice) => void) {
    this.#config = config;
    this.#notify = notify;
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
      this.#statements = prepareWriterStatements(this.#db, config.tables);
      this.#staging = new RowStaging(this.#db, config.tables.transactions);
      this.#records = new WriterRecords(this.#db, this.#statements);
      this.#walPath = `${config.path}-wal`;
      this.#identity = fileIdentity(config.path);
      this.#budget = new CommitBudget({ budgetMs: config.transactionBudgetMs });
      this.#walTrim = null;
      if (this.#flags.wal_mode && config.journalSizeLimit >= 0) {
        // Nothing is cut inside an ordinary COMMIT: the trim has a transaction of its own (wal-trim.ts).
        this.#db.pragma('journal_size_limit = -1');
        this.#walTrim = new WalTrim({ limitBytes: config.journalSizeLimit, budgetMs: config.transactionBudgetMs });
      }
      this.#neighbours = new NeighbourPolicy({ gapMs: config.neighbourGapMs, windowMs: config.transactionBudgetMs }, {
        othersHaveFileOpen: () => findLockHolders(config.path).some((holder) => !holder.self),
        dataVersion: () => Number(this.#db.pragma('data_version', { simple: true })),
        now: () => performance.now(),
      });
      this.#checkpoints = new CheckpointPolicy({
        thresholdBytes: config.checkpointThresholdBytes, restartWaitMs: config.transactionBudgetMs,
        frameBytes: walFrameBytes(this.#db),
      }, {
        walBytes: () => this.#walBytes(),
        passive: (quiet) => toResult(this.#checkpoint('PASSIVE', quiet)),
        restart: (waitMs) => this.#restart(waitMs),
        pinningReaders: () => walReaders(config.path),
        alert: (level, message, figures) => this.#raise({ level, message, figures }),
        recordPin: (pin) => this.#records.pin(pin),
        now: () => performance.now(),
        isoNow: () => new Date().toISOString(),
      });
      this.#tx = new TransactionRunner({
        db: this.#db, flags: this.#flags, config, neighbours: this.#neighbours, checkpoints: this.#checkpoints,
        budget: this.#budget, records: this.#records, notify, signal: this.#stopping.signal, walTrim: this.#walTrim,
      });
      this.#jobs = new JobBookkeeping(this.#tx, this.#statements, config.retry);
      for (const warning of opened.settings.warnings) notify({ type: 'log', level: 'warn', message: warning });
      // The command from /proc, not process.argv: a worker thread's argv names its own entry file.
      this.#records.recordWriterState({ pid: process.pid, host: hostname(), command: readCommandLine(process.pid), startedAt: new Date().toISOString() });
      notify({ type: 'ready', settings: opened.settings, migration: opened.migration });
    } catch (error) {
      this.#lease.release();
      // A database that could not be opened gets no lease file left beside it.
      if (!leaseExisted) removeLeaseFile(config.path);
      throw error;
    }
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
        this.#records.alert(request.alert);
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
   *
   * Beside other processes a group is one transaction: the tail the budget cut off is kept and
   * leads the next group (measured over 289,000 rows beside the neighbours bench's crowd: a
   * third of the transactions had been such tails of 1 to 30 ms, each followed by a whole gap).
   */
  async #commit(sent: BatchMessage[]): Promise<CommitResult> {
    // Taken first: if this message fails as a whole, the main thread fails the kept batches too.
    const carried = this.#carried;
    this.#carried = { batches: [], ranges: [] };
    this.#assertSameFile();
    // Rows are decoded and staged before the lock is taken: the work overlaps the gap left to
    // the neighbours (or the previous checkpoint) instead of lengthening the hold.
    const batches = carried.batches.concat(sent);
    const ranges = carried.ranges.concat(this.#staging.stage(sent.map((batch) => ({
      job: batch, rows: JSON.parse(typeof batch.rows === 'string' ? batch.rows : decoder.decode(batch.rows)) as RowTuple[],
    }))));
    const outcomes: BatchOutcome[] = [];
    let transactions = 0;
    let maxHoldMs = 0;
    let next = 0;
    while (next < batches.length) {
      await this.#trimWal();
      // A checkpoint in the gap (the copy after a reader let go) may have made one due.
      this.#trimInTurn();
      const start = next;
      const chargedJob = batches[start]!.jobId;
      try {
        const { value, attempts, waitMs, holdMs } = await this.#tx.run('commit', 'immediate', 'batch', (begun, locks) => {
          const done: BatchOutcome[] = [];
          let index = start;
          let insertMs = 0;
          let pageMs = 0;
          let pageStart = performance.now();
          for (;;) {
            const batch = batches[index]!;
            const before = performance.now();
            done.push(this.#writeBatch(batch, ranges[index]!));
            insertMs += performance.now() - before;
            index++;
            if (index >= batches.length) break;
            if (batch.cursor === null) continue; // never cut inside a page
            // The lock is held until COMMIT returns, and COMMIT writes every page dirtied so
            // far: stop while the next page and the predicted commit still fit the budget.
            pageMs = Math.max(pageMs * 0.5, performance.now() - pageStart);
            pageStart = performance.now();
            if (!this.#budget.hasRoom(performance.now() - begun, insertMs, pageMs, this.#neighbours.present)) break;
          }
          this.#jobs.writeLocks(chargedJob, locks);
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
        // Committed: their staged rows are in the table now.
        this.#staging.release(ranges[next - 1]!.last);
        transactions++;
        maxHoldMs = Math.max(maxHoldMs, holdMs);
        this.#trimInTurn();
        // The budget cut the group and a gap comes before the next transaction: the rest waits
        // for the next group, to be written with the batches that arrive meanwhile, instead of
        // making a short transaction that costs a gap of its own.
        if (next < batches.length && this.#neighbours.gapDue) {
          this.#carried = { batches: batches.slice(next), ranges: ranges.slice(next) };
          break;
        }
      } catch (error) {
        // The transaction rolled back as a whole, and SQLite does not say which batch caused a
        // non-lock error (a full disk fails them all alike): fail every batch not yet committed.
        // The main thread fails their jobs; they resume from their last committed cursor.
        const serialized = serializeError(error);
        for (let index = start; index < batches.length; index++) {
          outcomes.push({ ok: false, jobId: batches[index]!.jobId, error: serialized });
        }
        this.#records.recordFailedBatches(batches.length - start);
        this.#staging.release(ranges.at(-1)!.last);
        next = batches.length;
      }
    }
    return { outcomes, transactions, maxHoldMs };
  }

  #writeBatch(batch: BatchMessage, range: StagedRange): BatchOutcome {
    const s = this.#statements;
    const rowCount = range.last - range.first + 1;
    const inserted = this.#staging.move(range);
    const now = new Date().toISOString();
    for (const rejected of batch.rejected) s.insertRejected.run(batch.jobId, rejected.raw, rejected.reason, now);
    const ignored = rowCount - inserted;
    s.advanceJob.run({
      jobId: batch.jobId,
      cursor: batch.cursor,
      pages: batch.cursor === null ? 0 : 1,
      fetched: rowCount,
      inserted,
      ignored,
      rejected: batch.rejected.length,
      final: batch.final ? 1 : 0,
      now,
    });
    return { ok: true, jobId: batch.jobId, rowCount, inserted, ignored, rejected: batch.rejected.length, attempts: 1, waitMs: 0, commitMs: 0 };
  }

  /**
   * A database file deleted or replaced under an open connection is not an error to SQLite:
   * it goes on writing into the unlinked file, and every row is lost when it closes. So the
   * file is checked before each group of batches, and a change fails them with a clear error.
   */
  #assertSameFile(): void {
    if (this.#identity === null) return;
    const now = fileIdentity(this.#config.path);
    if (!sameFile(now, this.#identity)) {
      throw new BackfillError('ERR_DATABASE_WRITE',
        `The database file ${this.#config.path} was ${now === null ? 'deleted' : 'replaced by another file'} while the engine had it open; ` +
        'nothing more is written to it. Restore the file (or start again on the new one) and run again.');
    }
  }

  // ---- jobs --------------------------------------------------------------------------------

  #startJob(job: JobStartRequest): Promise<JobStartResult> {
    return this.#jobs.start(job);
  }

  #endJob(jobId: string, status: 'failed' | 'cancelled', error: string | null): Promise<{ attempts: number }> {
    return this.#jobs.end(jobId, status, error);
  }

  // ---- other writes ------------------------------------------------------------------------

  async #exec(sql: string, params: unknown[][], mode: TransactionMode): Promise<ExecResult> {
    const { value } = await this.#tx.run('submit', mode, 'submit', () => {
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
    await this.#tx.run('serializable', mode, 'session', () => undefined, { keepOpen: true });
    let end!: () => void;
    const ended = new Promise<void>((resolve) => {
      end = resolve;
    });
    const timer = setTimeout(() => {
      if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
      this.#closeSession(id, `it was still open after ${timeoutMs} ms and was rolled back`);
      this.#notify({ type: 'log', level: 'warn', message: `serializable transaction ${id} was still open after ${timeoutMs} ms and was rolled back` });
    }, timeoutMs);
    this.#sessions.open(id, () => { clearTimeout(timer); end(); });
    return { ended };
  }

  #closeSession(id: number, why: string): void {
    if (this.#sessions.close(id, why)) this.#neighbours.lockReleased();
  }

  #assertSession(id: number): void {
    this.#sessions.assertOpen(id, this.#db.inTransaction);
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

  /** Writes the minute's figures (and pending alerts and state) inside the current transaction. */
  #writeMinute(batches: number, rows: number, holdMs: number): void {
    const written = this.#records.write(batches, rows, holdMs, this.#checkpoints.takeFigures());
    this.#tx.onCommit(written.committed);
    this.#tx.onRollback(written.rolledBack);
  }

  #raise(alert: AlertRecord): void {
    this.#records.alert(alert);
    this.#notify({ type: 'alert', ...alert });
  }

  // ---- checkpoints -------------------------------------------------------------------------

  #walBytes(): number {
    return walBytes(this.#walPath);
  }

  /**
   * Cuts the WAL file back towards its limit, in a transaction that writes only the minute's
   * figures, when a checkpoint copied the whole WAL and the file is over the limit (wal-trim.ts).
   * Best effort: a trim that meets a lock it cannot wait out is left for the next checkpoint.
   */
  async #trimWal(): Promise<void> {
    // Before every batch transaction: no stat of the WAL unless a checkpoint just completed.
    // Beside other processes the trim is #trimInTurn's: after the gap that comes first here,
    // their commits would have started the WAL over already.
    if (this.#walTrim === null || !this.#walTrim.pending || this.#neighbours.present) return;
    const before = this.#walBytes();
    const limit = this.#walTrim.due(before);
    if (limit === null) return;
    let holdMs: number;
    try {
      ({ holdMs } = await this.#tx.run('wal-trim', 'immediate', 'trim', this.#trimBody(limit)));
    } catch (error) {
      this.#notify({ type: 'log', level: 'warn', message: `the WAL file was not trimmed: ${(error as Error).message}` });
      return;
    } finally {
      this.#db.pragma('journal_size_limit = -1');
    }
    this.#recordTrim(before, holdMs);
  }

  /**
   * Beside other processes, the trim cannot wait for the next transaction: their commits in the
   * gap come first, and the first commit after a complete checkpoint is the one that starts the
   * WAL over. It cuts the file only if its connection has journal_size_limit set, which a legacy
   * script's has not: beside the neighbours bench's processes, after a notebook let go, the file
   * stayed at 140 to 184 MB to the end of the run. So the trim is part of the writer's turn,
   * right after the checkpoint that followed its transaction: at once if no other connection has
   * committed since; else (they commit in the moment after each release, while that checkpoint
   * syncs) after a RESTART, which holds the write lock while it copies what they wrote, so that
   * the trim's BEGIN, microseconds later, finds the WAL copied. No wait for the lock either way,
   * and the gap starts after the trim.
   */
  #trimInTurn(): void {
    const trim = this.#walTrim;
    if (trim === null || !trim.pending || !this.#neighbours.present) return;
    const before = this.#walBytes();
    const limit = trim.due(before);
    if (limit === null) return;
    if (this.#neighbours.committedSinceRelease()) {
      const restarted = this.#restart(this.#config.transactionBudgetMs / 2);
      if (restarted === null || restarted.busy) {
        trim.missed();
        return;
      }
      if (!trim.pending) return;
    }
    let outcome: { holdMs: number } | null;
    try {
      outcome = this.#tx.tryInTurn('trim', this.#trimBody(limit));
    } catch (error) {
      this.#notify({ type: 'log', level: 'warn', message: `the WAL file was not trimmed: ${(error as Error).message}` });
      return;
    } finally {
      this.#db.pragma('journal_size_limit = -1');
    }
    if (outcome === null) return;
    this.#recordTrim(before, outcome.holdMs);
  }

  /** A trim's transaction: one small write, committed with the limit set, so that its COMMIT cuts the file (the caller sets the limit back). */
  #trimBody(limit: number): () => void {
    return () => {
      this.#db.pragma(`journal_size_limit = ${limit}`);
      this.#writeMinute(0, 0, 0);
    };
  }

  #recordTrim(before: number, holdMs: number): void {
    const after = this.#walBytes();
    this.#walTrim!.record(before, after, holdMs);
    // Reported with the checkpoints: it is the last step of one, the WAL's reset.
    this.#notify({ type: 'checkpoint', info: { mode: 'TRIM', busy: after >= before, walPages: 0, checkpointedPages: 0, walBytesBefore: before, walBytesAfter: after, durationMs: holdMs } });
  }

  /** RESTART with a bounded wait for readers; null when the lock could not be had in time. */
  #restart(waitMs: number): CheckpointResult | null {
    try {
      // At least 1 ms: with no busy handler at all a RESTART gives up at the first lock it meets.
      const info = withBoundedWait(this.#db, Math.max(1, waitMs), () => this.#checkpoint('RESTART'));
      return info === null ? null : toResult(info);
    } finally {
      // RESTART held the write lock while it waited for readers: the gap owed to the
      // neighbours starts now, not at the commit before it.
      this.#neighbours.lockReleased();
    }
  }

  /** `quiet`: a look that copied nothing is not reported (the policy looks often while a reader pins the WAL). */
  #checkpoint(mode: CheckpointMode, quiet = false): CheckpointInfo {
    const info = runCheckpoint(this.#db, this.#walPath, mode);
    this.#walTrim?.checkpointed(!info.busy && info.checkpointedPages >= info.walPages);
    if (!quiet || info.checkpointedPages !== this.#lastCheckpointed) this.#notify({ type: 'checkpoint', info });
    this.#lastCheckpointed = info.checkpointedPages;
    return info;
  }

  #close(): null {
    try {
      // Figures and alerts still pending are written in one last small transaction.
      if (this.#records.pending) {
        try {
          this.#db.transaction(() => this.#writeMinute(0, 0, 0)).immediate();
        } catch {
          // best effort
        }
      }
      this.#records.recordWriterState(null);
      // At close SQLite trims the WAL (or removes it, if this is the last connection) itself.
      if (this.#walTrim !== null) this.#db.pragma(`journal_size_limit = ${this.#config.journalSizeLimit}`);
      if (this.#flags.wal_mode) this.#checkpoint('PASSIVE');
      this.#db.pragma('optimize');
    } finally {
      this.#db.close();
      this.#lease.release();
    }
    return null;
  }
}

