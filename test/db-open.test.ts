import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { checkDatabasePath, openDatabase, type OpenedDatabase, type OpenDatabaseOptions } from '../src/db/open.js';
import { BackfillError, DatabaseOpenError } from '../src/errors.js';
import { PROFILES, type Flags } from '../src/flags/index.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('league-backfill-open-');

/** Opens, hands the connection to `fn`, and always closes it. */
function withDatabase<T>(options: OpenDatabaseOptions, fn: (opened: OpenedDatabase) => T): T {
  const opened = openDatabase(options);
  try {
    return fn(opened);
  } finally {
    opened.db.close();
  }
}

/** Runs `fn` and returns what it threw, failing the test when it returns. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

function pragma(db: BetterSqlite3.Database, name: string): unknown {
  return db.pragma(name, { simple: true });
}

/** The page cache a connection gets when nobody sets one (better-sqlite3's build default). */
const DEFAULT_CACHE_SIZE = ((): unknown => {
  const plain = new BetterSqlite3(':memory:');
  try {
    return pragma(plain, 'cache_size');
  } finally {
    plain.close();
  }
})();

describe('pragmas for each flags profile', () => {
  it('applies the recommended profile: WAL, synchronous NORMAL, a 5 s busy timeout and a 16 MB cache', () => {
    const path = join(tempDir(), 'league.db');
    withDatabase({ path, flags: PROFILES.recommended }, ({ db, settings }) => {
      expect(pragma(db, 'journal_mode')).toBe('wal');
      expect(pragma(db, 'synchronous')).toBe(1);
      expect(pragma(db, 'busy_timeout')).toBe(5000);
      expect(pragma(db, 'cache_size')).toBe(-16384);
      expect(pragma(db, 'journal_size_limit')).toBe(67108864);
      expect(pragma(db, 'wal_autocheckpoint')).toBe(1000);
      expect(pragma(db, 'temp_store')).toBe(0);
      expect(settings).toMatchObject({
        journalMode: 'wal',
        synchronous: 1,
        busyTimeoutMs: 5000,
        cacheSize: -16384,
        journalSizeLimit: 67108864,
        walAutocheckpoint: 1000,
      });
      expect(settings.effectiveFlags).toEqual(PROFILES.recommended);
      expect(settings.warnings).toEqual([]);
    });
  });

  it('sets journal_size_limit and wal_autocheckpoint to the values asked for', () => {
    const path = join(tempDir(), 'league.db');
    const options = { path, flags: PROFILES.recommended, journalSizeLimit: 1_048_576, walAutocheckpointPages: 250, busyTimeoutMs: 1234 };
    withDatabase(options, ({ db, settings }) => {
      expect(pragma(db, 'journal_size_limit')).toBe(1_048_576);
      expect(pragma(db, 'wal_autocheckpoint')).toBe(250);
      expect(pragma(db, 'busy_timeout')).toBe(1234);
      expect(settings.journalSizeLimit).toBe(1_048_576);
      expect(settings.walAutocheckpoint).toBe(250);
      expect(settings.warnings).toEqual([]);
    });
  });

  it('leaves SQLite defaults under the baseline profile: rollback journal, no busy timeout, synchronous FULL', () => {
    const path = join(tempDir(), 'league.db');
    withDatabase({ path, flags: PROFILES.baseline }, ({ db, settings }) => {
      expect(pragma(db, 'journal_mode')).toBe('delete');
      expect(pragma(db, 'busy_timeout')).toBe(0);
      expect(pragma(db, 'synchronous')).toBe(2);
      expect(pragma(db, 'cache_size')).toBe(DEFAULT_CACHE_SIZE);
      expect(pragma(db, 'mmap_size')).toBe(0);
      expect(settings).toMatchObject({ journalMode: 'delete', busyTimeoutMs: 0, synchronous: 2, cacheSize: DEFAULT_CACHE_SIZE, mmapSize: 0 });
      expect(settings.effectiveFlags).toEqual(PROFILES.baseline);
      expect(settings.warnings).toEqual([]);
    });
  });

  it('adds a 64 MB cache, temp_store MEMORY and a 256 MB mmap under the full profile', () => {
    const path = join(tempDir(), 'league.db');
    withDatabase({ path, flags: PROFILES.full }, ({ db, settings }) => {
      expect(pragma(db, 'journal_mode')).toBe('wal');
      expect(pragma(db, 'cache_size')).toBe(-65536);
      expect(pragma(db, 'temp_store')).toBe(2);
      expect(pragma(db, 'mmap_size')).toBe(268435456);
      expect(pragma(db, 'synchronous')).toBe(1);
      expect(settings).toMatchObject({ cacheSize: -65536, tempStore: 2, mmapSize: 268435456, journalMode: 'wal' });
      expect(settings.effectiveFlags).toEqual(PROFILES.full);
      expect(settings.warnings).toEqual([]);
    });
  });

  it('ignores aggressive_caching without pragma_optimizations and reports it off in the effective flags', () => {
    const path = join(tempDir(), 'league.db');
    const flags: Flags = { ...PROFILES.full, pragma_optimizations: false };
    withDatabase({ path, flags }, ({ db, settings }) => {
      expect(pragma(db, 'cache_size')).toBe(DEFAULT_CACHE_SIZE);
      expect(pragma(db, 'mmap_size')).toBe(0);
      expect(pragma(db, 'busy_timeout')).toBe(0);
      expect(settings.effectiveFlags).toEqual({ ...flags, aggressive_caching: false });
    });
  });
});

