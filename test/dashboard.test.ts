import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import Database from 'better-sqlite3';
import type { Page } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
// The engine starts worker threads, which Node 20 can only load as JavaScript: test the build.
import { createEngine, demoLeagueKeys, demoSource, PROFILES, startDashboard, type DashboardState } from '../dist/src/index.js';
import { launchBrowser, type Browser } from './helpers/browser.js';
import { collect, runCli, startCli } from './helpers/cli.js';
import { startLegacyWriter, startNotebook, type Figures, type Neighbour } from './helpers/neighbours.js';
import { holdWriteLock, type HeldLock } from './helpers/processes.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('league-backfill-dashboard-');
const SCREENSHOT_COPY = '/tmp/dashboard-test.png';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/** Starts `league-backfill dashboard` as a child process; resolves with its URL once it listens. */
async function startDashboardProcess(db: string, extra: string[] = []): Promise<{ child: ChildProcess; url: string; exited: Promise<{ code: number | null; stderr: string }> }> {
  const child = startCli(['dashboard', '--db', db, '--port', '0', '--interval', '0.25', '--json', ...extra]);
  const result = collect(child, 120_000);
  cleanups.push(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await result.catch(() => undefined);
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (chunk: Buffer | string) => {
      out += String(chunk);
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve((JSON.parse(line) as { url: string }).url);
    });
    child.on('close', (code) => reject(new Error(`dashboard exited with ${code} before listening`)));
  });
  return { child, url, exited: result.then((r) => ({ code: r.code, stderr: r.stderr })) };
}

async function openBrowser(): Promise<Browser> {
  const browser = await launchBrowser();
  cleanups.push(() => browser.close());
  return browser;
}

/** The text of a KPI card's value. */
const kpi = (page: Page, id: string): Promise<string> => page.locator(`[data-kpi="${id}"] .value .v`).innerText();

interface DatabaseFigures {
  rowsInserted: number;
  rowsStored: number;
  jobs: number;
  byState: Record<string, number>;
  transactions: number;
  batches: number;
  locks: number;
  checkpoints: number;
  checkpointsBlocked: number;
  yields: number;
  neighbourCommits: number;
  alerts: number;
  holderPids: number[];
}

/** What the database holds, read directly (the page must show the same). */
function readFigures(path: string): DatabaseFigures {
  const db = new Database(path, { readonly: true });
  try {
    const one = (sql: string): number => Number(db.prepare(sql).pluck().get() ?? 0);
    return {
      rowsInserted: one('SELECT coalesce(sum(rows_inserted), 0) FROM job_log'),
      rowsStored: one('SELECT count(*) FROM transactions'),
      jobs: one('SELECT count(*) FROM job_log'),
      byState: Object.fromEntries((db.prepare('SELECT status, count(*) AS n FROM job_log GROUP BY status').all() as Array<{ status: string; n: number }>).map((r) => [r.status, r.n])),
      transactions: one('SELECT coalesce(sum(transactions), 0) FROM writer_metrics'),
      batches: one('SELECT coalesce(sum(batches), 0) FROM writer_metrics'),
      locks: one('SELECT coalesce(sum(locks), 0) FROM writer_metrics'),
      checkpoints: one('SELECT coalesce(sum(checkpoints), 0) FROM writer_metrics'),
      checkpointsBlocked: one('SELECT coalesce(sum(checkpoints_blocked), 0) FROM writer_metrics'),
      yields: one('SELECT coalesce(sum(yields), 0) FROM writer_metrics'),
      neighbourCommits: one('SELECT coalesce(sum(neighbour_commits), 0) FROM writer_metrics'),
      alerts: one('SELECT count(*) FROM writer_alerts'),
      holderPids: db.prepare('SELECT DISTINCT pid FROM writer_lock_holders').pluck().all() as number[],
    };
  } finally {
    db.close();
  }
}

