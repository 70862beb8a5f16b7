import { closeSync, existsSync, openSync, readSync, statSync, accessSync, constants, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import BetterSqlite3, { type Database } from 'better-sqlite3';
import { DatabaseOpenError } from '../errors.js';
import { applyWorkloadPragmas, effectiveFlags, type Flags, type WorkloadName } from '../flags/index.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import { walIncompatibility } from './filesystem.js';
import { migrate, resolveTableNames, type MigrationResult, type TableNames } from './schema.js';

export interface OpenDatabaseOptions {
  /** The database file. */
  readonly path: string;
  /** The flags that decide the pragmas. */
  readonly flags: Flags;
  /** Open read-only (`query_only`); no pragma that writes the file is applied. @default false */
  readonly readonly?: boolean;
  /** Create the file's folder when missing. Off by default, so a mistyped path is an error, not a new folder. @default false */
  readonly createFolder?: boolean;
  /** Run the schema migrations (write connections only). @default !readonly */
  readonly migrate?: boolean;
  /** `busy_timeout` in ms when `pragma_optimizations` is on. @default 5000 */
  readonly busyTimeoutMs?: number;
  /** `journal_size_limit` in bytes when WAL is on: the WAL file is truncated to this after a checkpoint. @default 67108864 (64 MiB) */
  readonly journalSizeLimit?: number;
  /** `wal_autocheckpoint` in pages when WAL is on. @default 1000 */
  readonly walAutocheckpointPages?: number;
  /** The workload profile of the flags file (read-heavy, write-heavy, mixed); applied with pragma_optimizations. @default 'mixed' */
  readonly workload?: WorkloadName;
  readonly tables?: Partial<TableNames>;
  readonly logger?: Logger;
}

/** What was asked of SQLite, what it reports back, and what did not take. */
export interface AppliedSettings {
  journalMode: string;
  synchronous: number;
  busyTimeoutMs: number;
  cacheSize: number;
  tempStore: number;
  mmapSize: number;
  journalSizeLimit: number;
  walAutocheckpoint: number;
  /** The flags as they actually took effect (for example `wal_mode` off when SQLite refused WAL). */
  effectiveFlags: Flags;
  warnings: string[];
}

export interface OpenedDatabase {
  db: Database;
  settings: AppliedSettings;
  migration: MigrationResult | null;
  tables: TableNames;
}

const SQLITE_HEADER = 'SQLite format 3\u0000';

/**
 * Checks a path before SQLite sees it, so a wrong path fails with a message that says what is
 * wrong, and nothing is created or changed: SQLite itself would happily create a file in the
 * wrong place, or only fail at the first query on a file that is not a database.
 */
export function checkDatabasePath(path: string, options: { readonly?: boolean; createFolder?: boolean } = {}): void {
  const absolute = resolve(path);
  if (existsSync(absolute)) {
    const stats = statSync(absolute);
    if (stats.isDirectory()) throw new DatabaseOpenError(path, 'is a folder, not a database file; give a file path such as data/league_analytics.db');
    if (!stats.isFile()) throw new DatabaseOpenError(path, 'is not a regular file');
    if (stats.size > 0) {
      const header = Buffer.alloc(16);
      const fd = openSync(absolute, 'r');
      try {
        readSync(fd, header, 0, 16, 0);
      } finally {
        closeSync(fd);
      }
      if (header.toString('latin1') !== SQLITE_HEADER) {
        throw new DatabaseOpenError(path, 'is not a SQLite database (its header is not "SQLite format 3"); it was left unchanged');
      }
    }
    if (!options.readonly) {
      try {
        accessSync(absolute, constants.W_OK);
      } catch {
        throw new DatabaseOpenError(path, 'is not writable by this user; fix its permissions or use --db to point elsewhere');
      }
    }
    return;
  }
  if (options.readonly) throw new DatabaseOpenError(path, 'does not exist');
  const folder = dirname(absolute);
  if (!existsSync(folder)) {
    if (options.createFolder) return;
    throw new DatabaseOpenError(path, `its folder ${dirname(path)} does not exist; create it first or choose another --db`);
  }
  if (!statSync(folder).isDirectory()) throw new DatabaseOpenError(path, `${dirname(path)} is not a folder`);
  try {
    accessSync(folder, constants.W_OK | constants.X_OK);
  } catch {
    throw new DatabaseOpenError(path, `its folder ${dirname(path)} is not writable by this user`);
  }
}

/**
 * After a read-only connection that created the WAL files closes, SQLite's own last-close
 * cleanup is asked for: a read-write open and close, which checkpoints and deletes -wal and
 * -shm only when it is the last connection (it takes the locks that prove it). Where the
 * folder or file is not writable, or another process has the database open, nothing is removed.
 */
function tidyWalFilesOnClose(db: Database, path: string): void {
  const close = db.close.bind(db);
  db.close = (): Database => {
    close();
    if (!existsSync(`${path}-wal`) && !existsSync(`${path}-shm`)) return db;
    try {
      const last = new BetterSqlite3(path, { timeout: 0, fileMustExist: true });
      // One read opens the WAL, so that closing runs SQLite's cleanup.
      last.pragma('schema_version', { simple: true });
      last.close();
    } catch {
      // not writable, or busy: the files stay, as SQLite would leave them
    }
    return db;
  };
}

/**
 * Opens a connection and applies the pragmas the flags ask for, reading each one back: a
 * setting that did not take is a warning, not silence. Write connections are migrated.
 */
export function openDatabase(options: OpenDatabaseOptions): OpenedDatabase {
  const logger = options.logger ?? silentLogger();
  const readonly = options.readonly ?? false;
  const tables = resolveTableNames(options.tables);
  checkDatabasePath(options.path, { readonly, createFolder: options.createFolder ?? false });
  if (!readonly && options.createFolder) mkdirSync(dirname(resolve(options.path)), { recursive: true });

  const flags = effectiveFlags(options.flags);
  const busyTimeoutMs = flags.pragma_optimizations ? options.busyTimeoutMs ?? 5000 : 0;
  // A read-only connection to a WAL database creates its -wal and -shm files when they are
  // missing, and cannot remove them: a reader would leave two empty files behind.
  const walFilesExisted = !readonly || existsSync(`${options.path}-wal`) || existsSync(`${options.path}-shm`);
  let db: Database;
  try {
    db = new BetterSqlite3(options.path, { readonly, timeout: busyTimeoutMs });
    if (!walFilesExisted) tidyWalFilesOnClose(db, options.path);
    // The header check above cannot see a file that SQLite rejects for other reasons
    // (a truncated or encrypted file): the first read can.
    db.pragma('schema_version', { simple: true });
  } catch (error) {
    throw new DatabaseOpenError(options.path, `cannot be opened: ${(error as Error).message}`, { cause: error });
  }

  try {
    const settings = applyPragmas(db, options, flags, busyTimeoutMs, readonly);
    for (const warning of settings.warnings) logger.warn({ database: options.path }, warning);
    const migration = readonly || options.migrate === false ? null : migrate(db, tables);
    if (migration && migration.applied.length > 0) {
      logger.info({ database: options.path, from: migration.from, to: migration.to, upgradedColumns: migration.upgradedColumns }, 'schema migrated');
    }
    return { db, settings, migration, tables };
  } catch (error) {
    db.close();
    if ((error as { code?: string }).code === 'SQLITE_NOTADB') {
      throw new DatabaseOpenError(options.path, 'is not a SQLite database; it was left unchanged', { cause: error });
    }
    if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') {
      // An older tool's table without the unique key may hold the same player move twice; the
      // migration cannot add the key then, and deciding which copy to keep is the user's call.
      throw new DatabaseOpenError(options.path,
        `its ${tables.transactions} table holds rows that repeat a (transaction_key, player_id) pair, so the unique key cannot be added ` +
        `(nothing was changed). Remove the repeats first, for example: DELETE FROM ${tables.transactions} WHERE rowid NOT IN ` +
        `(SELECT min(rowid) FROM ${tables.transactions} GROUP BY transaction_key, player_id)`, { cause: error });
    }
    throw error;
  }
}

