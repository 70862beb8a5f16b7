import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { compareRowCounts, type BackupResult } from '../src/db/backup.js';
import { runCli, type CliResult } from './helpers/cli.js';
import { seedTransactions, startContinuousWriter } from './helpers/seed-transactions.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('league-backfill-backup-');
const CLEAN_ENV = { LEAGUE_BACKFILL_DB: '', LEAGUE_BACKFILL_FLAGS: '', LEAGUE_BACKFILL_ENV: '' };
const SEED_ROWS = 10_000;

function backup(args: string[], cwd: string): Promise<CliResult> {
  return runCli(['backup', ...args], { cwd, env: CLEAN_ENV, timeoutMs: 30_000 });
}

/** What a copy holds, read through its own connection. */
function inspectCopy(path: string): { integrity: string; journalMode: string; rows: Record<string, number> } {
  const db = new Database(path, { readonly: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' ORDER BY name").pluck().all() as string[];
    return {
      integrity: String(db.pragma('integrity_check', { simple: true })),
      journalMode: String(db.pragma('journal_mode', { simple: true })),
      rows: Object.fromEntries(tables.map((table) => [table, db.prepare(`SELECT count(*) FROM "${table}"`).pluck().get() as number])),
    };
  } finally {
    db.close();
  }
}

function sourceRows(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT count(*) FROM transactions').pluck().get() as number;
  } finally {
    db.close();
  }
}

describe('backup row-count verification', () => {
  it('demands equal counts when the copy and the count share a snapshot', () => {
    expect(compareRowCounts({ transactions: 10, job_log: 2 }, { transactions: 10, job_log: 2 }, null)).toEqual([]);
    expect(compareRowCounts({ transactions: 9, job_log: 2 }, { transactions: 10, job_log: 2 }, null)).toEqual(['table transactions has 9 rows in the copy, 10 in the source']);
    expect(compareRowCounts({ transactions: 10 }, { transactions: 10, job_log: 0 }, null)).toEqual(['table job_log is missing from the copy']);
  });

  it('accepts counts between the snapshots before and after when other connections committed meanwhile', () => {
    expect(compareRowCounts({ transactions: 15, notes: 1 }, { transactions: 10 }, { transactions: 20, notes: 3 })).toEqual([]);
    expect(compareRowCounts({ transactions: 21 }, { transactions: 10 }, { transactions: 20 })[0]).toMatch(/^table transactions has 21 rows in the copy, outside 10 to 20 /);
    expect(compareRowCounts({ transactions: 9 }, { transactions: 10 }, { transactions: 20 })).toHaveLength(1);
  });
});

describe('backup', () => {
  it.each(['vacuum-into', 'api'] as const)('with --method %s makes a verified copy while another process writes continuously', async (method) => {
    const cwd = tempDir();
    const source = join(cwd, 'league.db');
    const destination = join(cwd, 'copy.db');
    seedTransactions(source, SEED_ROWS);
    const writer = startContinuousWriter(source, 20_000);
    await writer.writing;
    const result = await backup(['--db', source, '--method', method, '--json', destination], cwd);
    const load = await writer.stop();

    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as BackupResult;
    expect(report.path).toBe(destination);
    expect(report.method).toBe(method);
    expect(report.sizeBytes).toBe(statSync(destination).size);
    expect(report.durationMs).toBeGreaterThan(0);
    expect(report.verification.integrityCheck).toBe('ok');
    if (method === 'vacuum-into') {
      // Its snapshot cannot be shared with a count: the copy lies between the counts taken just before and just after.
      const { sourceRows: before, sourceRowsAfter: after = before } = report.verification;
      expect(report.rows.transactions).toBeGreaterThanOrEqual(before.transactions ?? Infinity);
      expect(report.rows.transactions).toBeLessThanOrEqual(after.transactions ?? -1);
    } else {
      // One read transaction across every step: the copy never starts over, and its counts are exact.
      expect(report.pages?.restarts).toBe(0);
      expect(report.verification.rowCounts).toBe('same-snapshot');
      expect(report.rows).toEqual(report.verification.sourceRows);
    }

    // The writer kept committing through the backup and after it, and never met a lock error.
    expect(load.lockErrors).toBe(0);
    expect(report.rows.transactions).toBeGreaterThan(SEED_ROWS);
    expect(sourceRows(source)).toBeGreaterThan(report.rows.transactions ?? 0);

    const copy = inspectCopy(destination);
    expect(copy.integrity).toBe('ok');
    expect(copy.journalMode).toBe('delete');
    expect(copy.rows).toEqual(report.rows);
    expect(Object.keys(copy.rows)).toEqual(expect.arrayContaining(['job_log', 'rejected_rows', 'transactions', 'writer_metrics']));
    expect(existsSync(`${destination}-wal`)).toBe(false);
    expect(existsSync(`${destination}-shm`)).toBe(false);
    expect(readdirSync(cwd).filter((name) => name.includes('.partial'))).toEqual([]);
  });

  it('refuses to overwrite an existing destination (exit 2) and replaces it with --force', async () => {
    const cwd = tempDir();
    const source = join(cwd, 'league.db');
    const destination = join(cwd, 'copy.db');
    seedTransactions(source, 100);
    writeFileSync(destination, 'an older backup the user wants to keep');

    const refused = await backup(['--db', source, destination], cwd);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/copy\.db: already exists; .*--force/);
    expect(readFileSync(destination, 'utf8')).toBe('an older backup the user wants to keep');

    // A stale -wal of the file being replaced would be replayed into the new copy: --force removes it.
    writeFileSync(`${destination}-wal`, 'stale wal of the old file');
    const forced = await backup(['--db', source, '--force', '--json', destination], cwd);
    expect(forced.code, forced.stderr).toBe(0);
    expect((JSON.parse(forced.stdout) as BackupResult).replaced).toBe(true);
    expect(inspectCopy(destination)).toMatchObject({ integrity: 'ok', journalMode: 'delete', rows: { transactions: 100 } });
    expect(existsSync(`${destination}-wal`)).toBe(false);
  });

  it('refuses the source database itself as destination, even with --force', async () => {
    const cwd = tempDir();
    const source = join(cwd, 'league.db');
    seedTransactions(source, 100);
    const result = await backup(['--db', source, '--force', source], cwd);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('a path other than the source database');
    expect(inspectCopy(source).rows.transactions).toBe(100);
  });

  it('writes to backups/<name>-<UTC timestamp>.db beside the database when no destination is given', async () => {
    const cwd = tempDir();
    const source = join(cwd, 'league.db');
    seedTransactions(source, 100);
    const before = Date.now();
    const result = await backup(['--db', source, '--json'], cwd);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as BackupResult;
    const match = /^league-(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z\.db$/.exec(report.path.slice(join(cwd, 'backups/').length));
    expect(report.path.startsWith(join(cwd, 'backups/')), report.path).toBe(true);
    expect(match, report.path).not.toBeNull();
    const [, year, month, day, hour, minute, second] = (match ?? []).map(Number);
    const stamp = Date.UTC(year ?? 0, (month ?? 1) - 1, day, hour, minute, second);
    expect(Math.abs(stamp - before)).toBeLessThan(60_000);
    expect(readdirSync(join(cwd, 'backups'))).toEqual([report.path.slice(join(cwd, 'backups/').length)]);
  });

  it('fails with exit 2 and names the path when the database does not exist', async () => {
    const cwd = tempDir();
    const result = await backup(['--db', join(cwd, 'missing.db'), join(cwd, 'copy.db')], cwd);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('missing.db: does not exist');
    expect(readdirSync(cwd)).toEqual([]);
  });
});
