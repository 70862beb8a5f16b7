/** The load test's own database steps: a fresh file with the legacy writers' table, and counting what was stored. */
import Database from 'better-sqlite3';
import { openDatabase } from '../db/open.js';
import type { Flags } from '../flags/index.js';

/** Where the legacy writer contenders write: their own table, so their rows never mix with the backfill's. */
export const LEGACY_TABLE = 'legacy_writes';

/**
 * Creates the database as the engine will find it (its schema and the configuration's journal
 * mode) plus the legacy writers' table, so contenders can start while the engine starts.
 */
export function prepareDatabase(path: string, flags: Flags): void {
  const { db } = openDatabase({ path, flags });
  try {
    db.exec(`CREATE TABLE IF NOT EXISTS ${LEGACY_TABLE} (id INTEGER PRIMARY KEY, writer TEXT NOT NULL, seq INTEGER NOT NULL, payload TEXT, written_at INTEGER)`);
  } finally {
    db.close();
  }
}

export interface StoredCounts {
  /** Rows in `transactions`, by job id. */
  rowsByJob: Map<string, number>;
  rows: number;
  /** Rows in the legacy writers' table, by writer. */
  legacyRowsByWriter: Map<string, number>;
  journalMode: string;
  integrity: string;
}

/** Counts, through a fresh read-only connection, what is actually in the file. */
export function countStored(path: string): StoredCounts {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const byJob = db.prepare('SELECT job_id AS key, count(*) AS n FROM transactions GROUP BY job_id').all() as Array<{ key: string; n: number }>;
    const byWriter = db.prepare(`SELECT writer AS key, count(*) AS n FROM ${LEGACY_TABLE} GROUP BY writer`).all() as Array<{ key: string; n: number }>;
    return {
      rowsByJob: new Map(byJob.map((row) => [row.key, row.n])),
      rows: byJob.reduce((sum, row) => sum + row.n, 0),
      legacyRowsByWriter: new Map(byWriter.map((row) => [row.key, row.n])),
      journalMode: String(db.pragma('journal_mode', { simple: true })),
      integrity: String(db.pragma('quick_check', { simple: true })),
    };
  } finally {
    db.close();
  }
}
