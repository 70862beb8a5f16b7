import { existsSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3, { type Database } from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/open.js';
import { JOB_LOG_COLUMNS, SCHEMA_VERSION, assertIdentifier, columnsOf, migrate } from '../src/db/schema.js';
import { BackfillError, InvalidOptionError } from '../src/errors.js';
import { PROFILES } from '../src/flags/index.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('league-backfill-migrations-');

/** A plain connection to a new database file in a fresh temp folder, closed by `fn`'s caller. */
function withRawDatabase<T>(fn: (db: Database, path: string) => T): T {
  const path = join(tempDir(), 'league.db');
  const db = new BetterSqlite3(path);
  try {
    return fn(db, path);
  } finally {
    db.close();
  }
}

function schemaText(db: Database): Array<{ name: string; sql: string | null }> {
  return db.prepare('SELECT name, sql FROM sqlite_master ORDER BY name').all() as Array<{ name: string; sql: string | null }>;
}

function objectNames(db: Database, type: 'table' | 'index'): string[] {
  return (db.prepare('SELECT name FROM sqlite_master WHERE type = ? ORDER BY name').all(type) as Array<{ name: string }>).map((row) => row.name);
}

function userVersion(db: Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

const NEW_COLUMNS = JOB_LOG_COLUMNS.map(([name]) => name);

const insertTransaction = (db: Database, key: string, player: string): BetterSqlite3.RunResult =>
  db.prepare("INSERT INTO transactions (transaction_key, type, player_id, league_key) VALUES (?, 'trade', ?, '423.l.1')").run(key, player);

describe('a fresh database', () => {
  it('gets the four tables and user_version set to SCHEMA_VERSION', () => {
    withRawDatabase((db) => {
      expect(userVersion(db)).toBe(0);
      const result = migrate(db);
      expect(SCHEMA_VERSION).toBeGreaterThanOrEqual(1);
      expect(userVersion(db)).toBe(SCHEMA_VERSION);
      expect(result).toMatchObject({ from: 0, to: SCHEMA_VERSION, upgradedColumns: [] });
      expect(result.applied).toHaveLength(SCHEMA_VERSION);
      expect(objectNames(db, 'table')).toEqual(expect.arrayContaining(['transactions', 'job_log', 'rejected_rows', 'writer_metrics']));
      expect([...columnsOf(db, 'job_log')]).toEqual(expect.arrayContaining(['job_id', 'status', ...NEW_COLUMNS]));
    });
  });

  it('rejects a second row for the same transaction and player but keeps the second player of a trade', () => {
    withRawDatabase((db) => {
      migrate(db);
      expect(insertTransaction(db, '423.l.1.tr.7', 'p1').changes).toBe(1);
      expect(() => insertTransaction(db, '423.l.1.tr.7', 'p1')).toThrow(/UNIQUE constraint failed/);
      expect(insertTransaction(db, '423.l.1.tr.7', 'p2').changes).toBe(1);
      const ignored = db.prepare("INSERT OR IGNORE INTO transactions (transaction_key, player_id) VALUES ('423.l.1.tr.7', 'p2')").run();
      expect(ignored.changes).toBe(0);
      expect(db.prepare('SELECT player_id FROM transactions ORDER BY player_id').pluck().all()).toEqual(['p1', 'p2']);
    });
  });

  it('creates the indexes analytics queries and job upserts need, each once', () => {
    withRawDatabase((db) => {
      migrate(db);
      expect(objectNames(db, 'index')).toEqual(expect.arrayContaining([
        'transactions_league_time',
        'transactions_series_season',
        'transactions_type',
        'transactions_player',
        'transactions_source_team',
        'transactions_destination_team',
        'transactions_job',
        'rejected_rows_job',
        'job_log_status',
      ]));
      const indexed = (index: string): string[] =>
        (db.prepare(`PRAGMA index_info(${index})`).all() as Array<{ name: string }>).map((column) => column.name);
      expect(indexed('transactions_league_time')).toEqual(['league_key', 'timestamp']);
      expect(indexed('transactions_series_season')).toEqual(['league_series', 'season']);
      // The UNIQUE and PRIMARY KEY constraints have their own indexes: no second copy of them.
      const all = db.prepare("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index'").all() as Array<{ name: string; tbl_name: string }>;
      const signatures = all.map((index) => `${index.tbl_name}(${indexed(index.name).join(',')})`);
      expect(signatures.length).toBe(new Set(signatures).size);
      expect(signatures).toEqual(expect.arrayContaining(['transactions(transaction_key,player_id)', 'job_log(job_id)']));
    });
  });

  it('version 2 drops the duplicate indexes that version 1 made, keeping the constraint and the rows', () => {
    withRawDatabase((db) => {
      // The schema of version 1 as it was shipped: both the constraint and a named index on its columns.
      migrate(db);
      db.exec(`CREATE UNIQUE INDEX transactions_key_player ON transactions (transaction_key, player_id);
        CREATE UNIQUE INDEX job_log_job_id ON job_log (job_id);
        DROP INDEX transactions_series_season;
        PRAGMA user_version = 1;`);
      db.prepare("INSERT INTO job_log (job_id, status, league_key, season) VALUES ('423.l.1:2023', 'completed', '423.l.1', 2023)").run();
      insertTransaction(db, 'tr.1', 'p1');
      db.prepare("UPDATE transactions SET job_id = '423.l.1:2023', season = NULL, league_series = NULL").run();

      const result = migrate(db);

      expect(result.applied).toEqual([expect.stringMatching(/^2: /)]);
      expect(objectNames(db, 'index')).not.toContain('transactions_key_player');
      expect(objectNames(db, 'index')).not.toContain('job_log_job_id');
      expect(db.prepare('SELECT season, league_series FROM transactions').get()).toEqual({ season: 2023, league_series: '423.l.1' });
      expect(() => insertTransaction(db, 'tr.1', 'p1')).toThrow(/UNIQUE constraint failed/);
    });
  });

  it('is a no-op when migrated again: nothing applied and the schema text identical', () => {
    withRawDatabase((db) => {
      migrate(db);
      const before = schemaText(db);
      const again = migrate(db);
      expect(again).toEqual({ from: SCHEMA_VERSION, to: SCHEMA_VERSION, applied: [], upgradedColumns: [] });
      expect(schemaText(db)).toEqual(before);
      expect(userVersion(db)).toBe(SCHEMA_VERSION);
    });
  });

  it('is migrated once by openDatabase and not again on the next open', () => {
    const path = join(tempDir(), 'league.db');
    const first = openDatabase({ path, flags: PROFILES.recommended });
    const schema = schemaText(first.db);
    first.db.close();
    expect(first.migration?.applied).toHaveLength(SCHEMA_VERSION);
    const second = openDatabase({ path, flags: PROFILES.recommended });
    try {
      expect(second.migration).toEqual({ from: SCHEMA_VERSION, to: SCHEMA_VERSION, applied: [], upgradedColumns: [] });
      expect(schemaText(second.db)).toEqual(schema);
    } finally {
      second.db.close();
    }
  });
});

describe('an older job_log', () => {
  const OLD_ROWS = [
    { job_id: '423.l.1:2019', status: 'completed' },
    { job_id: '423.l.1:2020', status: 'failed' },
    { job_id: '423.l.2:2021', status: 'running' },
  ];

  function upgradeFrom(createSql: string): void {
    withRawDatabase((db) => {
      db.exec(createSql);
      const insert = db.prepare('INSERT INTO job_log (job_id, status) VALUES (@job_id, @status)');
      for (const row of OLD_ROWS) insert.run(row);
      expect(userVersion(db)).toBe(0);

      const result = migrate(db);
      expect(result.from).toBe(0);
      expect(result.to).toBe(SCHEMA_VERSION);
      expect([...result.upgradedColumns].sort()).toEqual([...NEW_COLUMNS].sort());
      expect([...columnsOf(db, 'job_log')].sort()).toEqual(['job_id', 'status', ...NEW_COLUMNS].sort());

      const rows = db.prepare('SELECT * FROM job_log ORDER BY job_id').all() as Array<Record<string, unknown>>;
      expect(rows.map(({ job_id, status }) => ({ job_id, status }))).toEqual(OLD_ROWS);
      for (const row of rows) {
        expect(row).toMatchObject({
          job_type: 'transactions',
          cursor: 0,
          pages_fetched: 0,
          rows_inserted: 0,
          lock_count: 0,
          max_retry_count: 0,
          total_retry_time: 0,
          lock_operations: null,
          league_key: null,
        });
      }

      // The unique index lets the writer upsert by job_id even where the old table had no key.
      expect(() => insert.run({ job_id: '423.l.1:2019', status: 'queued' })).toThrow(/UNIQUE constraint failed/);

      const schema = schemaText(db);
      const again = migrate(db);
      expect(again).toEqual({ from: SCHEMA_VERSION, to: SCHEMA_VERSION, applied: [], upgradedColumns: [] });
      expect(schemaText(db)).toEqual(schema);
    });
  }

  it('with a primary key gets every missing column and keeps its rows', () => {
    upgradeFrom('CREATE TABLE job_log (job_id TEXT PRIMARY KEY, status TEXT)');
  });

  it('without a primary key gets every missing column and keeps its rows', () => {
    upgradeFrom('CREATE TABLE job_log (job_id TEXT, status TEXT)');
  });

  it('replaced by an older script after the migration is repaired on the next migrate', () => {
    withRawDatabase((db) => {
      migrate(db);
      db.exec("DROP TABLE job_log; CREATE TABLE job_log (job_id TEXT PRIMARY KEY, status TEXT); INSERT INTO job_log VALUES ('j1', 'queued')");
      const result = migrate(db);
      expect(result.applied).toEqual([]);
      expect([...result.upgradedColumns].sort()).toEqual([...NEW_COLUMNS].sort());
      expect(db.prepare("SELECT status, lock_count FROM job_log WHERE job_id = 'j1'").get()).toEqual({ status: 'queued', lock_count: 0 });
    });
  });
});

describe('an older transactions table', () => {
  it('with the same columns is kept with its rows and used as it is', () => {
    withRawDatabase((db) => {
      db.exec(`CREATE TABLE transactions (
        transaction_key TEXT NOT NULL, transaction_id INTEGER, type TEXT, timestamp INTEGER, status TEXT,
        player_id TEXT, player_name TEXT, source_team_key TEXT, source_team_name TEXT,
        destination_team_key TEXT, destination_team_name TEXT, league_key TEXT, job_id TEXT)`);
      const tableSql = (db.prepare("SELECT sql FROM sqlite_master WHERE name = 'transactions'").pluck().get() as string);
      db.prepare("INSERT INTO transactions (transaction_key, type, player_id, player_name) VALUES ('old.tr.1', 'add', 'p9', 'Old Player')").run();
      db.prepare("INSERT INTO transactions (transaction_key, type, player_id, player_name) VALUES ('old.tr.2', 'drop', 'p8', 'Other Player')").run();

      migrate(db);

      expect(userVersion(db)).toBe(SCHEMA_VERSION);
      // Kept as it is, with the two columns for analysis added at its end.
      expect(db.prepare("SELECT sql FROM sqlite_master WHERE name = 'transactions'").pluck().get()).toBe(tableSql.replace(/\)$/, ', season INTEGER, league_series TEXT)'));
      expect(db.prepare('SELECT transaction_key, type, player_id, player_name FROM transactions ORDER BY transaction_key').all()).toEqual([
        { transaction_key: 'old.tr.1', type: 'add', player_id: 'p9', player_name: 'Old Player' },
        { transaction_key: 'old.tr.2', type: 'drop', player_id: 'p8', player_name: 'Other Player' },
      ]);
      // The unique index added beside the old table makes re-runs idempotent there too.
      expect(db.prepare("INSERT OR IGNORE INTO transactions (transaction_key, player_id) VALUES ('old.tr.1', 'p9')").run().changes).toBe(0);
      expect(insertTransaction(db, 'old.tr.1', 'p10').changes).toBe(1);
    });
  });
});

describe('assertIdentifier', () => {
  it('accepts plain SQL identifiers and returns them', () => {
    expect(assertIdentifier('transactions')).toBe('transactions');
    expect(assertIdentifier('t_2')).toBe('t_2');
    expect(assertIdentifier('_x')).toBe('_x');
  });

  it.each([
    ['x; DROP TABLE y'],
    ['1abc'],
    ['sqlite_master'],
    ['SQLITE_temp'],
    [''],
    ['a-b'],
    ['"quoted"'],
    ['a'.repeat(64)],
  ])('rejects %j with ERR_INVALID_OPTION', (name) => {
    expect(() => assertIdentifier(name, 'tables.transactions')).toThrow(InvalidOptionError);
    try {
      assertIdentifier(name, 'tables.transactions');
    } catch (error) {
      expect((error as BackfillError).code).toBe('ERR_INVALID_OPTION');
      expect((error as Error).message).toContain('`tables.transactions`');
      expect((error as Error).message).toContain(JSON.stringify(name));
    }
  });

  it.each([[42], [null], [undefined], [{ name: 'transactions' }], [['transactions']]])('rejects the non-string %j', (value) => {
    expect(() => assertIdentifier(value)).toThrow(InvalidOptionError);
    expect(() => assertIdentifier(value)).toThrow(/table name/);
  });

  it('keeps a bad configured table name away from the database', () => {
    const path = join(tempDir(), 'league.db');
    expect(() => openDatabase({ path, flags: PROFILES.recommended, tables: { transactions: 'x; DROP TABLE y' } })).toThrow(InvalidOptionError);
    expect(existsSync(path)).toBe(false);
  });
});

describe('an older transactions table with repeated rows', () => {
  const tempDirForRepeats = useTempDir('league-backfill-repeats-');
  it('is refused with a clear message naming the repair, and left unchanged', () => {
    const path = join(tempDirForRepeats(), 'old.db');
    const old = new BetterSqlite3(path);
    old.exec(`CREATE TABLE transactions (transaction_key TEXT NOT NULL, transaction_id INTEGER, type TEXT, timestamp INTEGER, status TEXT,
      player_id TEXT, player_name TEXT, source_team_key TEXT, source_team_name TEXT, destination_team_key TEXT, destination_team_name TEXT,
      league_key TEXT, job_id TEXT)`);
    old.prepare("INSERT INTO transactions (transaction_key, player_id) VALUES ('1.l.1.tr.1', '7'), ('1.l.1.tr.1', '7')").run();
    old.close();
    expect(() => openDatabase({ path, flags: PROFILES.baseline })).toThrow(/repeat a \(transaction_key, player_id\) pair.*DELETE FROM transactions/s);
    const check = new BetterSqlite3(path, { readonly: true });
    expect(check.prepare('SELECT count(*) FROM transactions').pluck().get()).toBe(2);
    expect(check.pragma('user_version', { simple: true })).toBe(0);
    expect(check.prepare("SELECT count(*) FROM sqlite_master WHERE name = 'job_log'").pluck().get()).toBe(0);
    check.close();
  });
});
