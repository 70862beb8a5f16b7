/**
 * How the writer thread runs a transaction: it leaves its neighbours their gap, takes the write
 * lock the way the configured strategy waits for it, retries on a lock through the one retry
 * loop (db/locking/lock-retry.ts), counts every lock it met and who held it, and checkpoints
 * between transactions. What runs inside the transaction is the caller's.
 */
import type { Database } from 'better-sqlite3';
import { describeHolders, findLockHolders, writeLockHolders } from '../../db/locking/lock-holders.js';
import { WAITED_CODE, withLockRetry, type LockMet, type LockRetryFailure } from '../../db/locking/lock-retry.js';
import { LOCK_WAITERS } from '../../db/locking/lock-waiters.js';
import { NO_RETRY_POLICY } from '../../db/locking/retry-policy.js';
import { DatabaseLockedError } from '../../errors.js';
import type { Flags } from '../../flags/index.js';
import { sleep } from '../../util/sleep.js';
import type { LockInfo, RetryPolicy, TransactionMode, WriterConfig, WriterNotice } from '../protocol.js';
import type { CheckpointPolicy } from './checkpoint-policy.js';
import { withBoundedWait } from './checkpoints.js';
import type { CommitBudget } from './commit-budget.js';
import { countLock, emptyOperation, mergeOperation, type HolderWait, type OperationLocks } from './lock-accounting.js';
import type { NeighbourPolicy } from './neighbours.js';
import type { WriterRecords } from './records.js';
import type { WalTrim } from './wal-trim.js';

/** How often the writer looks at its neighbours' commits (and a pinned WAL) during a gap (ms). */
const GAP_STEP_MS = 2;

/** What kind of write begins a transaction: it decides how BEGIN is spelled (see #begin). */
export type WriteKind = 'batch' | 'submit' | 'bookkeeping' | 'session' | 'trim';

function expectedHoldMs(kind: WriteKind, budgetMs: number): number {
  if (kind === 'batch' || kind === 'session') return budgetMs;
  return kind === 'trim' ? budgetMs / 2 : 1;
}

export interface LockedOperation<T> {
  value: T;
  attempts: number;
  /** Time spent waiting for the lock, when a lock was met (ms); else 0. */
  waitMs: number;
  /** BEGIN to the end of COMMIT (ms). */
  holdMs: number;
}

export interface RunOptions {
  policy?: RetryPolicy;
  /** The job this operation's lock figures are charged to. */
  jobId?: string | null;
  /** Leave the transaction open after the body (interactive sessions). */
  keepOpen?: boolean;
}

export interface TransactionRunnerParts {
  db: Database;
  flags: Flags;
  config: WriterConfig;
  neighbours: NeighbourPolicy;
  checkpoints: CheckpointPolicy;
  budget: CommitBudget;
  records: WriterRecords;
  notify: (notice: WriterNotice) => void;
  /** Aborted when the engine stops: backoff sleeps and gaps end at once. */
  signal: AbortSignal;
  /** Told of every COMMIT of the connection (the WAL starts over in the first one after a full checkpoint). */
  walTrim: WalTrim | null;
}

export class TransactionRunner {
  readonly #db: Database;
  readonly #flags: Flags;
  readonly #config: WriterConfig;
  readonly #neighbours: NeighbourPolicy;
  readonly #checkpoints: CheckpointPolicy;
  readonly #budget: CommitBudget;
  readonly #records: WriterRecords;
  readonly #notify: (notice: WriterNotice) => void;
  readonly #signal: AbortSignal;
  readonly #walTrim: WalTrim | null;
  /** Lock figures of operations that failed, kept until their job's next write (at the latest its end). */
  readonly unwritten = new Map<string, OperationLocks>();
  /** Holders seen at the first busy try of the current wait (see LockWaitContext.onBusy). */
  #waitHolders: HolderWait[] = [];
  #holdersReadAt = Number.NEGATIVE_INFINITY;
  #cachedHolders: HolderWait[] = [];
  /** Bookkeeping that may only happen once the current transaction has committed, or that undoes itself when it rolled back. */
  #afterCommit: Array<() => void> = [];
  #afterRollback: Array<() => void> = [];

  constructor(parts: TransactionRunnerParts) {
    this.#db = parts.db;
    this.#flags = parts.flags;
    this.#config = parts.config;
    this.#neighbours = parts.neighbours;
    this.#checkpoints = parts.checkpoints;
    this.#budget = parts.budget;
    this.#records = parts.records;
    this.#notify = parts.notify;
    this.#signal = parts.signal;
    this.#walTrim = parts.walTrim;
  }

  /** Runs `step` once the current transaction has committed. */
  onCommit(step: () => void): void {
    this.#afterCommit.push(step);
  }

  /** Runs `step` if the current transaction rolls back. */
  onRollback(step: () => void): void {
    this.#afterRollback.push(step);
  }