describe('leaving WAL mode under the baseline profile', () => {
  function makeWalDatabase(): string {
    const path = join(tempDir(), 'league.db');
    withDatabase({ path, flags: PROFILES.recommended }, ({ db }) => expect(pragma(db, 'journal_mode')).toBe('wal'));
    return path;
  }

  it('goes back to the rollback journal when no other connection holds the file', () => {
    const path = makeWalDatabase();
    withDatabase({ path, flags: PROFILES.baseline }, ({ db, settings }) => {
      expect(pragma(db, 'journal_mode')).toBe('delete');
      expect(settings.journalMode).toBe('delete');
      expect(settings.effectiveFlags.wal_mode).toBe(false);
      expect(settings.warnings).toEqual([]);
    });
    const check = new BetterSqlite3(path, { readonly: true });
    try {
      expect(pragma(check, 'journal_mode')).toBe('delete');
    } finally {
      check.close();
    }
  });

  it('stays in WAL with a warning, not an error, while another connection holds the file open', () => {
    const path = makeWalDatabase();
    const holder = new BetterSqlite3(path);
    try {
      holder.prepare('SELECT count(*) FROM transactions').get();
      withDatabase({ path, flags: PROFILES.baseline }, ({ db, settings }) => {
        expect(pragma(db, 'journal_mode')).toBe('wal');
        expect(settings.journalMode).toBe('wal');
        expect(settings.effectiveFlags.wal_mode).toBe(false);
        expect(settings.warnings).toHaveLength(1);
        expect(settings.warnings[0]).toMatch(/wal_mode is off but the database stays in WAL mode/i);
      });
    } finally {
      holder.close();
    }
  });
});

