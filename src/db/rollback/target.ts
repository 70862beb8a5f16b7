/** One database while the rollback works on it, and what is read of it without changing it. */
import { statSync } from 'node:fs';
import BetterSqlite3, { type Database } from 'better-sqlite3';
import { isLockError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import type { DatabaseRollback } from './result.js';

/** One database while the rollback works on it. */
export interface Target {
  report: DatabaseRollback;
  /** Open only while the locks are held. */
  db: Database | null;
  /** The mode read before locking; `delete` means nothing to do. */
  needsLock: boolean;
}

export function newTarget(file: string): Target {
  return {
    report: {
      path: file,
      action: 'untouched',
      journalModeBefore: 'unknown',
      journalModeAfter: 'unknown',
      walBytesBefore: walBytes(file),
      walBytesAfter: walBytes(file),
      checkpointedFrames: 0,
      rowsBefore: {},
      rowsAfter: {},
      rowsEqual: true,
    },
    db: null,
    needsLock: true,
  };
}

/** Reads the journal mode without locking; a database already in DELETE mode is only counted. */
export function inspect(target: Target, logger: Logger): void {
  const { report } = target;
  let db: Database | undefined;
  try {
    // Read-only: closing the last read-write connection of a WAL database checkpoints it, and
    // nothing may change before every database is locked.
    db = new BetterSqlite3(report.path, { fileMustExist: true, readonly: true, timeout: 1000 });
    report.journalModeBefore = readMode(db);
    report.journalModeAfter = report.journalModeBefore;
    if (report.journalModeBefore === 'delete') {
      target.needsLock = false;
      report.action = 'unchanged';
      report.rowsBefore = countRows(db);
      report.rowsAfter = { ...report.rowsBefore };
    }
  } catch (error) {
    // Busy right now: the locking step waits for it and reads the mode again.
    if (!isLockError(error)) throw error;
    logger.debug({ database: report.path, err: (error as Error).message }, 'could not read the journal mode yet');
  } finally {
    db?.close();
  }
}

export function readMode(db: Database): string {
  return String(db.pragma('journal_mode', { simple: true })).toLowerCase();
}

export function walBytes(file: string): number {
  try {
    return statSync(`${file}-wal`).size;
  } catch {
    return 0;
  }
}

/** Rows in every table of the database (SQLite's own tables left out). */
export function countRows(db: Database): Record<string, number> {
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name").pluck().all() as string[];
  const counts: Record<string, number> = {};
  for (const table of tables) {
    // The names come from the database itself, quoted as identifiers.
    counts[table] = Number(db.prepare(`SELECT count(*) FROM "${table.replaceAll('"', '""')}"`).pluck().get());
  }
  return counts;
}

export function sameCounts(a: Record<string, number>, b: Record<string, number>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) if (a[key] !== b[key]) return false;
  return true;
}
