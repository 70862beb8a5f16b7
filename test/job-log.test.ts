/** The job log reader and the database file check: what `jobs` and `backfill` use, as a program uses them. */
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_FLAGS, databaseFileChange, fileIdentity, migrate, queryJobLog, readJobLog, sameFile,
} from '../src/index.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir();

function databaseWithJobs(): string {
  const path = join(tempDir(), 'league.db');
  const db = new Database(path);
  migrate(db);
  const insert = db.prepare(`INSERT INTO job_log (job_id, league_key, season, source, status, cursor, rows_fetched, rows_inserted, lock_operations, updated_at)
    VALUES (?, ?, ?, 'demo', ?, ?, ?, ?, ?, ?)`);
  insert.run('423.l.1:2021', '423.l.1', 2021, 'completed', 50, 60, 60, '{"commit":{"waits":2}}', '2026-01-01T00:00:01Z');
  insert.run('423.l.1:2022', '423.l.1', 2022, 'failed', 25, 30, 30, null, '2026-01-01T00:00:03Z');
  insert.run('423.l.2:2022', '423.l.2', 2022, 'failed', 0, 0, 0, null, '2026-01-01T00:00:02Z');
  db.close();
  return path;
}

describe('readJobLog', () => {
  it('lists the jobs newest first with the counts of the whole log, lock_operations decoded', async () => {
    const path = databaseWithJobs();
    const log = await readJobLog({ path, flags: DEFAULT_FLAGS });
    expect(log.counts).toEqual({ completed: 1, failed: 2 });
    expect(log.jobs.map((job) => job.job_id)).toEqual(['423.l.1:2022', '423.l.2:2022', '423.l.1:2021']);
    expect(log.jobs[2]!.lock_operations).toEqual({ commit: { waits: 2 } });
    expect(log.jobs[0]!.lock_operations).toEqual({});
  });

  it('filters by status and limits, the counts still over every job', async () => {
    const path = databaseWithJobs();
    const log = await readJobLog({ path, flags: { ...DEFAULT_FLAGS, connection_pooling: true }, status: 'failed', limit: 1 });
    expect(log.jobs.map((job) => job.job_id)).toEqual(['423.l.1:2022']);
    expect(log.counts).toEqual({ completed: 1, failed: 2 });
  });

  it('reads through a read-only connection: the file is byte for byte the same, and no -wal is left', async () => {
    const path = databaseWithJobs();
    const before = readFileSync(path);
    await readJobLog({ path, flags: DEFAULT_FLAGS });
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(existsSync(`${path}-wal`)).toBe(false);
  });

  it('rejects an unknown option, a bad status and a bad limit by name', async () => {
    const path = databaseWithJobs();
    await expect(readJobLog({ path, flags: DEFAULT_FLAGS, limt: 5 } as never)).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('`limt`') });
    await expect(readJobLog({ path, flags: DEFAULT_FLAGS, status: 'done' as never })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('queued, running, completed, failed, cancelled') });
    await expect(readJobLog({ path, flags: DEFAULT_FLAGS, limit: 0 })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('`limit`') });
  });

  it('fails with ERR_DATABASE_OPEN, naming the file, on a database with no job log', () => {
    const path = join(tempDir(), 'empty.db');
    const db = new Database(path);
    expect(() => queryJobLog(db, path)).toThrow(expect.objectContaining({ code: 'ERR_DATABASE_OPEN', message: `Database ${path}: has no job_log table; run a backfill first` }));
    db.close();
  });
});

describe('the database file check', () => {
  it('says nothing while the path names the file that was opened', () => {
    const path = join(tempDir(), 'a.db');
    writeFileSync(path, 'x');
    expect(databaseFileChange(path, fileIdentity(path)!)).toBeNull();
  });

  it('says the file was deleted, and that the rows are lost with it', () => {
    const path = join(tempDir(), 'a.db');
    writeFileSync(path, 'x');
    const opened = fileIdentity(path)!;
    rmSync(path);
    expect(databaseFileChange(path, opened)).toMatch(/^Database .*a\.db was deleted while the backfill ran/);
  });

  it('says the file was replaced, and to move the -wal and -shm away first', () => {
    const dir = tempDir();
    const path = join(dir, 'a.db');
    writeFileSync(path, 'x');
    const opened = fileIdentity(path)!;
    writeFileSync(join(dir, 'b.db'), 'y');
    renameSync(join(dir, 'b.db'), path);
    expect(databaseFileChange(path, opened)).toMatch(/was replaced by another file .*a\.db-wal and .*a\.db-shm files beside the new file belong to the old one/);
  });

  it('has no identity for :memory: or a missing file', () => {
    expect(fileIdentity(':memory:')).toBeNull();
    expect(fileIdentity(join(tempDir(), 'missing.db'))).toBeNull();
    expect(sameFile(null, null)).toBe(true);
  });
});