describe('league-backfill dashboard, in a real browser', () => {
  it('shows a backfill running in another process as it runs, then exactly what the database holds', async () => {
    const dir = tempDir();
    const db = join(dir, 'league.db');
    const dashboard = await startDashboardProcess(db);
    const browser = await openBrowser();
    const page = await browser.newPage();
    await page.goto(dashboard.url);

    // Before the backfill: the file does not exist, and the page says it waits for it.
    await page.waitForSelector('body[data-ready="true"]');
    await expect.poll(() => page.locator('#banner').innerText()).toContain('No such file yet');

    const engine = await createEngine({
      database: db, source: demoSource({ seed: 21, latencyMs: 10 }), flags: PROFILES.recommended,
      // A small threshold, so the writer checkpoints during this short run and meets the notebook's pin.
      checkpointThresholdBytes: 1024 * 1024, pagesPerTask: 2,
    });
    cleanups.push(() => engine.close());
    // Neighbours: a script holding the write lock again and again, a legacy writer committing
    // into its own table, and a notebook holding a read transaction open (it pins the WAL).
    const holder: HeldLock = await holdWriteLock(db, 220, 9, 120);
    cleanups.push(async () => {
      holder.process.kill('SIGTERM');
      await holder.released.catch(() => undefined);
    });
    const writer: Neighbour<Figures> = startLegacyWriter({ database: db, table: 'legacy_notes', intervalMs: 20, durationMs: 6000 });
    const notebook = startNotebook({ database: db, holdMs: 2500 });
    cleanups.push(() => writer.stop(), () => notebook.stop());
    await Promise.all([writer.ready, notebook.ready]);

    const jobs = demoLeagueKeys(3, 21).flatMap((leagueKey) => [2023, 2024].map((season) => engine.enqueue({ leagueKey, season })));
    // While it runs, the page updates by itself: the engine's lease is seen, and rows appear.
    await page.waitForSelector('#status[data-status="running"]', { timeout: 20_000 });
    expect(await page.locator('#status').innerText()).toContain(`pid ${process.pid}`);
    await expect.poll(async () => Number((await kpi(page, 'rows-inserted')).replaceAll(',', '')), { timeout: 20_000 }).toBeGreaterThan(0);
    await Promise.all(jobs.map((job) => job.done));
    await holder.released;
    await Promise.all([writer.stop(), notebook.stop()]);
    await engine.close();

    const figures = readFigures(db);
    expect(figures.rowsInserted).toBe(engine.totals.rowsInserted);
    expect(figures.rowsStored).toBe(figures.rowsInserted);
    expect(figures.byState).toEqual({ completed: 6 });
    expect(figures.locks).toBeGreaterThan(0);
    expect(figures.holderPids).toContain(holder.process.pid);

    // After the run the page settles on the database's figures (no reload).
    await page.waitForSelector('#status[data-status="idle"]', { timeout: 10_000 });
    await expect.poll(() => kpi(page, 'rows-inserted'), { timeout: 10_000 }).toBe(fmt(figures.rowsInserted));
    expect(await kpi(page, 'jobs')).toBe(`${figures.byState.completed} / ${figures.jobs}`);
    for (const state of ['queued', 'running', 'completed', 'failed', 'cancelled']) {
      expect(await page.locator(`[data-state="${state}"]`).innerText(), state).toBe(fmt(figures.byState[state] ?? 0));
    }
    expect(await kpi(page, 'transactions')).toBe(fmt(figures.transactions));
    expect(await page.locator('[data-kpi="transactions"] .note').innerText()).toContain(`${fmt(figures.batches)} batches`);
    expect(await kpi(page, 'locks')).toBe(fmt(figures.locks));
    expect(await page.locator('[data-figure="checkpoints"]').innerText()).toBe(fmt(figures.checkpoints));
    expect(await page.locator('[data-figure="checkpoints-blocked"]').innerText()).toBe(fmt(figures.checkpointsBlocked));
    expect(await page.locator('[data-figure="yields"]').innerText()).toBe(fmt(figures.yields));
    expect(await page.locator('[data-figure="neighbour-commits"]').innerText()).toBe(fmt(figures.neighbourCommits));
    expect(await page.locator('#total-alerts').innerText()).toBe(`${fmt(figures.alerts)} recorded`);
    const holderPids = await page.locator('[data-table="lock-holders"] tbody tr td:first-child').allInnerTexts();
    expect(holderPids.map(Number)).toContain(holder.process.pid);

    // Every chart is drawn, with data.
    const bars = async (chart: string): Promise<number> => Number(await page.locator(`svg[data-chart="${chart}"]`).getAttribute('data-bars'));
    expect(await bars('rows-per-minute')).toBeGreaterThan(0);
    expect(await bars('locks-per-minute')).toBeGreaterThan(0);
    expect(await bars('longest-holds')).toBeGreaterThan(0);
    expect(await bars('wal-per-minute')).toBeGreaterThan(0);
    expect(Number(await page.locator('svg[data-chart="rows-live"]').getAttribute('data-points'))).toBeGreaterThan(2);
    expect(await page.locator('[data-chart="jobs-by-state"] > div').count()).toBe(5);
    expect(browser.errors).toEqual([]);

    const screenshot = join(dir, 'dashboard.png');
    await page.screenshot({ path: screenshot, fullPage: true });
    copyFileSync(screenshot, SCREENSHOT_COPY);
    expect(readFileSync(screenshot).subarray(1, 4).toString()).toBe('PNG');

    // Ctrl-C (SIGTERM here) stops it cleanly.
    dashboard.child.kill('SIGTERM');
    expect((await dashboard.exited).code).toBe(0);
  }, 180_000);

  it('reads a database of schema version 1 without changing it, and says what it does not record', async () => {
    const dir = tempDir();
    const db = join(dir, 'old.db');
    makeVersion1Database(db);
    const before = createHash('sha256').update(readFileSync(db)).digest('hex');
    const server = await startDashboard({ database: db, port: 0, intervalMs: 200 });
    cleanups.push(() => server.close());
    const browser = await openBrowser();
    const page = await browser.newPage();
    await page.goto(server.url);
    await page.waitForSelector('body[data-ready="true"]');
    await expect.poll(() => kpi(page, 'rows-inserted')).toBe('1,234');
    expect(await kpi(page, 'jobs')).toBe('2 / 3');
    expect(await page.locator('[data-state="failed"]').innerText()).toBe('1');
    expect(await kpi(page, 'transactions')).toBe('17');
    expect(await kpi(page, 'locks')).toBe('7');
    // Who held the lock, from job_log.lock_operations (schema 1 kept counts there).
    expect(await page.locator('[data-table="lock-holders"] tbody tr').count()).toBe(1);
    expect(await page.locator('[data-table="lock-holders"] tbody td').nth(1).innerText()).toBe('python3 nb.py');
    expect(await page.locator('#body-alerts').innerText()).toContain('schema version 2 (this file is at version 1)');
    expect(await page.locator('#body-neighbours').innerText()).toContain('Not recorded in this database yet');
    expect(await page.locator('[data-figure="schema-version"]').innerText()).toBe('1');
    const state = await (await fetch(`${server.url}api/snapshot`)).json() as DashboardState;
    expect(state.database.missing).toEqual(expect.arrayContaining(['writer_alerts', 'writer_lock_holders', 'writer_state', 'writer_metrics.max_wal_bytes']));
    expect(browser.errors).toEqual([]);
    await server.close();
    expect(createHash('sha256').update(readFileSync(db)).digest('hex')).toBe(before);
  }, 60_000);
});

