/**
 * Runs one database operation, waiting for SQLite's locks the way the writer thread does:
 * SQLite's busy handler first (`busy_timeout` on the connection), then, when that runs out, a
 * retry through the same loop as the writer's (`lock-retry.ts`), counting every wait alike. Maintenance
 * and backups run beside a backfill in another process; this is what lets them take their turn
 * at the write lock instead of failing with "database is locked".
 */
import type { Database } from 'better-sqlite3';
import { DatabaseLockedError, InvalidOptionError } from '../../errors.js';
import { withLockRetry } from './lock-retry.js';
import { DEFAULT_RETRY_POLICY, resolveRetryPolicy, type RetryPolicy } from './retry-policy.js';

/** How long to wait for a lock, and how often to try again: the options every operation here shares. */
export interface LockWaitPolicyOptions {
  /** How long SQLite waits for a lock inside one attempt (`busy_timeout`), in ms. @default 5000 */
  readonly busyTimeoutMs?: number;
  /** Attempts and backoff when a lock outlasts `busyTimeoutMs`. @default DEFAULT_RETRY_POLICY */
  readonly retry?: Partial<RetryPolicy>;
  /** A lock that came after a wait longer than this (ms) is counted as a wait, as the writer counts it. @default 50 */
  readonly lockWaitThresholdMs?: number;
}

export interface LockWaitPolicy {
  busyTimeoutMs: number;
  retry: RetryPolicy;
  lockWaitThresholdMs: number;
}

export const LOCK_WAIT_POLICY_OPTION_NAMES: readonly string[] = ['busyTimeoutMs', 'retry', 'lockWaitThresholdMs'];

export function resolveLockWaitPolicy(options: LockWaitPolicyOptions): LockWaitPolicy {
  const milliseconds = (name: string, value: unknown, fallback: number): number => {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 600_000) {
      throw new InvalidOptionError(name, 'an integer number of ms from 0 to 600000', value);
    }
    return value;
  };
  return {
    busyTimeoutMs: milliseconds('busyTimeoutMs', options.busyTimeoutMs, 5000),
    retry: options.retry === undefined ? DEFAULT_RETRY_POLICY : resolveRetryPolicy(options.retry),
    lockWaitThresholdMs: milliseconds('lockWaitThresholdMs', options.lockWaitThresholdMs, 50),
  };
}

/**
 * How an operation takes the lock it needs.
 * - `transaction`: the body runs inside `BEGIN IMMEDIATE ... COMMIT` (ANALYZE, REINDEX).
 * - `statement`: the body cannot run inside a transaction (VACUUM, a checkpoint): the lock is
 *   first waited for with `BEGIN EXCLUSIVE; ROLLBACK`, which in rollback-journal mode also waits
 *   for readers to leave, then the body runs at once.
 * - `read`: no write lock; the body is retried when a lock error reaches it (in rollback-journal
 *   mode a reader cannot start while another process commits).
 */
export type LockMode = 'transaction' | 'statement' | 'read';

/** One operation that had to wait. */
export interface LockWait {
  operation: string;
  /** 1 for the first attempt. */
  attempt: number;
  /** Time spent waiting: in SQLite's busy handler, plus the delay before the next attempt. */
  waitMs: number;
  /** `SQLITE_BUSY`, `SQLITE_LOCKED`..., or `SQLITE_BUSY (waited)` when the lock came after a wait longer than the threshold. */
  code: string;
}

export interface LockWaitSummary {
  /** How many times an operation waited for a lock (a failed attempt, or a wait longer than the threshold). */
  count: number;
  totalMs: number;
  waits: LockWait[];
}

/** Collects the waits of several operations, for one report. */
export class LockWaitLog {
  readonly #waits: LockWait[] = [];

  record(wait: LockWait): void {
    this.#waits.push(wait);
  }

  /** Adds waits counted elsewhere (for example by a backup that ran inside a maintenance). */
  merge(summary: LockWaitSummary): void {
    for (const wait of summary.waits) this.#waits.push(wait);
  }

  summary(): LockWaitSummary {
    const waits = this.#waits.map((wait) => ({ ...wait, waitMs: roundMs(wait.waitMs) }));
    return { count: waits.length, totalMs: roundMs(this.#waits.reduce((sum, wait) => sum + wait.waitMs, 0)), waits };
  }
}

export interface LockRetryOptions {
  /** The operation's name in waits and errors, e.g. `vacuum`. */
  readonly operation: string;
  readonly mode: LockMode;
  /** Attempts and delays between them; `busy_timeout` on the connection is the wait inside each attempt. */
  readonly retry: RetryPolicy;
  /** A lock that came after a wait longer than this is counted as a wait, as the writer counts it. */
  readonly waitThresholdMs: number;
  readonly log: LockWaitLog;
  readonly signal?: AbortSignal | undefined;
}

/**
 * Runs `body` on `db` once it holds the lock `mode` asks for, retrying the whole attempt on
 * SQLITE_BUSY / SQLITE_LOCKED through the one retry loop (`lock-retry.ts`). Anything else is
 * thrown at once. When every attempt met a lock, throws `DatabaseLockedError` with what was
 * tried, for how long, and what to do.
 */
export async function runWithLock<T>(db: Database, options: LockRetryOptions, body: () => T | Promise<T>): Promise<T> {
  const { operation, log } = options;
  const { value } = await withLockRetry({
    policy: options.retry,
    waitThresholdMs: options.waitThresholdMs,
    signal: options.signal,
    onLock: (lock) => log.record({ operation, attempt: lock.attempt, waitMs: lock.attemptWaitMs + lock.delayMs, code: lock.code }),
    exhausted: ({ attempts, elapsedMs, lastError }) => new DatabaseLockedError(
      `${operation}: the database stayed locked by another process through ${attempts} attempt${attempts === 1 ? '' : 's'} over ${(elapsedMs / 1000).toFixed(1)} s ` +
      `(${lastError.message}). Nothing was changed by this step; run it again when the other writer pauses.`,
      { cause: lastError },
    ),
  }, async (attempt) => {
    if (options.mode === 'read') return await body();
    db.exec(options.mode === 'transaction' ? 'BEGIN IMMEDIATE' : 'BEGIN EXCLUSIVE');
    attempt.locked();
    try {
      if (options.mode === 'statement') {
        db.exec('ROLLBACK');
        return await body();
      }
      const result = await body();
      db.exec('COMMIT');
      return result;
    } catch (error) {
      // SQLite may have rolled back already (a BUSY commit, a full disk).
      if (db.inTransaction) db.exec('ROLLBACK');
      throw error;
    }
  });
  return value;
}


/** Milliseconds to one decimal: what reports carry. */
export function roundMs(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/**
 * "waited 2 times for the write lock (1.3 s: analyze 1, vacuum 1)", or "no wait for the write
 * lock". Every wait counted here is for a lock that another process's write holds.
 */
export function describeLockWaits(summary: LockWaitSummary, what = 'the write lock'): string {
  if (summary.count === 0) return `no wait for ${what}`;
  const perOperation = new Map<string, number>();
  for (const wait of summary.waits) perOperation.set(wait.operation, (perOperation.get(wait.operation) ?? 0) + 1);
  const detail = [...perOperation].map(([operation, count]) => `${operation} ${count}`).join(', ');
  return `waited ${summary.count} time${summary.count === 1 ? '' : 's'} for ${what} (${(summary.totalMs / 1000).toFixed(1)} s: ${detail})`;
}