  get #retry(): RetryPolicy {
    return this.#flags.retry_logic ? this.#config.retry : NO_RETRY_POLICY;
  }

  /**
   * Runs `body` in one transaction, retrying the whole transaction on SQLITE_BUSY/LOCKED through
   * the one retry loop (db/locking/lock-retry.ts). Only lock errors are retried: anything else
   * rolls back and fails at once. The body gets the time the lock was taken and the operation's
   * lock figures so far, to write them in the same transaction.
   */
  async run<T>(
    operation: string,
    mode: TransactionMode,
    kind: WriteKind,
    body: (begunAt: number, locks: OperationLocks) => T,
    { policy = this.#retry, jobId = null, keepOpen = false }: RunOptions = {},
  ): Promise<LockedOperation<T>> {
    const locks = emptyOperation();
    let holdMs = 0;
    const outcome = await withLockRetry({
      policy,
      waitThresholdMs: this.#config.lockWaitThresholdMs,
      signal: this.#signal,
      // A group commit may hold the lock for a whole budget, a WAL trim for half of one;
      // bookkeeping and submitted writes for about a millisecond, so several of them can share one gap.
      beforeAttempt: () => this.#leaveGap(expectedHoldMs(kind, this.#config.transactionBudgetMs)),
      onLock: (lock) => this.#lock(locks, operation, lock, jobId),
      exhausted: (failure) => this.#lockedOut(operation, jobId, locks, failure),
    }, (attempt) => {
      this.#waitHolders = [];
      return this.#begin(mode, kind).then(() => {
        const { lockedAt, waitMs } = attempt.locked();
        locks.retries = attempt.number - 1;
        locks.waitMs = waitMs;
        const result = this.#transact(kind, lockedAt, () => body(lockedAt, locks), keepOpen);
        holdMs = result.holdMs;
        return result.value;
      });
    });
    if (outcome.locks > 0) {
      // Counted once the operation is over, like job_log's total_retry_time (written with the next transaction).
      this.#records.minute.lockWaitMs += outcome.waitMs;
      this.#notify({ type: 'operation', info: { operation, attempts: outcome.attempts, waitMs: outcome.waitMs, ok: true, jobId } });
    }
    return { value: outcome.value, attempts: outcome.attempts, waitMs: outcome.waitMs, holdMs };
  }

  /**
   * Runs `body` in a transaction taken right away, with no gap before it and no wait for the
   * lock: for work that continues the writer's turn (a WAL trim right after the checkpoint that
   * followed a transaction). Null, with nothing counted, when another connection holds the lock:
   * it took its turn first, and the work waits for a later one.
   */
  tryInTurn<T>(kind: WriteKind, body: () => T): { value: T; holdMs: number } | null {
    if (withBoundedWait(this.#db, 0, () => this.#db.exec('BEGIN IMMEDIATE')) === null) return null;
    return this.#transact(kind, performance.now(), body, false);
  }

  /** The body, COMMIT (or ROLLBACK on an error) and the bookkeeping that follows either, on a transaction just begun. */
  #transact<T>(kind: WriteKind, lockedAt: number, body: () => T, keepOpen: boolean): { value: T; holdMs: number } {
    this.#afterCommit = [];
    this.#afterRollback = [];
    try {
      const value = body();
      if (keepOpen) return { value, holdMs: 0 };
      const commitStart = performance.now();
      this.#db.exec('COMMIT');
      this.#walTrim?.committed();
      const now = performance.now();
      if (kind === 'batch') this.#budget.record((value as { insertMs?: number }).insertMs ?? 0, now - commitStart);
      for (const step of this.#afterCommit) step();
      return { value, holdMs: now - lockedAt };
    } catch (error) {
      // SQLite may already have rolled back (for example on SQLITE_FULL or a BUSY commit).
      if (this.#db.inTransaction) this.#db.exec('ROLLBACK');
      for (const step of this.#afterRollback) step();
      throw error;
    } finally {
      this.#afterCommit = [];
      this.#afterRollback = [];
      if (!keepOpen) this.lockReleased();
    }
  }

  /** The error of an operation whose every attempt met a lock; its figures go with its job's next write (or its end). */
  #lockedOut(operation: string, jobId: string | null, locks: OperationLocks, failure: LockRetryFailure): Error {
    const { attempts, waitMs, lastError } = failure;
    locks.retries = attempts - 1;
    locks.waitMs = waitMs;
    if (jobId !== null) {
      const kept = this.unwritten.get(jobId) ?? emptyOperation();
      mergeOperation(kept, locks);
      this.unwritten.set(jobId, kept);
    }
    this.#records.minute.lockWaitMs += waitMs;
    this.#notify({ type: 'operation', info: { operation, attempts, waitMs, ok: false, jobId } });
    this.#holdersReadAt = Number.NEGATIVE_INFINITY;
    const holders = writeLockHolders(findLockHolders(this.#config.path)).filter((holder) => !holder.self);
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
    const minute = this.#records.minute;
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
    this.#notify({ type: 'lock', info });
    if (lock.retrying) this.#notify({ type: 'retry', info });
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
    for (let now = started; !this.#signal.aborted; now = performance.now()) {
      const left = this.#neighbours.gapEnd(planned) - now;
      if (left <= 0) break;
      if (this.#flags.wal_mode && this.#checkpoints.watching) this.#checkpoints.inGap();
      await sleep(Math.min(left, GAP_STEP_MS), this.#signal).catch(() => undefined);
    }
    this.#records.minute.yields++;
    this.#records.minute.yieldMs += performance.now() - started;
  }

  lockReleased(): void {
    this.#neighbours.lockReleased();
    this.#records.minute.neighbourCommits += this.#neighbours.takeNeighbourCommits();
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
    const deadlineMs = this.#flags.pragma_optimizations ? this.#config.lockWaitDeadlineMs : 0;
    await LOCK_WAITERS[this.#config.lockWait]({
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
      this.#cachedHolders = writeLockHolders(findLockHolders(this.#config.path))
        .filter((holder) => !holder.self)
        .map(({ pid, command }) => ({ pid, command }));
    }
    return this.#cachedHolders;
  }
}
