/**
 * The single-writer lease. The engine is the one writer of its database: a second engine on
 * the same file (in this process, another process, or a writer process of a distributed run)
 * must not run beside it, or job_log's counters, cursors and statuses are written by two
 * owners at once.
 *
 * The lease is SQLite's own RESERVED lock on a small file beside the database,
 * `<database>-lease`, held for the engine's whole life by an open `BEGIN IMMEDIATE` that writes
 * nothing. That choice gives three things a row in a table could not:
 * - it is released by the kernel when its process dies, however it dies (SIGKILL, a crash), so
 *   a dead holder is taken over at once with no stale-lease timeout to wait out;
 * - SQLite's unix VFS tracks locks per file across the connections of one process, so a
 *   second engine in the same process is refused too;
 * - /proc/locks names the holder's pid, and /proc/PID/cmdline its command, even when the
 *   holder wrote nothing.
 * It lives beside the database, not in Redis or elsewhere, because the writer must run where
 * the file is: a lease anywhere else could disagree with the file it guards.
 */
import { unlinkSync } from 'node:fs';
import Database from 'better-sqlite3';
import { BackfillError, WriterRunningError, isLockError } from '../errors.js';
import { describeHolders, findLockHolders } from './locking/lock-holders.js';

export interface WriterLease {
  /** The lease file. */
  readonly path: string;
  /** Gives the lease back; idempotent. */
  release(): void;
}

export function leasePathOf(databasePath: string): string {
  return `${databasePath}-lease`;
}

/**
 * Takes the lease of `databasePath`, or throws `WriterRunningError` naming the engine that
 * holds it. Never waits: a second writer is a mistake to report, not a lock to wait out.
 * `:memory:` databases have no lease (no other connection can reach them).
 */
export function acquireWriterLease(databasePath: string): WriterLease {
  const path = leasePathOf(databasePath);
  if (databasePath === ':memory:' || databasePath === '') return { path, release: () => undefined };
  let db: Database.Database;
  try {
    db = new Database(path, { timeout: 0 });
  } catch (error) {
    throw new BackfillError('ERR_DATABASE_OPEN', `Cannot create the writer lease ${path} beside the database: ${(error as Error).message}`, { cause: error });
  }
  try {
    db.pragma('journal_mode = DELETE');
    db.exec('BEGIN IMMEDIATE');
  } catch (error) {
    db.close();
    if (!isLockError(error)) throw error;
    const holders = findLockHolders(path).filter((holder) => holder.lock === 'reserved' || holder.lock === 'pending' || holder.lock === 'exclusive');
    const holder = holders[0];
    const who = holder === undefined
      ? 'another engine'
      : holder.self ? `another engine in this process (pid ${holder.pid})` : describeHolders([holder]).replace(/ holds .*$/, '');
    throw new WriterRunningError(
      `The database ${databasePath} already has a writer: ${who} holds its lease (${path}). ` +
      'Only one engine may write a database at a time; wait for it to finish (or stop it: the next run resumes its jobs), then run again.',
      holder?.pid ?? null,
    );
  }
  let released = false;
  return {
    path,
    release: () => {
      if (released) return;
      released = true;
      try {
        if (db.inTransaction) db.exec('ROLLBACK');
      } finally {
        db.close();
      }
    },
  };
}

/** Removes a lease file nobody holds (for tools that delete a database and what lies beside it). */
export function removeLeaseFile(databasePath: string): void {
  try {
    unlinkSync(leasePathOf(databasePath));
  } catch {
    // absent already
  }
}
