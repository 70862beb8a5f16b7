import type { Database } from 'better-sqlite3';
import { InvalidOptionError } from '../errors.js';
import { TRANSACTION_COLUMNS } from '../source/types.js';

/**
 * SQL identifiers that come from configuration are never pasted into SQL unchecked: they must
 * be plain ASCII names that need no quoting, and not SQLite's reserved `sqlite_` prefix.
 */
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export function assertIdentifier(name: unknown, option = 'table name'): string {
  if (typeof name !== 'string' || !IDENTIFIER.test(name) || name.toLowerCase().startsWith('sqlite_')) {
    throw new InvalidOptionError(
      option,
      'a SQL identifier (a letter or _, then up to 62 letters, digits or _; not starting with sqlite_)',
      name,
    );
  }
  return name;
}

export interface TableNames {
  transactions: string;
  jobLog: string;
  rejectedRows: string;
  writerMetrics: string;
}

export const DEFAULT_TABLES: TableNames = {
  transactions: 'transactions',
  jobLog: 'job_log',
  rejectedRows: 'rejected_rows',
  writerMetrics: 'writer_metrics',
};

export function resolveTableNames(tables: Partial<TableNames> = {}): TableNames {
  for (const key of Object.keys(tables)) {
    if (!(key in DEFAULT_TABLES)) {
      throw new InvalidOptionError('tables', `an object with keys ${Object.keys(DEFAULT_TABLES).join(', ')}`, key);
    }
  }
  return {
    transactions: assertIdentifier(tables.transactions ?? DEFAULT_TABLES.transactions, 'tables.transactions'),
    jobLog: assertIdentifier(tables.jobLog ?? DEFAULT_TABLES.jobLog, 'tables.jobLog'),
    rejectedRows: assertIdentifier(tables.rejectedRows ?? DEFAULT_TABLES.rejectedRows, 'tables.rejectedRows'),
    writerMetrics: assertIdentifier(tables.writerMetrics ?? DEFAULT_TABLES.writerMetrics, 'tables.writerMetrics'),
  };
}

/**
 * Every column `job_log` must have, with the definition used to add it to an older table.
 * Older backfill scripts left a `job_log` with `job_id` and `status` only; `ensureColumns`
 * adds what is missing and keeps their rows.
 */
export const JOB_LOG_COLUMNS: ReadonlyArray<readonly [name: string, definition: string]> = [
  ['job_type', "TEXT NOT NULL DEFAULT 'transactions'"],
  ['league_key', 'TEXT'],
  ['season', 'INTEGER'],
  ['source', 'TEXT'],
  ['cursor', 'INTEGER NOT NULL DEFAULT 0'],
  ['pages_fetched', 'INTEGER NOT NULL DEFAULT 0'],
  ['rows_fetched', 'INTEGER NOT NULL DEFAULT 0'],
  ['rows_inserted', 'INTEGER NOT NULL DEFAULT 0'],
  ['rows_ignored', 'INTEGER NOT NULL DEFAULT 0'],
  ['rows_rejected', 'INTEGER NOT NULL DEFAULT 0'],
  ['runs', 'INTEGER NOT NULL DEFAULT 0'],
  ['error', 'TEXT'],
  ['created_at', 'TEXT'],
  ['started_at', 'TEXT'],
  ['finished_at', 'TEXT'],
  ['updated_at', 'TEXT'],
  ['lock_count', 'INTEGER DEFAULT 0'],
  ['max_retry_count', 'INTEGER DEFAULT 0'],
  ['total_retry_time', 'REAL DEFAULT 0'],
  ['lock_operations', 'TEXT'],
];

export const TRANSACTIONS_COLUMN_DEFINITIONS = `
  transaction_key TEXT NOT NULL,
  transaction_id INTEGER,
  type TEXT,
  timestamp INTEGER,
  status TEXT,
  player_id TEXT,
  player_name TEXT,
  source_team_key TEXT,
  source_team_name TEXT,
  destination_team_key TEXT,
  destination_team_name TEXT,
  league_key TEXT,
  job_id TEXT`;

/**
 * The one statement rows are written with: the writer uses it, and the benchmarks that compare
 * the engine with the raw insert limit use it too, so the comparison is of the same work.
 * `INSERT OR IGNORE` on the (transaction_key, player_id) key makes re-runs idempotent.
 */
export function insertTransactionSql(table: string = DEFAULT_TABLES.transactions): string {
  return `INSERT OR IGNORE INTO ${assertIdentifier(table)} (${TRANSACTION_COLUMNS.join(', ')}, job_id) ` +
    `VALUES (${Array.from({ length: TRANSACTION_COLUMNS.length + 1 }, () => '?').join(', ')})`;
}

interface Migration {
  version: number;
  description: string;
  up(db: Database, tables: TableNames): void;
}

/**
 * Versioned with `PRAGMA user_version`. Every step is written to be safe on a database that
 * an older tool already shaped (IF NOT EXISTS, columns added only when missing), because users
 * bring files their earlier scripts made, at user_version 0.
 */
