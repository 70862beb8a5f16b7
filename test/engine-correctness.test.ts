/**
 * Correct under every caller: one writer per database, listeners that throw, sessions that
 * time out, exact lock figures, errors that keep their class, sources that never mix.
 * Real threads, real processes, real files.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import {
  createEngine, DatabaseLockedError, demoLeagueKeys, demoSource, fileSource, PROFILES, WriterRunningError, type Alert,
} from '../dist/src/index.js';
import { startCli } from './helpers/cli.js';
import { holdWriteLock, readTable, waitFor, committedRows } from './helpers/processes.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir();
const LEAGUE = demoLeagueKeys(1, 21)[0]!;
const NHL_2020 = new URL('./fixtures/yahoo/yfantasy-api-league-transactions-2020-nhl.json', import.meta.url).pathname;

function query<T>(db: string, sql: string, ...params: unknown[]): T {
  const check = new Database(db, { readonly: true });
  try {
    return check.prepare(sql).get(...params) as T;
  } finally {
    check.close();
  }
}

describe('one writer per database', () => {
  it('a second engine in the same process fails at once, naming the first', async () => {
    const db = join(tempDir(), 'league.db');
    await using first = await createEngine({ database: db, source: demoSource({ seed: 1 }), flags: PROFILES.recommended });
    const error = await createEngine({ database: db, source: demoSource({ seed: 1 }), flags: PROFILES.recommended }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WriterRunningError);
    expect((error as WriterRunningError).code).toBe('ERR_WRITER_RUNNING');
    expect((error as Error).message).toContain(`pid ${process.pid}`);
    // The first is unharmed.
    expect((await first.enqueue({ leagueKey: LEAGUE, season: 2020 }).done).status).toBe('completed');
  });

  it('a second engine beside a backfill in another process fails naming its pid; once that process is killed, its lease and its jobs are taken over', async () => {
    const db = join(tempDir(), 'league.db');
    const child = startCli(['backfill', '--db', db, '--leagues', '2', '--seasons', '2019-2021', '--latency', '40', '--no-progress']);
    try {
      await waitFor(() => committedRows(db) > 0, 30_000, 'the first commit of the other process');
      const error = await createEngine({ database: db, source: demoSource(), flags: PROFILES.recommended }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WriterRunningError);
      expect((error as WriterRunningError).holderPid).toBe(child.pid);
      expect((error as Error).message).toMatch(new RegExp(`pid ${child.pid} \\(.*backfill`));
    } finally {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('close', resolve));
    }
    const running = query<{ n: number }>(db, "SELECT count(*) AS n FROM job_log WHERE status = 'running'").n;
    expect(running).toBeGreaterThan(0);
    // The kernel released the dead process's lock: the next engine takes over and resumes.
    await using engine = await createEngine({ database: db, source: demoSource(), flags: PROFILES.recommended });
    const keys = demoLeagueKeys(2);
    const jobs = keys.flatMap((leagueKey) => [2019, 2020, 2021].map((season) => engine.enqueue({ leagueKey, season })));
    const summaries = await Promise.all(jobs.map((job) => job.done));
    expect(summaries.every((summary) => summary.status === 'completed')).toBe(true);
    const table = readTable(db);
    expect(table.distinctKeys).toBe(table.rows);
    expect(table.statuses).toEqual({ completed: 6 });
  });
});

describe('listeners that throw', () => {
  it('never change a job\'s outcome: completed stays completed, and each error is reported as an error event', async () => {
    const db = join(tempDir(), 'league.db');
    await using engine = await createEngine({ database: db, source: demoSource({ seed: 2 }), flags: PROFILES.recommended });
    const errors: Error[] = [];
    engine.on('error', (error) => errors.push(error));
    engine.on('job:completed', () => { throw new Error('listener of job:completed'); });
    engine.on('batch:committed', () => { throw new Error('listener of batch:committed'); });
    engine.on('job:progress', () => { throw new Error('listener of job:progress'); });
    const summary = await engine.enqueue({ leagueKey: LEAGUE, season: 2022 }).done;
    expect(summary.status).toBe('completed');
    expect(query<{ status: string }>(db, 'SELECT status FROM job_log WHERE job_id = ?', summary.jobId).status).toBe('completed');
    expect(errors.some((error) => error.message.includes('job:completed'))).toBe(true);
    expect(errors.some((error) => error.message.includes('batch:committed'))).toBe(true);
  });

  it('a throwing job:failed listener is no unhandled rejection', async () => {
    const db = join(tempDir(), 'league.db');
    await using engine = await createEngine({ database: db, source: demoSource({ seed: 2, failureRate: 1 }), flags: PROFILES.recommended, fetchAttempts: 1 });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => { unhandled.push(reason); };
    process.on('unhandledRejection', onUnhandled);
    try {
      const errors: Error[] = [];
      engine.on('error', (error) => errors.push(error));
      engine.on('job:failed', () => { throw new Error('listener of job:failed'); });
      const outcome = await engine.enqueue({ leagueKey: LEAGUE, season: 2022 }).done.catch((error: unknown) => error);
      expect((outcome as { code?: string }).code).toBe('ERR_JOB_FAILED');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(errors.some((error) => error.message.includes('job:failed'))).toBe(true);
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('serializable() sessions', () => {
  it('a statement of a session that timed out fails with ERR_TRANSACTION_CLOSED and never runs in the next session', async () => {
    const db = join(tempDir(), 'league.db');
    await using engine = await createEngine({ database: db, source: demoSource(), flags: PROFILES.full });
    await engine.submit({ sql: 'CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)' });
    let late: Promise<unknown> | undefined;
    const first = engine.serializable(async (tx) => {
      await tx.run("INSERT INTO notes (text) VALUES ('first, before the timeout')");
      await new Promise((resolve) => setTimeout(resolve, 400));
      late = tx.run("INSERT INTO notes (text) VALUES ('first, after the timeout')").catch((error: unknown) => error);
      await late;
    }, { timeoutMs: 150 }).catch((error: unknown) => error);
    // A second caller starts as soon as the first session is rolled back.
    const second = engine.serializable(async (tx) => {
      await tx.run("INSERT INTO notes (text) VALUES ('second')");
      await new Promise((resolve) => setTimeout(resolve, 600));
    });
    const [firstOutcome] = await Promise.all([first, second]);
    expect((firstOutcome as { code?: string }).code).toBe('ERR_TRANSACTION_CLOSED');
    expect(((await late) as { code?: string }).code).toBe('ERR_TRANSACTION_CLOSED');
    const check = new Database(db, { readonly: true });
    const texts = check.prepare('SELECT text FROM notes ORDER BY id').pluck().all();
    check.close();
    expect(texts).toEqual(['second']);
  });

  it('is EXCLUSIVE with isolation_levels on even when explicit_transactions is off', async () => {
    const db = join(tempDir(), 'league.db');
    await using engine = await createEngine({ database: db, source: demoSource(), flags: { ...PROFILES.full, explicit_transactions: false, wal_mode: false } });
    await engine.submit({ sql: 'CREATE TABLE notes (id INTEGER PRIMARY KEY)' });
    let readerError: string | null = null;
    await engine.serializable(async () => {
      // In rollback-journal mode an EXCLUSIVE transaction keeps readers out; a deferred one would not.
      const reader = new Database(db, { readonly: true, timeout: 0 });
      try {
        reader.prepare('SELECT count(*) FROM notes').get();
      } catch (error) {
        readerError = (error as { code?: string }).code ?? 'error';
      } finally {
        reader.close();
      }
    });
    expect(readerError).toMatch(/^SQLITE_BUSY/);
  });
});

describe('lock figures', () => {
  it('max_retry_count counts retries, the info alert fires once per operation, and the per-job figures add up to the run\'s', async () => {
    const db = join(tempDir(), 'league.db');
    await using engine = await createEngine({
      database: db, source: demoSource({ seed: 4 }), flags: PROFILES.recommended,
      busyTimeoutMs: 100, retry: { attempts: 6, initialDelayMs: 100, factor: 1, maxDelayMs: 100, jitter: 0 },
    });
    await engine.enqueue({ leagueKey: LEAGUE, season: 2019 }).done;
    const alerts: Alert[] = [];
    engine.on('alert', (alert) => alerts.push(alert));
    // Held for about four attempts of 100 ms busy wait + 100 ms backoff: the fifth gets it.
    const held = await holdWriteLock(db, 750);
    const summary = await engine.enqueue({ leagueKey: LEAGUE, season: 2020 }).done;
    await held.released;
    const row = query<{ lock_count: number; max_retry_count: number; total_retry_time: number }>(db,
      'SELECT lock_count, max_retry_count, total_retry_time FROM job_log WHERE job_id = ?', summary.jobId);
    const sums = query<{ locks: number; retrySeconds: number }>(db, 'SELECT sum(lock_count) AS locks, sum(total_retry_time) AS retrySeconds FROM job_log');
    expect(row.max_retry_count).toBeGreaterThanOrEqual(3);
    expect(row.max_retry_count).toBe(summary.maxAttempts - 1);
    expect(engine.totals.maxRetryCount).toBe(row.max_retry_count);
    expect(sums.locks).toBe(engine.totals.lockCount);
    expect(sums.retrySeconds).toBeCloseTo(engine.totals.totalRetryTime, 3);
    expect(row.total_retry_time).toBeGreaterThan(0.5);
    const infos = alerts.filter((alert) => alert.level === 'info' && alert.message.includes('attempts'));
    expect(infos).toHaveLength(1);
    expect(infos[0]!.figures.attempts).toBe(summary.maxAttempts);
  });

  it('with retry_logic off a commit that meets a lock fails at once, with no retry counted for it', async () => {
    const db = join(tempDir(), 'league.db');
    // Pages come slowly, so the lock is taken after the job started and its first commit meets it.
    await using engine = await createEngine({ database: db, source: demoSource({ seed: 4, latencyMs: 150 }), pagesPerTask: 1, flags: { ...PROFILES.recommended, retry_logic: false }, busyTimeoutMs: 50 });
    const job = engine.enqueue({ leagueKey: LEAGUE, season: 2020 });
    await new Promise<void>((resolve) => engine.once('job:started', () => resolve()));
    const held = await holdWriteLock(db, 1200);
    const outcome = await job.done.catch((error: unknown) => error);
    await held.released;
    expect((outcome as { code?: string }).code).toBe('ERR_JOB_FAILED');
    // The failure's cause keeps its class across the thread boundary.
    expect((outcome as { cause?: unknown }).cause).toBeInstanceOf(DatabaseLockedError);
    const row = query<{ lock_count: number; max_retry_count: number; lock_operations: string }>(db,
      'SELECT lock_count, max_retry_count, lock_operations FROM job_log WHERE job_id = ?', `${LEAGUE}:2020`);
    const operations = JSON.parse(row.lock_operations) as Record<string, number>;
    // The commit met the lock once and was not retried; recording the job's end always
    // retries (a failed job must not stay 'running'), and its retries are what max_retry_count shows.
    expect(operations.commit).toBe(1);
    const summary = (outcome as { summary: { maxAttempts: number } }).summary;
    expect(row.max_retry_count).toBe(summary.maxAttempts - 1);
    expect(row.lock_count).toBe(Object.entries(operations).filter(([name]) => !name.startsWith('holder:')).reduce((sum, [, count]) => sum + count, 0));
  });

  it('submit() rejects with a DatabaseLockedError instance, and reports lastInsertRowid only for inserts', async () => {
    const db = join(tempDir(), 'league.db');
    await using engine = await createEngine({ database: db, source: demoSource(), flags: { ...PROFILES.recommended, retry_logic: false }, busyTimeoutMs: 50 });
    await engine.submit({ sql: 'CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)' });
    const inserted = await engine.submit({ sql: 'INSERT INTO notes (text) VALUES (?)', params: [['a'], ['b']] });
    expect(inserted).toEqual({ changes: 2, lastInsertRowid: 2 });
    const updated = await engine.submit({ sql: 'UPDATE notes SET text = upper(text)' });
    expect(updated).toEqual({ changes: 2 });
    const held = await holdWriteLock(db, 500);
    const error = await engine.submit({ sql: "INSERT INTO notes (text) VALUES ('c')" }).catch((e: unknown) => e);
    await held.released;
    expect(error).toBeInstanceOf(DatabaseLockedError);
  });
});

describe('sources never mix', () => {
  it('a league written from the demo source refuses the real import until --replace-source, which leaves only the real rows', async () => {
    const db = join(tempDir(), 'league.db');
    {
      await using demo = await createEngine({ database: db, source: demoSource(), flags: PROFILES.recommended });
      await demo.enqueue({ leagueKey: '403.l.17457', season: 2020 }).done;
    }
    const demoRows = committedRows(db);
    expect(demoRows).toBeGreaterThan(0);
    await using real = await createEngine({ database: db, source: fileSource({ input: NHL_2020 }), flags: PROFILES.recommended });
    const refused = await real.enqueue({ leagueKey: '403.l.17457', season: 2020 }).done.catch((error: unknown) => error);
    expect((refused as { cause?: { code?: string } }).cause?.code).toBe('ERR_SOURCE_MISMATCH');
    expect((refused as Error).message).toMatch(/demo source/);
    expect(committedRows(db)).toBe(demoRows);
    const replaced = await real.enqueue({ leagueKey: '403.l.17457', season: 2020, replaceSource: true }).done;
    expect(replaced.rowsInserted).toBe(584);
    expect(committedRows(db)).toBe(584);
    expect(query<{ source: string }>(db, "SELECT source FROM job_log WHERE job_id = '403.l.17457:2020'").source).toBe('file');
  });
});

describe('pages and transactions', () => {
  it('never splits a page across transactions, even when the budget would cut after every batch', async () => {
    const db = join(tempDir(), 'league.db');
    // Batches of 10 rows: a page of 25 records is two to four batches. A 1 ms budget would cut
    // after nearly every batch if a cut inside a page were allowed.
    await using engine = await createEngine({ database: db, source: demoSource({ seed: 6 }), flags: PROFILES.recommended, batchSize: 10, transactionBudgetMs: 1 });
    const summaries = await Promise.all([2020, 2021].map((season) => engine.enqueue({ leagueKey: LEAGUE, season }).done));
    const pages = summaries.reduce((sum, summary) => sum + summary.pagesCommitted, 0);
    const batches = query<{ n: number }>(db, 'SELECT sum(batches) AS n FROM writer_metrics').n;
    expect(batches).toBeGreaterThan(2 * pages);
    expect(engine.totals.transactions).toBeLessThanOrEqual(pages);
    const duplicates = query<{ n: number }>(db, 'SELECT count(*) - count(DISTINCT job_id || char(0) || raw) AS n FROM rejected_rows').n;
    expect(duplicates).toBe(0);
  });
});

describe('small API truths', () => {
  it('close({ timeoutMs }) bounds stopping while the writer waits out a lock', async () => {
    const db = join(tempDir(), 'league.db');
    const engine = await createEngine({
      database: db, source: demoSource(), flags: PROFILES.recommended, busyTimeoutMs: 200,
      retry: { attempts: 10, initialDelayMs: 2000, factor: 1, maxDelayMs: 2000, jitter: 0 },
    });
    await engine.submit({ sql: 'CREATE TABLE notes (id INTEGER PRIMARY KEY)' });
    const held = await holdWriteLock(db, 4000);
    const write = engine.submit({ sql: 'INSERT INTO notes DEFAULT VALUES' }).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const started = performance.now();
    await engine.close({ timeoutMs: 500 });
    expect(performance.now() - started).toBeLessThan(2500);
    expect(await write).toBeInstanceOf(Error);
    held.process.kill('SIGKILL');
    await held.released.catch(() => undefined);
  });
});
