import { closeSync, existsSync, openSync, readdirSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { MaintenanceReport } from '../src/db/maintain.js';
import { runCli, type CliResult } from './helpers/cli.js';
import { holdWriteLock } from './helpers/processes.js';
import { execute, seedTransactions, sha256, transactionKeys } from './helpers/seed-transactions.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('league-backfill-maintain-');
const CLEAN_ENV = { LEAGUE_BACKFILL_DB: '', LEAGUE_BACKFILL_FLAGS: '', LEAGUE_BACKFILL_ENV: '' };

function maintain(args: string[], cwd: string): Promise<CliResult> {
  return runCli(['maintain', ...args], { cwd, env: CLEAN_ENV, timeoutMs: 30_000 });
}

function pragma(path: string, name: string): unknown {
  const db = new Database(path, { readonly: true });
  try {
    return db.pragma(name, { simple: true });
  } finally {
    db.close();
  }
}

function count(path: string, sql: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare(sql).pluck().get() as number;
  } finally {
    db.close();
  }
}

/** Overwrites `pages` pages in the middle of the file with pseudo-random bytes; page 1 (header and schema) is kept. */
function corruptMiddlePages(path: string, pages: number): void {
  const pageSize = Number(pragma(path, 'page_size'));
  const pageCount = Math.floor(statSync(path).size / pageSize);
  const garbage = Buffer.alloc(pageSize * pages);
  let state = 0x2545f491;
  for (let i = 0; i < garbage.length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    garbage[i] = state >>> 24;
  }
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, garbage, 0, garbage.length, Math.floor(pageCount / 2) * pageSize);
  } finally {
    closeSync(fd);
  }
}

