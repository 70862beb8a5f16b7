import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
// The engine starts worker threads, which Node 20 can only load as JavaScript: test the build.
import { createEngine, demoSource, PROFILES, type LockInfo, type Alert } from '../dist/src/index.js';
import { generateDemoSeason } from '../src/source/demo/index.js';
import { holdWriteLock, readTable, startReader, waitFor, committedRows } from './helpers/processes.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir();
const LEAGUE = '461.l.123456';

function expectedKeys(leagueKey: string, seasons: number[], seed: number): string[] {
  return seasons
    .flatMap((season) => generateDemoSeason(leagueKey, season, { seed }).rows.map((row) => `${row.transactionKey}|${row.playerId}`))
    .sort();
}

describe('the engine', () => {
  it('stores exactly the rows of the source, and a second run inserts nothing new', async () => {
    const db = join(tempDir(), 'league.db');
    const seasons = [2022, 2023, 2024];
    {
      await using engine = await createEngine({ database: db, source: demoSource({ seed: 3 }), flags: PROFILES.recommended });
      const handles = seasons.map((season) => engine.enqueue({ leagueKey: LEAGUE, season }));
      const summaries = await Promise.all(handles.map((handle) => handle.done));
      expect(summaries.every((s) => s.status === 'completed')).toBe(true);
      expect(engine.totals.rowsInserted).toBe(expectedKeys(LEAGUE, seasons, 3).length);
    }
    const state = readTable(db);
    expect(state.keys).toEqual(expectedKeys(LEAGUE, seasons, 3));
    expect(state.distinctKeys).toBe(state.rows);
    expect(state.integrity).toBe('ok');
    expect(state.statuses).toEqual({ completed: 3 });

    await using again = await createEngine({ database: db, source: demoSource({ seed: 3 }), flags: PROFILES.recommended });
    const summary = await again.enqueue({ leagueKey: LEAGUE, season: 2023 }).done;
    expect(summary.skipped).toBe(true);
    const forced = await again.enqueue({ leagueKey: LEAGUE, season: 2024, force: true }).done;
    expect(forced.rowsInserted).toBe(0);
    expect(forced.rowsIgnored).toBeGreaterThan(0);
    expect(readTable(db).rows).toBe(state.rows);
  });

  it('commits a job\'s cursor with its rows, so job_log agrees with the table', async () => {
    const db = join(tempDir(), 'league.db');
    await using engine = await createEngine({ database: db, source: demoSource({ seed: 5 }), flags: PROFILES.recommended });
    const summary = await engine.enqueue({ leagueKey: LEAGUE, season: 2021 }).done;
    const check = new Database(db, { readonly: true });
    const row = check.prepare('SELECT * FROM job_log WHERE job_id = ?').get(summary.jobId) as Record<string, number | string>;
    const stored = check.prepare('SELECT count(*) FROM transactions WHERE job_id = ?').pluck().get(summary.jobId);
    const rejected = check.prepare('SELECT count(*) FROM rejected_rows WHERE job_id = ?').pluck().get(summary.jobId);
    check.close();
    const season = generateDemoSeason(LEAGUE, 2021, { seed: 5 });
    expect(row.status).toBe('completed');
    expect(row.cursor).toBe(season.recordCount);
    expect(row.rows_inserted).toBe(stored);
    expect(stored).toBe(season.rows.length);
    expect(rejected).toBe(season.rejected.length);
    expect(row.pages_fetched).toBe(Math.ceil((season.recordCount + 1) / 25));
  });

  it('waits out a lock held by another process past busy_timeout, counts it and emits lock and retry events', async () => {
    const db = join(tempDir(), 'league.db');
    await using engine = await createEngine({
      database: db, source: demoSource({ seed: 7 }), flags: PROFILES.recommended, busyTimeoutMs: 200,
    });
    const locks: LockInfo[] = [];
    const retries: LockInfo[] = [];
    engine.on('lock', (info) => locks.push(info));
    engine.on('retry', (info) => retries.push(info));
    // 700 ms is longer than busy_timeout (200 ms): only the retry policy can carry the batch through.
    const holder = await holdWriteLock(db, 700);
    const holderPid = holder.process.pid;
    const summary = await engine.enqueue({ leagueKey: LEAGUE, season: 2022 }).done;
    await holder.released;
    expect(summary.status).toBe('completed');
    expect(locks.length).toBeGreaterThan(0);
    expect(retries.length).toBeGreaterThan(0);
    expect(locks.some((lock) => lock.code.startsWith('SQLITE_BUSY'))).toBe(true);
    // The process that held the lock is named, by pid and command line.
    expect(locks.some((lock) => lock.holders.some((holder) => holder.pid === holderPid && /lock-holder/.test(holder.command)))).toBe(true);
    const check = new Database(db, { readonly: true });
    const job = check.prepare('SELECT lock_count, max_retry_count, total_retry_time, lock_operations FROM job_log WHERE job_id = ?').get(summary.jobId) as {
      lock_count: number; max_retry_count: number; total_retry_time: number; lock_operations: string;
    };
    check.close();
    expect(job.lock_count).toBeGreaterThan(0);
    expect(job.max_retry_count).toBeGreaterThan(0);
    expect(job.total_retry_time).toBeGreaterThan(0);
    const operations = JSON.parse(job.lock_operations) as Record<string, number>;
    const counted = Object.entries(operations).filter(([name]) => !name.startsWith('holder:'));
    expect(counted.reduce((sum, [, count]) => sum + count, 0)).toBe(job.lock_count);
    expect(Object.keys(operations).some((name) => name.startsWith(`holder:${holderPid} (`))).toBe(true);
    expect(readTable(db).keys).toEqual(expectedKeys(LEAGUE, [2022], 7));
  });

  it('counts a lock wait that busy_timeout absorbed, so contention is never invisible', async () => {
    const db = join(tempDir(), 'league.db');
    await using engine = await createEngine({ database: db, source: demoSource({ seed: 8 }), flags: PROFILES.recommended, busyTimeoutMs: 5000 });
    const locks: LockInfo[] = [];
    engine.on('lock', (info) => locks.push(info));
    const holder = await holdWriteLock(db, 300);
    const summary = await engine.enqueue({ leagueKey: LEAGUE, season: 2022 }).done;
    await holder.released;
    expect(summary.status).toBe('completed');
    expect(locks.some((lock) => lock.code === 'SQLITE_BUSY (waited)' && lock.waitMs >= 50)).toBe(true);
    expect(engine.totals.retries).toBe(0);
  });

  it('with retry_logic off, fails the job with a clear lock error; the next run resumes and completes', async () => {
    const db = join(tempDir(), 'league.db');
    const flags = { ...PROFILES.recommended, retry_logic: false };
    {
      // Slow pages, so the lock arrives in the middle of the job, after some pages committed.
      await using engine = await createEngine({ database: db, source: demoSource({ seed: 9, latencyMs: 40 }), flags, busyTimeoutMs: 100, pagesPerTask: 1 });
      const done = engine.enqueue({ leagueKey: LEAGUE, season: 2023 }).done.then(() => null, (error: Error & { code: string }) => error);
      await waitFor(() => committedRows(db) > 0, 10_000, 'first commit');
      const holder = await holdWriteLock(db, 800);
      const failure = await done;
      await holder.released;
      expect(failure?.code).toBe('ERR_JOB_FAILED');
      expect(failure?.message).toMatch(/locked by another process/);
      expect((failure?.cause as Error | undefined)?.message).toMatch(new RegExp(`Held by: pid ${holder.process.pid} \\(`));
      expect(engine.totals.failed).toBe(1);
    }
    const partial = readTable(db);
    expect(partial.statuses).toEqual({ failed: 1 });
    expect(partial.rows).toBeGreaterThan(0);
    expect(partial.rows).toBeLessThan(expectedKeys(LEAGUE, [2023], 9).length);
    await using engine = await createEngine({ database: db, source: demoSource({ seed: 9 }), flags, busyTimeoutMs: 100 });
    const summary = await engine.enqueue({ leagueKey: LEAGUE, season: 2023 }).done;
    expect(summary.status).toBe('completed');
    const state = readTable(db);
    expect(state.keys).toEqual(expectedKeys(LEAGUE, [2023], 9));
    expect(state.statuses).toEqual({ completed: 1 });
  });

  it('raises an info alert when an operation needed more than 3 attempts', async () => {
    const db = join(tempDir(), 'league.db');
    await using engine = await createEngine({
      database: db, source: demoSource({ seed: 10 }), flags: PROFILES.recommended, busyTimeoutMs: 50,
      retry: { attempts: 8, initialDelayMs: 20, maxDelayMs: 100 },
    });
    const alerts: Alert[] = [];
    engine.on('alert', (alert) => alerts.push(alert));
    const holder = await holdWriteLock(db, 600);
    await engine.enqueue({ leagueKey: LEAGUE, season: 2020 }).done;
    await holder.released;
    expect(alerts.some((alert) => alert.level === 'info' && /attempts/.test(alert.message))).toBe(true);
  });

  it('lets readers in other processes query throughout a backfill without a single error (WAL)', async () => {
    const db = join(tempDir(), 'league.db');
    await using engine = await createEngine({ database: db, source: demoSource({ seed: 11 }), flags: PROFILES.recommended });
    const readers = [startReader(db, 2500), startReader(db, 2500)];
    const handles = [2018, 2019, 2020, 2021, 2022, 2023, 2024, 2025].map((season) => engine.enqueue({ leagueKey: LEAGUE, season }));
    await waitFor(() => committedRows(db) > 0, 10_000, 'first commit');
    await Promise.all(handles.map((handle) => handle.done));
    const reports = await Promise.all(readers);
    for (const report of reports) {
      expect(report.messages).toEqual([]);
      expect(report.errors).toBe(0);
      expect(report.queries).toBeGreaterThan(10);
    }
  });

  it('routes other modules\' writes through the same writer with submit()', async () => {
    const db = join(tempDir(), 'league.db');
    await using engine = await createEngine({ database: db, source: demoSource(), flags: PROFILES.recommended });
    await engine.submit({ sql: 'CREATE TABLE notes (id INTEGER PRIMARY KEY, seen INTEGER)' });
    const result = await engine.submit({ sql: 'INSERT INTO notes (id, seen) VALUES (?, 0)', params: [[1], [2], [3]] });
    expect(result.changes).toBe(3);
    await expect(engine.submit({ sql: 'INSERT INTO missing VALUES (1)' })).rejects.toThrow(/no such table: missing/);
    await expect(engine.submit({ sql: '' })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
  });

  it('runs serializable() on the writer in one transaction: committed when it resolves, rolled back when it throws', async () => {
    const db = join(tempDir(), 'league.db');
    await using engine = await createEngine({ database: db, flags: PROFILES.full });
    await engine.submit({ sql: 'CREATE TABLE balance (id INTEGER PRIMARY KEY, amount INTEGER)' });
    await engine.submit({ sql: 'INSERT INTO balance VALUES (?, ?)', params: [[1, 100], [2, 0]] });
    const order: string[] = [];
    const moved = engine.serializable(async (tx) => {
      const [from] = await tx.all<{ amount: number }>('SELECT amount FROM balance WHERE id = 1');
      // Another module's write sent meanwhile must wait for this transaction to end.
      void engine.submit({ sql: 'UPDATE balance SET amount = amount + 1 WHERE id = 2' }).then(() => order.push('submit'));
      await new Promise((resolve) => setTimeout(resolve, 50));
      await tx.run('UPDATE balance SET amount = ? WHERE id = 1', [from!.amount - 30]);
      await tx.run('UPDATE balance SET amount = amount + 30 WHERE id = 2');
      order.push('serializable');
      return from!.amount;
    });
    expect(await moved).toBe(100);
    await expect(engine.serializable(async (tx) => {
      await tx.run('UPDATE balance SET amount = 0');
      throw new Error('changed my mind');
    })).rejects.toThrow('changed my mind');
    await engine.submit({ sql: 'SELECT 1' }).catch(() => undefined);
    const check = new Database(db, { readonly: true });
    const rows = check.prepare('SELECT id, amount FROM balance ORDER BY id').all();
    check.close();
    expect(rows).toEqual([{ id: 1, amount: 70 }, { id: 2, amount: 31 }]);
    expect(order).toEqual(['serializable', 'submit']);
  });

  it('rolls back a serializable() transaction left open past its timeout, and the writer serves others again', async () => {
    const db = join(tempDir(), 'league.db');
    await using engine = await createEngine({ database: db, flags: PROFILES.full });
    await engine.submit({ sql: 'CREATE TABLE t (x)' });
    const stuck = engine.serializable(async (tx) => {
      await tx.run('INSERT INTO t VALUES (1)');
      await new Promise((resolve) => setTimeout(resolve, 400));
      await tx.run('INSERT INTO t VALUES (2)');
    }, { timeoutMs: 100 });
    await expect(stuck).rejects.toThrow(/no longer open/);
    await engine.submit({ sql: 'INSERT INTO t VALUES (3)' });
    const check = new Database(db, { readonly: true });
    expect(check.prepare('SELECT x FROM t').pluck().all()).toEqual([3]);
    check.close();
  });

  it('rejects calls after close, and close is idempotent', async () => {
    const db = join(tempDir(), 'league.db');
    const engine = await createEngine({ database: db, flags: PROFILES.recommended });
    const closed: string[] = [];
    engine.on('closed', () => closed.push('closed'));
    await Promise.all([engine.close(), engine.close()]);
    expect(closed).toEqual(['closed']);
    expect(() => engine.enqueue({ leagueKey: LEAGUE, season: 2020 })).toThrow(/closed/);
  });

  it('rejects bad options by name before touching the database', async () => {
    const dir = tempDir();
    await expect(createEngine({ database: join(dir, 'x.db'), batchSize: 1000 })).rejects.toThrow(/`batchSize` to be an integer from 1 to 100, got 1000/);
    await expect(createEngine({ database: join(dir, 'x.db'), workerz: 2 } as never)).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION' });
    const engine = await createEngine({ database: join(dir, 'y.db'), flags: PROFILES.recommended });
    expect(() => engine.enqueue({ leagueKey: 'not-a-key', season: 2020 })).toThrow(/league key/);
    await engine.close();
  });
});