describe('league-backfill dashboard, from the command line', () => {
  it('refuses a file that is not a database, a bad port and a port in use, with exit 2', async () => {
    const dir = tempDir();
    const notDb = join(dir, 'notes.txt');
    writeFileSync(notDb, 'these are not the rows you are looking for\n');
    const bad = await runCli(['dashboard', '--db', notDb, '--port', '0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('is not a SQLite database');

    const port = await runCli(['dashboard', '--db', join(dir, 'x.db'), '--port', '70000']);
    expect(port.code).toBe(2);
    expect(port.stderr).toContain('Expected `--port` to be an integer from 0 to 65535, got "70000"');

    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => taken.close(resolve)));
    const busyPort = (taken.address() as { port: number }).port;
    const busy = await runCli(['dashboard', '--db', join(dir, 'x.db'), '--port', String(busyPort)]);
    expect(busy.code).toBe(2);
    expect(busy.stderr).toContain(`Expected \`--port\` to be a free TCP port on 127.0.0.1, got ${busyPort} (number). Another program listens on it`);

    const host = await runCli(['dashboard', '--db', join(dir, 'x.db'), '--port', '0', '--host', '192.0.2.1']);
    expect(host.code).toBe(2);
    expect(host.stderr).toContain('Expected `--host` to be an address of this machine');
  });

  it('prints its URL and serves the page, the JSON and /metrics; a polling dashboard never makes the writer wait', async () => {
    const dir = tempDir();
    const db = join(dir, 'league.db');
    const dashboard = await startDashboardProcess(db);
    expect(dashboard.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    {
      await using engine = await createEngine({ database: db, source: demoSource({ seed: 5 }), flags: PROFILES.recommended });
      await Promise.all([2022, 2023, 2024].map((season) => engine.enqueue({ leagueKey: '461.l.123456', season }).done));
      // Readers in WAL mode never hold the write lock: the dashboard's reads cost the writer nothing.
      expect(engine.totals.lockCount).toBe(0);
    }
    const page = await fetch(dashboard.url);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await page.text();
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+stylesheet|https?:\/\/(?!www\.w3\.org)/);
    const figures = readFigures(db);
    await expect.poll(async () => ((await (await fetch(`${dashboard.url}api/snapshot`)).json()) as DashboardState).jobs?.rowsInserted).toBe(figures.rowsInserted);
    const metrics = await (await fetch(`${dashboard.url}metrics`)).text();
    expect(metrics).toContain(`league_backfill_rows_inserted_total ${figures.rowsInserted}`);
    dashboard.child.kill('SIGINT');
    expect((await dashboard.exited).code).toBe(0);
  }, 120_000);
});