describe('maintain', () => {
  it('shrinks a fragmented database by more than 10 % and keeps every remaining row', async () => {
    const cwd = tempDir();
    const database = join(cwd, 'league.db');
    seedTransactions(database, 20_000);
    execute(database, 'DELETE FROM transactions WHERE rowid % 2 = 0');
    const keysBefore = transactionKeys(database);
    const sizeBefore = statSync(database).size;
    expect(keysBefore).toHaveLength(10_000);

    // Another connection stays open, as a running backfill's would: closing the CLI's connection
    // is then not the last close, which would checkpoint anyway; the file must shrink regardless.
    const observer = new Database(database);
    let result: CliResult;
    let sizeAfter: number;
    try {
      result = await maintain(['--db', database, '--json'], cwd);
      sizeAfter = statSync(database).size;
    } finally {
      observer.close();
    }
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as MaintenanceReport;

    expect(sizeAfter).toBeLessThan(sizeBefore * 0.9);
    expect(transactionKeys(database)).toEqual(keysBefore);
    expect(pragma(database, 'integrity_check')).toBe('ok');

    expect(report.ok).toBe(true);
    expect(report.integrity).toEqual({ ok: true, problems: [] });
    expect(report.before?.databaseBytes).toBe(sizeBefore);
    expect(report.before?.rows.transactions).toBe(10_000);
    expect(report.before?.fragmentation).toBeCloseTo((report.before?.freePages ?? 0) / (report.before?.pageCount ?? 1), 10);
    expect(report.after?.databaseBytes).toBe(sizeAfter);
    expect(report.after?.freePages).toBe(0);
    expect(report.spaceSavedBytes).toBe(sizeBefore - sizeAfter);
    expect(report.checkpoint?.complete).toBe(true);
    expect(Object.values(report.steps).map((step) => step.status)).toEqual(['done', 'done', 'done', 'done']);
    // The backup was made before anything changed, and holds every row.
    expect(report.backup?.path.startsWith(join(cwd, 'backups/'))).toBe(true);
    expect(transactionKeys(report.backup?.path ?? '')).toEqual(keysBefore);
    expect(pragma(database, 'journal_mode')).toBe('wal');
    expect(existsSync(`${database}-wal`) ? statSync(`${database}-wal`).size : 0).toBe(0);
  });

  it('stops at a failed integrity check with exit 1, says so, and changes nothing', async () => {
    const cwd = tempDir();
    const database = join(cwd, 'old.db');
    // An older script's database in rollback-journal mode, so a read-only look creates no -wal or -shm either.
    seedTransactions(database, 5_000, { journalMode: 'delete' });
    corruptMiddlePages(database, 4);
    const hashBefore = sha256(database);

    const result = await maintain(['--db', database, '--json'], cwd);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`integrity check failed for ${database}`);
    expect(result.stderr).toContain('nothing was changed');
    const report = JSON.parse(result.stdout) as MaintenanceReport;
    expect(report.ok).toBe(false);
    expect(report.integrity.ok).toBe(false);
    expect(report.integrity.problems.length).toBeGreaterThan(0);
    expect(Object.values(report.steps).map((step) => step.reason)).toEqual(Array(4).fill('integrity check failed'));

    expect(sha256(database)).toBe(hashBefore);
    expect(readdirSync(cwd)).toEqual(['old.db']);
  });

  it('honours --skip-backup, --skip-analyze, --skip-reindex and --skip-vacuum', async () => {
    const cwd = tempDir();
    const database = join(cwd, 'league.db');
    seedTransactions(database, 2_000);
    // A contiguous range frees whole pages: free pages that only VACUUM gives back.
    execute(database, 'DELETE FROM transactions WHERE rowid > 1000');
    expect(Number(pragma(database, 'freelist_count'))).toBeGreaterThan(0);
    const hashBefore = sha256(database);

    const skipped = await maintain(['--db', database, '--json', '--skip-backup', '--skip-analyze', '--skip-reindex', '--skip-vacuum'], cwd);
    expect(skipped.code, skipped.stderr).toBe(0);
    const report = JSON.parse(skipped.stdout) as MaintenanceReport;
    expect(report.steps).toEqual({
      backup: { status: 'skipped', reason: '--skip-backup', durationMs: 0 },
      analyze: { status: 'skipped', reason: '--skip-analyze', durationMs: 0 },
      reindex: { status: 'skipped', reason: '--skip-reindex', durationMs: 0 },
      vacuum: { status: 'skipped', reason: '--skip-vacuum', durationMs: 0 },
    });
    expect(report.backup).toBeNull();
    expect(report.checkpoint).toBeNull();
    // Nothing ran that writes: the file is byte for byte what it was, and no backup folder appeared.
    expect(sha256(database)).toBe(hashBefore);
    expect(readdirSync(cwd)).toEqual(['league.db']);

    // Only the vacuum (and backup) skipped: ANALYZE leaves its statistics, the free pages stay.
    const partial = await maintain(['--db', database, '--json', '--skip-backup', '--skip-vacuum'], cwd);
    expect(partial.code, partial.stderr).toBe(0);
    expect((JSON.parse(partial.stdout) as MaintenanceReport).steps.analyze.status).toBe('done');
    expect(count(database, 'SELECT count(*) FROM sqlite_stat1')).toBeGreaterThan(0);
    expect(Number(pragma(database, 'freelist_count'))).toBeGreaterThan(0);
    expect(existsSync(join(cwd, 'backups'))).toBe(false);
  });

  it('completes while another process holds the write lock in 1 s transactions, and reports the wait', async () => {
    const cwd = tempDir();
    const database = join(cwd, 'league.db');
    seedTransactions(database, 2_000);
    // Three 1 s transactions back to back: whenever the CLI (whose start-up time varies with
    // the machine's load) reaches its first write, the lock is held.
    const holder = await holdWriteLock(database, 1_000, 3);
    const result = await maintain(['--db', database], cwd);
    await holder.released;

    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('integrity check: ok');
    expect(result.stdout).toMatch(/analyze: done/);
    expect(result.stdout).toMatch(/vacuum: done/);
    const wait = /waited (\d+) times? for the write lock \((\d+\.\d) s: ([^)]*)\)/.exec(result.stdout);
    expect(wait, result.stdout).not.toBeNull();
    expect(Number(wait?.[1])).toBeGreaterThanOrEqual(1);
    // The holder started before the CLI; what is left of its 3 s is at least half a second.
    expect(Number(wait?.[2])).toBeGreaterThanOrEqual(0.5);
    expect(wait?.[3]).toMatch(/^analyze \d/);
    expect(pragma(database, 'integrity_check')).toBe('ok');
  });
});
