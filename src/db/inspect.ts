/**
 * Read-only looks at a database that maintenance and backups share: its tables and their row
 * counts, its pages, and SQLite's integrity check.
 */
import { statSync } from 'node:fs';
import type { Database } from 'better-sqlite3';

/**
 * Quotes a name read from `sqlite_master` for use as an identifier. These names are not
 * configuration (which `assertIdentifier` checks): a user's database may hold any table, and
 * doubling the quote character is SQLite's own escaping rule.
 */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** The ordinary tables of the main schema, sorted; SQLite's own `sqlite_*` tables left out. */
export function listTables(db: Database): string[] {
  return db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name").pluck().all() as string[];
}

/** Rows per table. Call inside a read transaction when the counts must come from one snapshot. */
export function countRows(db: Database): Record<string, number> {
  const rows: Record<string, number> = {};
  for (const table of listTables(db)) {
    rows[table] = db.prepare(`SELECT count(*) FROM ${quoteIdentifier(table)}`).pluck().get() as number;
  }
  return rows;
}

/** Runs `body` in one read transaction, so every read in it sees the same snapshot. */
export function inReadTransaction<T>(db: Database, body: () => T): T {
  db.exec('BEGIN');
  try {
    // A deferred BEGIN takes its snapshot at the first read: read now, so the snapshot is this one.
    db.prepare('SELECT count(*) FROM sqlite_master').get();
    return body();
  } finally {
    if (db.inTransaction) db.exec('COMMIT');
  }
}

/**
 * SQLite's `integrity_check`: an empty list when the database is sound, otherwise up to
 * `maxProblems` descriptions. A database too damaged to be checked at all (SQLite stops with
 * SQLITE_CORRUPT or SQLITE_NOTADB) is reported as a problem too, not thrown.
 */
export function integrityProblems(db: Database, maxProblems = 100): string[] {
  try {
    const lines = db.prepare(`PRAGMA integrity_check(${Math.max(1, Math.trunc(maxProblems))})`).pluck().all() as string[];
    return lines.length === 1 && lines[0] === 'ok' ? [] : lines;
  } catch (error) {
    const code = String((error as { code?: unknown }).code ?? '');
    if (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB') return [`${code}: ${(error as Error).message}`];
    throw error;
  }
}

export interface FileSizes {
  /** The database file. */
  databaseBytes: number;
  /** The `-wal` file beside it (0 when there is none). */
  walBytes: number;
}

export function fileSizes(path: string): FileSizes {
  return { databaseBytes: sizeOrZero(path), walBytes: sizeOrZero(`${path}-wal`) };
}

function sizeOrZero(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

export interface DatabaseStatistics extends FileSizes {
  pageSize: number;
  pageCount: number;
  /** Pages on the free list: space the file holds but no table or index uses. */
  freePages: number;
  /** `freePages / pageCount`: the share of the file VACUUM can give back. 0 for an empty file. */
  fragmentation: number;
  journalMode: string;
  /** Rows per table, counted in one snapshot. */
  rows: Record<string, number>;
}

/** Size, pages, free pages and rows per table, all read in one snapshot. */
export function readStatistics(db: Database, path: string): DatabaseStatistics {
  return inReadTransaction(db, () => {
    const pageCount = Number(db.pragma('page_count', { simple: true }));
    const freePages = Number(db.pragma('freelist_count', { simple: true }));
    return {
      ...fileSizes(path),
      pageSize: Number(db.pragma('page_size', { simple: true })),
      pageCount,
      freePages,
      fragmentation: pageCount === 0 ? 0 : freePages / pageCount,
      journalMode: String(db.pragma('journal_mode', { simple: true })),
      rows: countRows(db),
    };
  });
}
