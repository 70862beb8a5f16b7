import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import BetterSqlite3 from 'better-sqlite3';
import {
  assertSqliteVersionSafe, bundledSqliteVersion, compareSqliteVersions, describeWalResetStatus, isAffectedByWalResetBug, parseSqliteVersion, walResetFixFor,
} from '../src/db/sqlite-version.js';
import { identifySqliteLibrary, readEmbeddedSqliteVersion } from '../src/db/processes.js';
import { validateEnvironment } from '../src/db/validate.js';
import { checkHealth } from '../src/db/health.js';
import { BackfillError } from '../src/errors.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('league-backfill-version-guard-');
const children: ChildProcess[] = [];

afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

describe('SQLite versions', () => {
  it('parses and compares versions', () => {
    expect(parseSqliteVersion('3.51.3')).toEqual({ major: 3, minor: 51, patch: 3, text: '3.51.3' });
    expect(parseSqliteVersion('3.8')).toMatchObject({ text: '3.8.0' });
    expect(parseSqliteVersion('three')).toBeNull();
    expect(parseSqliteVersion('3.51.3; DROP TABLE')).toBeNull();
    expect(compareSqliteVersions('3.9.0', '3.10.0')).toBeLessThan(0);
    expect(compareSqliteVersions('3.51.3', '3.51.3')).toBe(0);
    expect(compareSqliteVersions('3.51.10', '3.51.3')).toBeGreaterThan(0);
  });

  it('knows which releases have the WAL-reset bug: 3.7.0 through 3.51.2, except the 3.44.6 and 3.50.7 backports', () => {
    const affected = ['3.7.0', '3.7.17', '3.40.1', '3.44.0', '3.44.5', '3.45.0', '3.49.9', '3.50.0', '3.50.6', '3.51.0', '3.51.2'];
    const fixed = ['3.6.23', '3.44.6', '3.44.7', '3.50.7', '3.50.9', '3.51.3', '3.51.4', '3.52.0', '3.53.2', '4.0.0'];
    for (const version of affected) expect(isAffectedByWalResetBug(version), version).toBe(true);
    for (const version of fixed) expect(isAffectedByWalResetBug(version), version).toBe(false);
    expect(walResetFixFor('3.44.2')).toBe('3.44.6');
    expect(walResetFixFor('3.50.1')).toBe('3.50.7');
    expect(walResetFixFor('3.45.0')).toBe('3.51.3');
    expect(describeWalResetStatus('3.40.1')).toMatch(/^SQLite 3\.40\.1 has the WAL-reset bug .* upgrade to 3\.51\.3 or later$/);
  });

  it('the guard rejects an affected version with WAL on, names the fix, and accepts it with WAL off', () => {
    let caught: unknown;
    try {
      assertSqliteVersionSafe({ walMode: true, version: '3.45.1' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(BackfillError);
    expect((caught as BackfillError).code).toBe('ERR_VALIDATION');
    expect((caught as Error).message).toContain('SQLite 3.45.1 has the WAL-reset bug');
    expect((caught as Error).message).toContain('flags disable wal_mode');
    expect(assertSqliteVersionSafe({ walMode: false, version: '3.45.1' })).toBe('3.45.1');
    expect(assertSqliteVersionSafe({ walMode: true, version: '3.50.7' })).toBe('3.50.7');
    expect(() => assertSqliteVersionSafe({ walMode: true, version: 'newest' })).toThrow('Expected `version` to be a SQLite version such as 3.51.3, got "newest" (string)');
    expect(() => assertSqliteVersionSafe({ walMode: true, versoin: '3.45.1' } as never)).toThrow(/versoin/);
  });

  it('the bundled SQLite is what SQLite itself reports, and it passes the guard with WAL on', () => {
    const db = new BetterSqlite3(':memory:');
    const reported = String(db.prepare('SELECT sqlite_version()').pluck().get());
    db.close();
    expect(bundledSqliteVersion()).toBe(reported);
    expect(assertSqliteVersionSafe({ walMode: true })).toBe(reported);
  });
});

describe('the SQLite of other processes', () => {
  it('reads the version embedded in better-sqlite3\'s own library file', () => {
    const require = createRequire(import.meta.url);
    const library = join(require.resolve('better-sqlite3/package.json'), '..', 'build', 'Release', 'better_sqlite3.node');
    expect(readEmbeddedSqliteVersion(library)).toBe(bundledSqliteVersion());
  });

  it('identifies the SQLite a running Python process mapped, with the version Python reports', async () => {
    const dir = tempDir();
    const path = join(dir, 'x.db');
    const expected = execFileSync('python3', ['-c', 'import sqlite3; print(sqlite3.sqlite_version)'], { encoding: 'utf8' }).trim();
    const child = spawn('python3', ['-c', `import sqlite3, sys, time\nc = sqlite3.connect(${JSON.stringify(path)})\nc.execute('select 1')\nprint('ready', flush=True)\ntime.sleep(30)`], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    await new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => { if (chunk.toString().includes('ready')) resolve(); });
      child.on('exit', (code) => reject(new Error(`python exited ${code}`)));
    });
    const library = identifySqliteLibrary(child.pid ?? 0);
    expect(library, 'a SQLite library in the maps of python3').not.toBeNull();
    expect(library?.version).toBe(expected);
    expect(library?.path).toMatch(/sqlite/i);
  });
});

describe('validate and health judge the engine\'s SQLite', () => {
  it('validate fails the wal-reset check for an injected affected version while WAL is wanted', async () => {
    const dir = tempDir();
    const report = await validateEnvironment({ databasePath: join(dir, 'x.db'), flagsPath: join(dir, 'flags.json'), sqliteVersion: '3.46.0' });
    const check = report.checks.find((c) => c.name === 'wal-reset bug');
    expect(check).toMatchObject({ ok: false, required: true });
    expect(check?.detail).toContain('the engine refuses to start with wal_mode on');
    expect(report.ok).toBe(false);
    const current = await validateEnvironment({ databasePath: join(dir, 'x.db'), flagsPath: join(dir, 'flags.json') });
    expect(current.checks.find((c) => c.name === 'wal-reset bug')).toMatchObject({ ok: true });
  });

  it('health is CRITICAL for an injected affected engine SQLite on a WAL database, OK for the bundled one', async () => {
    const dir = tempDir();
    const path = join(dir, 'x.db');
    const db = new BetterSqlite3(path);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (x)');
    db.close();
    const affected = await checkHealth({ path, sqliteVersion: '3.44.5' });
    expect(affected.status).toBe('CRITICAL');
    expect(affected.sqliteAffected).toBe(true);
    expect(affected.problems[0]).toMatch(/the engine's SQLite 3\.44\.5 has the WAL-reset bug.*and the database is in WAL mode/);
    const bundled = await checkHealth({ path });
    expect(bundled.status).toBe('OK');
    expect(bundled.sqliteVersion).toBe(bundledSqliteVersion());
  });
});

describe('the engine at start', () => {
  it('refuses to start with wal_mode on over a SQLite affected by the WAL-reset bug, and starts with WAL off', async () => {
    const { createEngine, demoSource, PROFILES } = await import('../dist/src/index.js');
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const folder = mkdtempSync(join(tmpdir(), 'version-guard-'));
    const error = await createEngine({ database: join(folder, 'a.db'), source: demoSource(), flags: PROFILES.recommended, sqliteVersion: '3.45.1' }).catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('ERR_VALIDATION');
    expect((error as Error).message).toMatch(/3\.45\.1/);
    const engine = await createEngine({ database: join(folder, 'b.db'), source: demoSource(), flags: { ...PROFILES.recommended, wal_mode: false }, sqliteVersion: '3.45.1' });
    await engine.close();
  });
});