const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'transactions, job_log, rejected_rows, writer_metrics and their indexes',
    up(db, t) {
      db.exec(`
        CREATE TABLE IF NOT EXISTS ${t.transactions} (${TRANSACTIONS_COLUMN_DEFINITIONS},
          UNIQUE (transaction_key, player_id)
        );
        CREATE UNIQUE INDEX IF NOT EXISTS ${t.transactions}_key_player ON ${t.transactions} (transaction_key, player_id);
        CREATE INDEX IF NOT EXISTS ${t.transactions}_league_time ON ${t.transactions} (league_key, timestamp);
        CREATE INDEX IF NOT EXISTS ${t.transactions}_type ON ${t.transactions} (type);
        CREATE INDEX IF NOT EXISTS ${t.transactions}_player ON ${t.transactions} (player_id);
        CREATE INDEX IF NOT EXISTS ${t.transactions}_source_team ON ${t.transactions} (source_team_key);
        CREATE INDEX IF NOT EXISTS ${t.transactions}_destination_team ON ${t.transactions} (destination_team_key);
        CREATE INDEX IF NOT EXISTS ${t.transactions}_job ON ${t.transactions} (job_id);

        CREATE TABLE IF NOT EXISTS ${t.jobLog} (
          job_id TEXT PRIMARY KEY,
          status TEXT NOT NULL DEFAULT 'queued'
        );

        CREATE TABLE IF NOT EXISTS ${t.rejectedRows} (
          id INTEGER PRIMARY KEY,
          job_id TEXT,
          raw TEXT,
          reason TEXT NOT NULL,
          rejected_at TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS ${t.rejectedRows}_job ON ${t.rejectedRows} (job_id);

        -- Per-minute writer figures, so another process (health, dashboards) can read lock and
        -- failure rates without talking to the writer.
        CREATE TABLE IF NOT EXISTS ${t.writerMetrics} (
          minute INTEGER PRIMARY KEY,
          transactions INTEGER NOT NULL DEFAULT 0,
          batches INTEGER NOT NULL DEFAULT 0,
          failed_batches INTEGER NOT NULL DEFAULT 0,
          rows INTEGER NOT NULL DEFAULT 0,
          locks INTEGER NOT NULL DEFAULT 0,
          retries INTEGER NOT NULL DEFAULT 0,
          lock_wait_ms REAL NOT NULL DEFAULT 0,
          max_hold_ms REAL NOT NULL DEFAULT 0
        );
      `);
      ensureJobLogColumns(db, t);
      // An older job_log may lack the primary key; upserts by job_id need a unique index.
      db.exec(`
        CREATE UNIQUE INDEX IF NOT EXISTS ${t.jobLog}_job_id ON ${t.jobLog} (job_id);
        CREATE INDEX IF NOT EXISTS ${t.jobLog}_status ON ${t.jobLog} (status);
      `);
    },
  },
];

export const SCHEMA_VERSION = MIGRATIONS.at(-1)?.version ?? 0;

export function columnsOf(db: Database, table: string): Set<string> {
  const info = db.prepare(`PRAGMA table_info(${assertIdentifier(table)})`).all() as Array<{ name: string }>;
  return new Set(info.map((column) => column.name));
}

/** Adds the `job_log` columns an older table lacks; existing rows keep their values. */
export function ensureJobLogColumns(db: Database, tables: TableNames): string[] {
  const present = columnsOf(db, tables.jobLog);
  const added: string[] = [];
  for (const [name, definition] of JOB_LOG_COLUMNS) {
    if (!present.has(name)) {
      db.exec(`ALTER TABLE ${tables.jobLog} ADD COLUMN ${name} ${definition}`);
      added.push(name);
    }
  }
  return added;
}

export interface MigrationResult {
  from: number;
  to: number;
  applied: string[];
  /** Columns added to an older `job_log` (empty when it was current). */
  upgradedColumns: string[];
}

/**
 * Brings the schema to `SCHEMA_VERSION`. Run on the write connection only; each step and its
 * version bump commit together, so a crash mid-way leaves the previous version intact.
 * The column check runs every time (it costs one PRAGMA) so that a `job_log` replaced or
 * recreated by an older script after our migration is repaired too.
 */
export function migrate(db: Database, tables: TableNames = DEFAULT_TABLES): MigrationResult {
  const from = db.pragma('user_version', { simple: true }) as number;
  const applied: string[] = [];
  let upgradedColumns: string[] = [];
  for (const migration of MIGRATIONS) {
    if (migration.version <= from) continue;
    db.transaction(() => {
      const before = tableExists(db, tables.jobLog) ? columnsOf(db, tables.jobLog) : new Set<string>();
      migration.up(db, tables);
      if (before.size > 0) {
        const after = columnsOf(db, tables.jobLog);
        upgradedColumns = [...after].filter((c) => !before.has(c));
      }
      db.pragma(`user_version = ${migration.version}`);
    }).immediate();
    applied.push(`${migration.version}: ${migration.description}`);
  }
  if (applied.length === 0 && tableExists(db, tables.jobLog)) {
    const missing = JOB_LOG_COLUMNS.some(([name]) => !columnsOf(db, tables.jobLog).has(name));
    if (missing) upgradedColumns = db.transaction(() => ensureJobLogColumns(db, tables)).immediate();
  }
  return { from, to: Math.max(from, SCHEMA_VERSION), applied, upgradedColumns };
}

export function tableExists(db: Database, table: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(table) !== undefined;
}
