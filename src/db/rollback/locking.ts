/**
 * Locking every database, all or none: no database is held while waiting for another, and
 * when time runs out every lock is released and nothing has changed.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import BetterSqlite3, { type Database } from 'better-sqlite3';
import { isLockError } from '../../errors.js';
import type { ResolvedRollbackOptions } from './options.js';
import type { RollbackResult } from './result.js';
import { countRows, readMode, type Target } from './target.js';

/**
 * Takes an exclusive lock on every target, all or none: a round that finds some busy releases
 * the others and waits (backoff with jitter) before the next round. Resolves with the time
 * waited and the targets that were still busy in the last round (none when every lock is held).
 */
export async function lockAll(targets: Target[], options: ResolvedRollbackOptions, result: RollbackResult): Promise<{ waitedMs: number; busy: Target[] }> {
  const started = performance.now();
  if (targets.length === 0) return { waitedMs: 0, busy: [] };
  const deadline = started + options.waitSeconds * 1000;
  for (let round = 1; ; round++) {
    result.lockAttempts = round;
    const remaining = Math.max(0, deadline - performance.now());
    // Each attempt may wait in SQLite's busy handler a little; the rounds do the long waiting.
    const busyTimeout = Math.round(Math.min(remaining, 250));
    const busy = targets.filter((target) => !tryLock(target, busyTimeout));
    if (busy.length === 0) return { waitedMs: performance.now() - started, busy };
    for (const target of targets) release(target);
    const left = deadline - performance.now();
    options.logger.debug({ busy: busy.map((target) => target.report.path), round, leftMs: Math.round(left) }, 'database busy: every lock released, trying again');
    if (left <= 0) return { waitedMs: performance.now() - started, busy };
    const backoff = Math.min(1000, 50 * 2 ** (round - 1)) * (0.5 + Math.random());
    await sleep(Math.min(backoff, left), undefined, options.signal ? { signal: options.signal } : {});
  }
}

/**
 * `locking_mode = EXCLUSIVE` plus an empty EXCLUSIVE transaction keeps the file locked until
 * the connection closes. In WAL mode SQLite grants it only when no other connection has the
 * database open, which is also what leaving WAL mode needs: holding it, the switch cannot be
 * refused. Returns false (and holds nothing) when the database is busy.
 */
export function tryLock(target: Target, busyTimeoutMs: number): boolean {
  const { report } = target;
  let db: Database | undefined;
  try {
    db = new BetterSqlite3(report.path, { fileMustExist: true, timeout: busyTimeoutMs });
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    db.exec('COMMIT');
    report.journalModeBefore = readMode(db);
    report.rowsBefore = countRows(db);
    if (report.journalModeBefore === 'wal') {
      // A successful TRUNCATE checkpoint reports 0 frames (the WAL is reset): FULL first, for the count.
      report.checkpointedFrames = Math.max(0, checkpoint(db, 'FULL').checkpointed);
      checkpoint(db, 'TRUNCATE');
    }
    target.db = db;
    return true;
  } catch (error) {
    db?.close();
    if (isLockError(error)) return false;
    throw error;
  }
}

function checkpoint(db: Database, mode: 'FULL' | 'TRUNCATE'): { log: number; checkpointed: number } {
  const [row] = db.pragma(`wal_checkpoint(${mode})`) as Array<{ busy: number; log: number; checkpointed: number }>;
  if (row === undefined || row.busy !== 0) throw Object.assign(new Error(`wal_checkpoint(${mode}) was blocked`), { code: 'SQLITE_BUSY' });
  return row;
}

export function release(target: Target): void {
  if (target.db === null) return;
  try {
    target.db.close();
  } catch {
    // Closing cannot fail in a way that matters here: the process ends soon and the OS drops the locks.
  }
  target.db = null;
}
