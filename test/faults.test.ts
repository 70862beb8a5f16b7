/**
 * Faults during a backfill: the disk fills up, the database file is deleted or replaced, the
 * source hangs, answers garbage or fails half-way through a season, another process keeps the
 * write lock past the retry budget. Each must end in a clear error, leave the table consistent
 * (nothing half-written), and let the next run resume and end with exactly the rows of an
 * uninterrupted run. test/engine.test.ts covers a lock with retry_logic off and
 * test/backfill-cli.test.ts kills and interrupts; test/backfill-yahoo-cli.test.ts covers
 * misbehaviour the source recovers from. This file covers what it cannot recover from.
 */
import { existsSync, renameSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
// The engine starts worker threads, which Node 20 can only load as JavaScript: test the build.
import { createEngine, demoLeagueKeys, demoSource, PROFILES, type BackfillError, type Engine, type JobHandle } from '../dist/src/index.js';
import { yahooSource } from '../dist/src/source/yahoo/source.js';
import type { BackfillSummary } from '../src/cli/commands/backfill.js';
import { generateDemoSeason } from '../src/source/demo/index.js';
import { collect, runCli, startCli } from './helpers/cli.js';
import { seasonFixtureKeys, startFakeYahooServer, type FakeYahooServer, type Misbehaviour } from './helpers/fake-yahoo-server.js';
import { committedRows, holdWriteLock, readTable, waitFor } from './helpers/processes.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('league-backfill-faults-');
const LEAGUE = '461.l.424242';
const CLEAN_ENV = { LEAGUE_BACKFILL_DB: '', LEAGUE_BACKFILL_FLAGS: '', LEAGUE_BACKFILL_ENV: '' };

function expectedKeys(leagues: string[], seasons: number[], seed: number): string[] {
  return leagues
    .flatMap((league) => seasons.flatMap((season) => generateDemoSeason(league, season, { seed }).rows.map((row) => `${row.transactionKey}|${row.playerId}`)))
    .sort();
}

/** Settles every job: the summary's status, or the error the job failed with. */
async function outcomes(handles: JobHandle[]): Promise<Array<string | BackfillError>> {
  return Promise.all(handles.map((handle) => handle.done.then((summary) => summary.status, (error: BackfillError) => error)));
}

/** Every job_log row agrees with the table: a job's stored rows are exactly the rows its counters say were inserted. */
function jobLogAgreesWithTable(path: string): void {
  const db = new Database(path, { readonly: true });
  try {
    const jobs = db.prepare('SELECT job_id, rows_inserted, cursor FROM job_log').all() as Array<{ job_id: string; rows_inserted: number; cursor: number }>;
    for (const job of jobs) {
      const stored = db.prepare('SELECT count(*) FROM transactions WHERE job_id = ?').pluck().get(job.job_id) as number;
      expect(stored, job.job_id).toBe(job.rows_inserted);
    }
  } finally {
    db.close();
  }
}

describe('the disk fills up during a backfill', () => {
  it('rolls the batch back, fails the jobs with SQLITE_FULL, and a run with space again ends with the rows of an uninterrupted run', async () => {
    const dir = tempDir();
    const seasons = [2021, 2022, 2023];
    const reference = join(dir, 'reference.db');
    {
      await using engine = await createEngine({ database: reference, source: demoSource({ seed: 21 }), flags: PROFILES.recommended });
      expect(await outcomes(seasons.map((season) => engine.enqueue({ leagueKey: LEAGUE, season })))).toEqual(['completed', 'completed', 'completed']);
    }
    const referenceKeys = readTable(reference).keys;

    const path = join(dir, 'full.db');
    {
      await using engine = await createEngine({ database: path, source: demoSource({ seed: 21 }), flags: PROFILES.recommended });
      // max_page_count is a setting of one connection: submit() runs it on the writer's own.
      const reader = new Database(path, { readonly: true });
      const pages = reader.pragma('page_count', { simple: true }) as number;
      reader.close();
      const limit = pages + 30;
      await engine.submit({ sql: `PRAGMA max_page_count = ${limit}` });
      const [setting] = await engine.serializable((tx) => tx.all<{ max_page_count: number }>('PRAGMA max_page_count'));
      expect(setting?.max_page_count).toBe(limit);

      const results = await outcomes(seasons.map((season) => engine.enqueue({ leagueKey: LEAGUE, season })));
      const failures = results.filter((result): result is BackfillError => typeof result !== 'string');
      expect(failures.length).toBeGreaterThan(0);
      for (const failure of failures) {
        expect(failure.code).toBe('ERR_JOB_FAILED');
        const cause = failure.cause as BackfillError;
        expect(cause.code).toBe('ERR_DATABASE_WRITE');
        expect((cause.cause as { sqliteCode?: string }).sqliteCode).toBe('SQLITE_FULL');
        expect(cause.message).toMatch(/database or disk is full/);
        expect(cause.message).toMatch(/rolled back, nothing half-written/);
      }
      expect(engine.totals.failed).toBe(failures.length);
      console.info(`disk full: ${failures.length} of 3 jobs failed: ${failures[0]!.message}`);
    }
    const partial = readTable(path);
    expect(partial.integrity).toBe('ok');
    expect(partial.rows).toBeLessThan(referenceKeys.length);
    expect(partial.statuses.failed).toBeGreaterThan(0);
    jobLogAgreesWithTable(path);

    // Space again: a new engine (a new connection, without the limit) resumes every job.
    {
      await using engine = await createEngine({ database: path, source: demoSource({ seed: 21 }), flags: PROFILES.recommended });
      expect(await outcomes(seasons.map((season) => engine.enqueue({ leagueKey: LEAGUE, season })))).toEqual(['completed', 'completed', 'completed']);
    }
    const state = readTable(path);
    expect(state.keys).toEqual(referenceKeys);
    expect(state.distinctKeys).toBe(state.rows);
    expect(state.integrity).toBe('ok');
    expect(state.statuses).toEqual({ completed: 3 });
  });
});

describe('the database file is deleted or replaced while a backfill runs', () => {
  const SEED = 33;
  const SEASONS = [2020, 2021, 2022, 2023];
  const WORKLOAD = ['--leagues', '1', '--seasons', '2020-2023', '--seed', String(SEED), '--no-progress'];
  const expected = (): string[] => expectedKeys(demoLeagueKeys(1, SEED), SEASONS, SEED);

  /** Starts a slow backfill, waits for its first commit, applies `fault`, and returns how it ended. */
  async function backfillWith(db: string, fault: () => void): Promise<{ code: number | null; stderr: string; summary: BackfillSummary }> {
    const child = startCli(['backfill', '--db', db, ...WORKLOAD, '--latency', '40', '--json'], { env: CLEAN_ENV });
    const exited = collect(child);
    await waitFor(() => committedRows(db) > 0, 30_000, 'a first commit');
    fault();
    const result = await exited;
    return { code: result.code, stderr: result.stderr, summary: JSON.parse(result.stdout) as BackfillSummary };
  }

  it('deleted: the CLI stops, says so and exits 1; the next run writes a complete new file', async () => {
    const db = join(tempDir(), 'league.db');
    const { code, stderr, summary } = await backfillWith(db, () => unlinkSync(db));
    console.info(`deleted: exit ${code}: ${stderr.trim().split('\n').at(-1)}`);
    expect(code, stderr).toBe(1);
    // Whichever sees it first, the writer (failing the batch it was given) or the command line
    // (stopping the run), the run stops with a message that says what happened.
    expect(stderr).toMatch(/league\.db was deleted while the (backfill ran, so the backfill stopped|engine had it open)/);
    expect(summary.cancelled + summary.failed + summary.completed).toBe(SEASONS.length);
    expect(summary.cancelled + summary.failed).toBeGreaterThan(0);
    expect(existsSync(db)).toBe(false);

    const again = await runCli(['backfill', '--db', db, ...WORKLOAD, '--json'], { env: CLEAN_ENV });
    expect(again.code, again.stderr).toBe(0);
    const state = readTable(db);
    expect(state.integrity).toBe('ok');
    expect(state.keys).toEqual(expected());
    expect(state.statuses).toEqual({ completed: SEASONS.length });
  });

  it('replaced: the CLI stops and names the stale -wal; with it moved away the new file is intact, and the next run completes in it', async () => {
    const dir = tempDir();
    const db = join(dir, 'league.db');
    const replacement = join(dir, 'restored.db');
    const other = new Database(replacement);
    other.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, note TEXT); INSERT INTO notes (note) VALUES ('restored from a backup')");
    other.close();

    const { code, stderr, summary } = await backfillWith(db, () => renameSync(replacement, db));
    console.info(`replaced: exit ${code}: ${stderr.trim().split('\n').at(-1)}`);
    expect(code, stderr).toBe(1);
    expect(stderr).toMatch(/Database \S*league\.db was replaced by another file while the backfill ran, so the backfill stopped/);
    expect(stderr).toMatch(/league\.db-wal and \S*league\.db-shm files beside the new file belong to the old one: move them away/);
    expect(summary.cancelled + summary.failed).toBeGreaterThan(0);

    // What the message says to do: the -wal and -shm beside the new file are the old file's.
    for (const suffix of ['-wal', '-shm']) if (existsSync(db + suffix)) renameSync(db + suffix, join(dir, `stale${suffix}`));
    const check = new Database(db, { readonly: true });
    expect(check.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(check.prepare('SELECT note FROM notes').pluck().all()).toEqual(['restored from a backup']);
    check.close();

    const again = await runCli(['backfill', '--db', db, ...WORKLOAD, '--json'], { env: CLEAN_ENV });
    expect(again.code, again.stderr).toBe(0);
    const state = readTable(db);
    expect(state.integrity).toBe('ok');
    expect(state.keys).toEqual(expected());
    const after = new Database(db, { readonly: true });
    expect(after.prepare('SELECT note FROM notes').pluck().all()).toEqual(['restored from a backup']);
    after.close();
  });

  it('deleted under the API: the engine notices, fails the jobs still running with a clear error, and close() completes', async () => {
    const db = join(tempDir(), 'league.db');
    const engine = await createEngine({ database: db, source: demoSource({ seed: SEED, latencyMs: 30 }), flags: PROFILES.recommended, pagesPerTask: 1 });
    const errors: Error[] = [];
    engine.on('error', (error) => errors.push(error));
    const handles = SEASONS.map((season) => engine.enqueue({ leagueKey: LEAGUE, season }));
    await waitFor(() => committedRows(db) > 0, 30_000, 'a first commit');
    unlinkSync(db);
    const results = await Promise.allSettled(handles.map((handle) => handle.done));
    await engine.close();
    expect(errors).toEqual([]);
    const failures = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
    expect(failures.length).toBeGreaterThan(0);
    for (const failure of failures) {
      expect((failure.reason as Error).message).toMatch(/was deleted while the engine had it open/);
    }
    expect(existsSync(db)).toBe(false);
  });
});

describe('a source that hangs, answers garbage, or fails half-way through a season', () => {
  const YAHOO_LEAGUE = '403.l.17457';
  const FIXTURE_KEYS = seasonFixtureKeys();
  let server: FakeYahooServer;
  beforeAll(async () => {
    server = await startFakeYahooServer();
  });
  afterAll(async () => {
    await server.close();
  });
  afterEach(() => server.reset());

  /** An engine on the fake server: no rate limit, one fetch attempt per page at the engine level, two in the client. */
  function yahooEngine(database: string, timeoutMs = 5000): Promise<Engine> {
    return createEngine({
      database,
      flags: PROFILES.recommended,
      requestsPerSecond: 0,
      fetchAttempts: 1,
      source: yahooSource({ apiBase: server.apiBase, tokenUrl: server.tokenUrl, accessToken: server.accessToken, timeoutMs, maxAttempts: 2, retryDelayMs: 10, retryMaxDelayMs: 20 }),
    });
  }

  async function failOnce(path: string, misbehaviours: Misbehaviour[], timeoutMs?: number): Promise<BackfillError> {
    server.script(...misbehaviours);
    await using engine = await yahooEngine(path, timeoutMs);
    const [result] = await outcomes([engine.enqueue({ leagueKey: YAHOO_LEAGUE, season: 2020 })]);
    expect(typeof result, 'the job must fail').not.toBe('string');
    return result as BackfillError;
  }

  async function resumeToCompletion(path: string): Promise<void> {
    server.reset();
    {
      await using engine = await yahooEngine(path);
      const [result] = await outcomes([engine.enqueue({ leagueKey: YAHOO_LEAGUE, season: 2020 })]);
      expect(result).toBe('completed');
    }
    const state = readTable(path);
    expect(state.keys).toEqual(FIXTURE_KEYS);
    expect(state.distinctKeys).toBe(state.rows);
    expect(state.integrity).toBe('ok');
    expect(state.statuses).toEqual({ completed: 1 });
  }

  it('hangs: each request is cut at timeoutMs, the job fails with a transient source error naming the limit, and a later run completes', async () => {
    const path = join(tempDir(), 'league.db');
    const started = performance.now();
    const error = await failOnce(path, Array.from({ length: 4 }, () => ({ kind: 'slow', delayMs: 3000 }) as const), 150);
    // Two attempts of 150 ms, not two of 3 s: the hang was cut short.
    expect(performance.now() - started).toBeLessThan(2500);
    expect(error.code).toBe('ERR_JOB_FAILED');
    const cause = error.cause as BackfillError & { transient?: boolean };
    expect(cause.code).toBe('ERR_SOURCE');
    expect(cause.message).toMatch(/150 ms/);
    console.info(`hang: ${error.message}`);
    expect(readTable(path).rows).toBe(0);
    await resumeToCompletion(path);
  });

  it('answers garbage: an HTML page on every attempt fails the job as a permanent source error, and a later run completes', async () => {
    const path = join(tempDir(), 'league.db');
    const error = await failOnce(path, Array.from({ length: 4 }, () => ({ kind: 'html' }) as const));
    expect(error.code).toBe('ERR_JOB_FAILED');
    const cause = error.cause as BackfillError;
    expect(cause.code).toBe('ERR_SOURCE');
    expect(cause.message).toMatch(/JSON/);
    console.info(`garbage: ${error.message}`);
    await resumeToCompletion(path);
  });

  it('fails after page 2 persistently: the job fails with the pages before committed, and the next run resumes from the committed cursor', async () => {
    const path = join(tempDir(), 'league.db');
    const ok = { kind: 'slow', delayMs: 0 } as const;
    // The metadata request and the first two pages answer; every later request is a 500.
    const error = await failOnce(path, [ok, ok, ok, ...Array.from({ length: 20 }, () => ({ kind: 'serverError' }) as const)]);
    expect(error.code).toBe('ERR_JOB_FAILED');
    expect((error.cause as BackfillError).code).toBe('ERR_SOURCE');
    expect((error.cause as BackfillError).message).toMatch(/500/);
    console.info(`half-way: ${error.message}`);

    const db = new Database(path, { readonly: true });
    const job = db.prepare('SELECT status, cursor, rows_inserted, error FROM job_log').get() as { status: string; cursor: number; rows_inserted: number; error: string };
    db.close();
    expect(job.status).toBe('failed');
    expect(job.error).toMatch(/500/);
    // Pages are committed in order with their cursor: one or both of the pages that answered.
    expect([25, 50]).toContain(job.cursor);
    expect(job.rows_inserted).toBeGreaterThan(0);
    jobLogAgreesWithTable(path);

    await resumeToCompletion(path);
    const pages = server.requests.filter((request) => request.path.includes('/transactions;'));
    expect(pages[0]?.path).toContain(`;start=${job.cursor};`);
  });
});

describe('another process holds the write lock past the retry budget', () => {
  it('fails the job cleanly, naming the holder, and a later run resumes to completion', async () => {
    const path = join(tempDir(), 'league.db');
    const seasons = [2022];
    let holderPid: number | undefined;
    {
      await using engine = await createEngine({
        database: path, source: demoSource({ seed: 44, latencyMs: 30 }), flags: PROFILES.recommended, pagesPerTask: 1,
        busyTimeoutMs: 100, retry: { attempts: 3, initialDelayMs: 50 },
      });
      const handle = engine.enqueue({ leagueKey: LEAGUE, season: 2022 });
      await waitFor(() => committedRows(path) > 0, 30_000, 'a first commit');
      const holder = await holdWriteLock(path, 3000);
      holderPid = holder.process.pid;
      const lockedAt = performance.now();
      const [result] = await outcomes([handle]);
      const failedAfterMs = performance.now() - lockedAt;
      const holderStillRunning = holder.process.exitCode === null;
      await holder.released;
      expect(typeof result, 'the job must fail').not.toBe('string');
      const error = result as BackfillError;
      expect(error.code).toBe('ERR_JOB_FAILED');
      expect((error.cause as BackfillError).code).toBe('ERR_DATABASE_LOCKED');
      expect(error.message).toMatch(/stayed locked by another process through 3 attempts/);
      expect(error.message).toMatch(new RegExp(`Held by: pid ${holderPid} \\(.*lock-holder`));
      // Within the retry budget (well under a second), not after the holder let go.
      expect(holderStillRunning).toBe(true);
      expect(failedAfterMs).toBeLessThan(2500);
      console.info(`lock: failed after ${Math.round(failedAfterMs)} ms: ${error.message}`);
    }
    const partial = readTable(path);
    expect(partial.integrity).toBe('ok');
    expect(partial.rows).toBeGreaterThan(0);
    expect(partial.rows).toBeLessThan(expectedKeys([LEAGUE], seasons, 44).length);
    jobLogAgreesWithTable(path);

    await using engine = await createEngine({ database: path, source: demoSource({ seed: 44 }), flags: PROFILES.recommended });
    const [result] = await outcomes([engine.enqueue({ leagueKey: LEAGUE, season: 2022 })]);
    expect(result).toBe('completed');
    const state = readTable(path);
    expect(state.keys).toEqual(expectedKeys([LEAGUE], seasons, 44));
    expect(state.statuses).toEqual({ completed: 1 });
    expect(holderPid).toBeGreaterThan(0);
  });
});