/**
 * A database as schema version 1 left it: job_log with the lock columns, writer_metrics
 * without the WAL and neighbour columns, and none of schema 2's tables.
 */
function makeVersion1Database(path: string): void {
  const db = new Database(path);
  const minute = Math.floor(Date.now() / 60_000);
  db.exec(`
    CREATE TABLE transactions (transaction_key TEXT NOT NULL, player_id TEXT, league_key TEXT, job_id TEXT, UNIQUE (transaction_key, player_id));
    CREATE TABLE job_log (job_id TEXT PRIMARY KEY, job_type TEXT, league_key TEXT, season INTEGER, source TEXT, status TEXT NOT NULL DEFAULT 'queued',
      cursor INTEGER, pages_fetched INTEGER, rows_fetched INTEGER, rows_inserted INTEGER, rows_ignored INTEGER, rows_rejected INTEGER, runs INTEGER,
      error TEXT, created_at TEXT, started_at TEXT, finished_at TEXT, updated_at TEXT, lock_count INTEGER DEFAULT 0, max_retry_count INTEGER DEFAULT 0,
      total_retry_time REAL DEFAULT 0, lock_operations TEXT);
    CREATE TABLE writer_metrics (minute INTEGER PRIMARY KEY, transactions INTEGER NOT NULL DEFAULT 0, batches INTEGER NOT NULL DEFAULT 0,
      failed_batches INTEGER NOT NULL DEFAULT 0, rows INTEGER NOT NULL DEFAULT 0, locks INTEGER NOT NULL DEFAULT 0, retries INTEGER NOT NULL DEFAULT 0,
      lock_wait_ms REAL NOT NULL DEFAULT 0, max_hold_ms REAL NOT NULL DEFAULT 0);
    PRAGMA user_version = 1;
  `);
  const job = db.prepare(`INSERT INTO job_log (job_id, league_key, season, source, status, rows_fetched, rows_inserted, pages_fetched, lock_count, lock_operations, updated_at, error)
    VALUES (?, ?, ?, 'demo', ?, ?, ?, ?, ?, ?, ?, ?)`);
  job.run('461.l.1:2023', '461.l.1', 2023, 'completed', 1000, 1000, 40, 5, JSON.stringify({ commit: 5, 'holder:4242 (python3 nb.py)': 5 }), '2026-01-02T03:04:05.000Z', null);
  job.run('461.l.1:2024', '461.l.1', 2024, 'completed', 234, 234, 10, 2, JSON.stringify({ commit: 2, 'holder:4242 (python3 nb.py)': 2 }), '2026-01-02T03:05:05.000Z', null);
  job.run('461.l.2:2024', '461.l.2', 2024, 'failed', 0, 0, 0, 0, null, '2026-01-02T03:06:05.000Z', 'the source failed');
  db.prepare('INSERT INTO writer_metrics VALUES (?, 10, 30, 1, 1000, 5, 2, 400, 80)').run(minute - 1);
  db.prepare('INSERT INTO writer_metrics VALUES (?, 7, 12, 0, 234, 2, 0, 120, 95)').run(minute);
  db.close();
}
