import type { Database } from 'better-sqlite3';
import { InvalidOptionError } from '../errors.js';
import { TRANSACTION_COLUMNS } from '../model/index.js';

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
  job_id TEXT,
  season INTEGER,
  league_series TEXT`;

/** The columns a row carries besides the source's own: which job wrote it, and the job's league and season. */
export const JOB_COLUMNS = ['job_id', 'season', 'league_series'] as const;

/**
 * The direct insert of one row: the benchmarks' raw limits use it. The writer copies staged rows
 * with the same `INSERT OR IGNORE` into the same columns (writer/thread/staging.ts), so the
 * comparison is of the same rows and the same key: `INSERT OR IGNORE` on the
 * (transaction_key, player_id) key makes re-runs idempotent.
 * Parameters: a row's tuple (TRANSACTION_COLUMNS), then JOB_COLUMNS.
 */
export function insertTransactionSql(table: string = DEFAULT_TABLES.transactions): string {
  const columns = [...TRANSACTION_COLUMNS, ...JOB_COLUMNS];
  return `INSERT OR IGNORE INTO ${assertIdentifier(table)} (${columns.join(', ')}) ` +
    `VALUES (${columns.map(() => '?').join(', ')})`;
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
      // A transactions table of an older script may lack the UNIQUE constraint: then an index
      // enforces it, or INSERT OR IGNORE would store a re-run's rows twice.
      if (!hasConstraintIndex(db, t.transactions, 'transaction_key,player_id')) {
        db.exec(`CREATE UNIQUE INDEX IF NOT EXISTS ${t.transactions}_key_player ON ${t.transactions} (transaction_key, player_id)`);
      }
      ensureJobLogColumns(db, t);
      // An older job_log may lack the primary key; upserts by job_id need a unique index. A
      // table with the key has its own (migration 2 drops one made before this check).
      const keyed = (db.prepare(`SELECT pk FROM pragma_table_info('${t.jobLog}') WHERE name = 'job_id'`).get() as { pk: number } | undefined)?.pk === 1;
      if (!keyed) db.exec(`CREATE UNIQUE INDEX IF NOT EXISTS ${t.jobLog}_job_id ON ${t.jobLog} (job_id)`);
      db.exec(`CREATE INDEX IF NOT EXISTS ${t.jobLog}_status ON ${t.jobLog} (status)`);
    },
  },
  {
    version: 2,
    description: 'each index once; season and league_series on transactions; the writer\'s neighbour, checkpoint and alert records',
    up(db, t) {
      dropRedundantIndexes(db, t);
      const present = columnsOf(db, t.transactions);
      if (!present.has('season')) db.exec(`ALTER TABLE ${t.transactions} ADD COLUMN season INTEGER`);
      if (!present.has('league_series')) db.exec(`ALTER TABLE ${t.transactions} ADD COLUMN league_series TEXT`);
      // Rows written before these columns existed get them from their job: job_log knows each
      // job's season and the league's key across seasons.
      db.exec(`
        UPDATE ${t.transactions} SET
          season = coalesce(season, (SELECT j.season FROM ${t.jobLog} j WHERE j.job_id = ${t.transactions}.job_id)),
          league_series = coalesce(league_series, (SELECT j.league_key FROM ${t.jobLog} j WHERE j.job_id = ${t.transactions}.job_id))
        WHERE season IS NULL OR league_series IS NULL;
        CREATE INDEX IF NOT EXISTS ${t.transactions}_series_season ON ${t.transactions} (league_series, season);
      `);
      const metrics = columnsOf(db, t.writerMetrics);
      for (const [name, definition] of WRITER_METRICS_COLUMNS) {
        if (!metrics.has(name)) db.exec(`ALTER TABLE ${t.writerMetrics} ADD COLUMN ${name} ${definition}`);
      }
      db.exec(`
        -- Alerts as the engine raised them, so health, doctor and the dashboard can show them
        -- from another process and after the run.
        CREATE TABLE IF NOT EXISTS ${WRITER_TABLES.alerts} (
          id INTEGER PRIMARY KEY,
          at TEXT NOT NULL,
          level TEXT NOT NULL,
          message TEXT NOT NULL,
          figures TEXT
        );
        -- Who held the write lock while the writer waited, per minute.
        CREATE TABLE IF NOT EXISTS ${WRITER_TABLES.lockHolders} (
          minute INTEGER NOT NULL,
          pid INTEGER NOT NULL,
          command TEXT,
          waits INTEGER NOT NULL DEFAULT 0,
          wait_ms REAL NOT NULL DEFAULT 0,
          PRIMARY KEY (minute, pid)
        );
        -- The writer's current state for other processes: the running engine, a reader pinning the WAL.
        CREATE TABLE IF NOT EXISTS ${WRITER_TABLES.state} (
          key TEXT PRIMARY KEY,
          value TEXT,
          updated_at TEXT NOT NULL
        );
      `);
    },
  },
];

/** Columns that migration 2 adds to writer_metrics (per minute, like the rest). */
export const WRITER_METRICS_COLUMNS: ReadonlyArray<readonly [name: string, definition: string]> = [
  /** The largest WAL file seen after a transaction (bytes). */
  ['max_wal_bytes', 'INTEGER NOT NULL DEFAULT 0'],
  /** Checkpoints the writer ran. */
  ['checkpoints', 'INTEGER NOT NULL DEFAULT 0'],
  /** Checkpoints that could not reset the WAL because a reader held an old snapshot. */
  ['checkpoints_blocked', 'INTEGER NOT NULL DEFAULT 0'],
  /** Gaps the writer left with the lock free so that other processes could write, and their total (ms). */
  ['yields', 'INTEGER NOT NULL DEFAULT 0'],
  ['yield_ms', 'REAL NOT NULL DEFAULT 0'],
  /** Commits by other connections, seen through PRAGMA data_version. */
  ['neighbour_commits', 'INTEGER NOT NULL DEFAULT 0'],
];

/** The writer's own tables besides writer_metrics; their names are fixed. */
export const WRITER_TABLES = { alerts: 'writer_alerts', lockHolders: 'writer_lock_holders', state: 'writer_state' } as const;

/**
 * A UNIQUE constraint has its own index (sqlite_autoindex_*); a second index on the same
 * columns only doubles the work of every insert. Migration 1 created both for transactions
 * and job_log. The named index is dropped only where the constraint's own index exists: an
 * older script's table without the constraint keeps the index that enforces uniqueness.
 */
function dropRedundantIndexes(db: Database, t: TableNames): void {
  const pairs: Array<[table: string, index: string, columns: string]> = [
    [t.transactions, `${t.transactions}_key_player`, 'transaction_key,player_id'],
    [t.jobLog, `${t.jobLog}_job_id`, 'job_id'],
  ];
  for (const [table, index, columns] of pairs) {
    if (!hasConstraintIndex(db, table, columns)) continue;
    const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?").get(index) !== undefined;
    if (exists) db.exec(`DROP INDEX ${assertIdentifier(index, 'index name')}`);
  }
}

/** True when a UNIQUE or PRIMARY KEY constraint of `table` has its own index on exactly `columns` (comma-separated). */
function hasConstraintIndex(db: Database, table: string, columns: string): boolean {
  const indexes = db.prepare(`PRAGMA index_list(${assertIdentifier(table)})`).all() as Array<{ name: string; unique: number; origin: string }>;
  return indexes.some((entry) => entry.unique === 1 && entry.origin !== 'c' && indexColumns(db, entry.name) === columns);
}

function indexColumns(db: Database, index: string): string {
  const info = db.prepare('SELECT name FROM pragma_index_info(?) ORDER BY seqno').all(index) as Array<{ name: string }>;
  return info.map((column) => column.name).join(',');
}

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
        upgradedColumns = [...new Set([...upgradedColumns, ...[...after].filter((c) => !before.has(c))])];
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