describe('paths that are not databases', () => {
  it('refuses a text file with ERR_DATABASE_OPEN and leaves it byte for byte unchanged', () => {
    const path = join(tempDir(), 'notes.txt');
    const content = Buffer.from('league notes\nnot a database at all\n'.repeat(20));
    writeFileSync(path, content);
    const error = thrown(() => openDatabase({ path, flags: PROFILES.recommended }));
    expect(error).toBeInstanceOf(DatabaseOpenError);
    expect((error as DatabaseOpenError).code).toBe('ERR_DATABASE_OPEN');
    expect((error as Error).message).toContain(path);
    expect((error as Error).message).toContain('not a SQLite database');
    expect(readFileSync(path).equals(content)).toBe(true);
    expect(existsSync(`${path}-wal`)).toBe(false);
    expect(existsSync(`${path}-journal`)).toBe(false);
  });

  it('refuses a folder', () => {
    const path = join(tempDir(), 'league.db');
    mkdirSync(path);
    const error = thrown(() => openDatabase({ path, flags: PROFILES.recommended }));
    expect(error).toBeInstanceOf(DatabaseOpenError);
    expect((error as BackfillError).code).toBe('ERR_DATABASE_OPEN');
    expect((error as Error).message).toMatch(/is a folder/);
  });

  it('refuses a path in a missing folder and creates nothing', () => {
    const dir = tempDir();
    const path = join(dir, 'missing', 'league.db');
    const error = thrown(() => openDatabase({ path, flags: PROFILES.recommended }));
    expect(error).toBeInstanceOf(DatabaseOpenError);
    expect((error as BackfillError).code).toBe('ERR_DATABASE_OPEN');
    expect((error as Error).message).toContain('does not exist');
    expect(existsSync(join(dir, 'missing'))).toBe(false);
    expect(() => checkDatabasePath(path)).toThrow(DatabaseOpenError);
  });

  it('creates the missing folder and the database when createFolder is on', () => {
    const dir = tempDir();
    const path = join(dir, 'missing', 'deeper', 'league.db');
    withDatabase({ path, flags: PROFILES.recommended, createFolder: true }, ({ migration }) => {
      expect(migration?.applied.length).toBeGreaterThan(0);
    });
    expect(existsSync(path)).toBe(true);
  });

  it('refuses to open a missing file read-only, and creates nothing', () => {
    const dir = tempDir();
    const path = join(dir, 'league.db');
    const error = thrown(() => openDatabase({ path, flags: PROFILES.recommended, readonly: true }));
    expect(error).toBeInstanceOf(DatabaseOpenError);
    expect((error as BackfillError).code).toBe('ERR_DATABASE_OPEN');
    expect((error as Error).message).toContain('does not exist');
    expect(existsSync(path)).toBe(false);
  });
});

describe('read-only connections', () => {
  it('set query_only, skip migrations and refuse writes', () => {
    const path = join(tempDir(), 'league.db');
    withDatabase({ path, flags: PROFILES.recommended }, () => undefined);
    withDatabase({ path, flags: PROFILES.recommended, readonly: true }, ({ db, migration }) => {
      expect(pragma(db, 'query_only')).toBe(1);
      expect(migration).toBeNull();
      expect(db.prepare('SELECT count(*) AS n FROM transactions').get()).toEqual({ n: 0 });
      expect(() => db.prepare("INSERT INTO job_log (job_id) VALUES ('j1')").run()).toThrow();
    });
    const check = new BetterSqlite3(path, { readonly: true });
    try {
      expect(check.prepare('SELECT count(*) AS n FROM job_log').get()).toEqual({ n: 0 });
    } finally {
      check.close();
    }
  });
});

describe('a read-only connection', () => {
  it('leaves no empty -wal and -shm behind on a WAL database, and leaves them alone while another connection uses them', () => {
    const exists = existsSync;
    const path = join(tempDir(), 'x.db');
    const writer = openDatabase({ path, flags: PROFILES.recommended }).db;
    writer.close(); // the last connection: SQLite removes the WAL files
    expect(exists(`${path}-wal`)).toBe(false);
    const reader = openDatabase({ path, flags: PROFILES.recommended, readonly: true }).db;
    reader.prepare('SELECT count(*) FROM job_log').get();
    expect(exists(`${path}-shm`)).toBe(true);
    reader.close();
    expect(exists(`${path}-wal`) || exists(`${path}-shm`)).toBe(false);

    const other = openDatabase({ path, flags: PROFILES.recommended }).db;
    other.prepare("INSERT INTO job_log (job_id, status) VALUES ('j', 'queued')").run();
    const second = openDatabase({ path, flags: PROFILES.recommended, readonly: true }).db;
    second.prepare('SELECT count(*) FROM job_log').get();
    second.close();
    // Another connection still has the database open: its WAL stays, and its data with it.
    expect(exists(`${path}-wal`)).toBe(true);
    expect(other.prepare('SELECT count(*) FROM job_log').pluck().get()).toBe(1);
    other.close();
  });
});