function applyPragmas(db: Database, options: OpenDatabaseOptions, flags: Flags, busyTimeoutMs: number, readonly: boolean): AppliedSettings {
  const warnings: string[] = [];
  const expect = (name: string, wanted: number | string, value: unknown): void => {
    if (String(value).toLowerCase() !== String(wanted).toLowerCase()) {
      warnings.push(`PRAGMA ${name} did not take: asked for ${wanted}, SQLite reports ${String(value)}`);
    }
  };
  const set = (name: string, value: number | string): unknown => {
    db.pragma(`${name} = ${value}`);
    const readBack = db.pragma(name, { simple: true });
    expect(name, value, readBack);
    return readBack;
  };

  // better-sqlite3 applies `timeout` as busy_timeout; read it back like every other setting.
  expect('busy_timeout', busyTimeoutMs, db.pragma('busy_timeout', { simple: true }));

  if (flags.pragma_optimizations) {
    set('synchronous', 1); // NORMAL: durable across process crashes in WAL mode, one fsync per checkpoint
    set('cache_size', flags.aggressive_caching ? -65536 : -16384); // negative = KiB
  }
  if (flags.aggressive_caching) {
    set('temp_store', 2); // MEMORY
    set('mmap_size', 268435456);
  }
  if (readonly) db.pragma('query_only = ON');

  let walOn = false;
  if (!readonly) {
    const current = String(db.pragma('journal_mode', { simple: true }));
    if (flags.wal_mode) {
      const reason = options.path === ':memory:' ? 'an in-memory database has no WAL' : walIncompatibility(dirname(resolve(options.path)));
      if (reason) {
        warnings.push(`wal_mode is on but WAL was not enabled: ${reason}. Running with journal_mode=${current}.`);
      } else {
        const mode = String(db.pragma('journal_mode = WAL', { simple: true }));
        walOn = mode === 'wal';
        if (!walOn) warnings.push(`wal_mode is on but SQLite refused WAL (journal_mode is ${mode}); wal_mode is treated as off for this connection`);
      }
    } else if (current === 'wal') {
      // The legacy profile means rollback-journal mode; leaving WAL is only possible when no
      // other connection has the file open, so a refusal is a warning, not an error.
      try {
        const mode = String(db.pragma('journal_mode = DELETE', { simple: true }));
        if (mode !== 'delete') warnings.push(`wal_mode is off but the database stays in ${mode} mode (another connection has it open)`);
      } catch (error) {
        warnings.push(`wal_mode is off but the database stays in WAL mode: ${(error as Error).message}`);
      }
    }
    if (walOn) {
      set('journal_size_limit', options.journalSizeLimit ?? 67108864);
      set('wal_autocheckpoint', options.walAutocheckpointPages ?? 1000);
    }
  } else {
    walOn = String(db.pragma('journal_mode', { simple: true })) === 'wal';
  }

  // After the flags' own pragmas, so the workload's values are the ones read back below.
  warnings.push(...applyWorkloadPragmas(db, { workload: options.workload ?? 'mixed', flags, readonly }).warnings);
  return {
    journalMode: String(db.pragma('journal_mode', { simple: true })),
    synchronous: Number(db.pragma('synchronous', { simple: true })),
    busyTimeoutMs: Number(db.pragma('busy_timeout', { simple: true })),
    cacheSize: Number(db.pragma('cache_size', { simple: true })),
    tempStore: Number(db.pragma('temp_store', { simple: true })),
    mmapSize: Number(db.pragma('mmap_size', { simple: true }) ?? 0),
    journalSizeLimit: Number(db.pragma('journal_size_limit', { simple: true })),
    walAutocheckpoint: Number(db.pragma('wal_autocheckpoint', { simple: true })),
    effectiveFlags: { ...flags, wal_mode: flags.wal_mode && walOn },
    warnings,
  };
}
