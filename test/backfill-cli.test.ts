import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { collect, runCli, startCli } from './helpers/cli.js';
import { committedRows, readTable, waitFor } from './helpers/processes.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir();
/** A workload of a few seconds: 3 demo leagues x 7 seasons, about 26,000 rows. */
const WORKLOAD = ['--leagues', '3', '--seasons', '2019-2025', '--seed', '4'];

async function referenceRun(dir: string): Promise<ReturnType<typeof readTable>> {
  const db = join(dir, 'reference.db');
  const result = await runCli(['backfill', '--db', db, ...WORKLOAD, '--json']);
  expect(result.code, result.stderr).toBe(0);
  return readTable(db);
}

function duplicateRejections(db: string): number {
  const check = new Database(db, { readonly: true });
  try {
    return check.prepare('SELECT count(*) - count(DISTINCT job_id || char(0) || raw) FROM rejected_rows').pluck().get() as number;
  } finally {
    check.close();
  }
}

describe('backfill on the command line', () => {
  it('never splits a page across transactions: killed again and again with pages of several batches, rejected_rows holds each record once', async () => {
    const dir = tempDir();
    const db = join(dir, 'split.db');
    // Batches of 10 rows (a page of 25 records is about three of them) and a 1 ms budget: a
    // group would be cut after nearly every batch if cuts inside a page were allowed.
    const args = ['backfill', '--db', db, ...WORKLOAD, '--batch-size', '10', '--transaction-budget', '1', '--no-progress'];
    for (let kill = 0; kill < 4; kill++) {
      const child = startCli(args);
      const before = existsSync(db) ? committedRows(db) : 0;
      await waitFor(() => existsSync(db) && committedRows(db) > before + 200, 30_000, 'more commits');
      child.kill('SIGKILL');
      await collect(child);
    }
    const done = await runCli([...args, '--json']);
    expect(done.code, done.stderr).toBe(0);
    expect(duplicateRejections(db)).toBe(0);
    const reference = await referenceRun(dir);
    expect(readTable(db).keys).toEqual(reference.keys);
  });

  it('fills the default database from the demo source, and a second run inserts nothing and still exits 0', async () => {
    const cwd = tempDir();
    const first = await runCli(['backfill', '--json'], { cwd });
    expect(first.code, first.stderr).toBe(0);
    const summary = JSON.parse(first.stdout) as Record<string, number>;
    for (const key of ['jobs', 'rowsFetched', 'rowsInserted', 'rowsIgnored', 'rowsRejected', 'lockCount', 'retries', 'maxRetryCount', 'totalRetryTime', 'durationMs', 'rowsPerSecond']) {
      expect(summary, key).toHaveProperty(key);
    }
    expect(summary.rowsInserted).toBeGreaterThan(10_000);
    expect(summary.rowsInserted).toBe(summary.rowsFetched);
    const db = join(cwd, 'data', 'league_analytics.db');
    expect(readTable(db).rows).toBe(summary.rowsInserted);

    const second = await runCli(['backfill', '--json'], { cwd });
    expect(second.code, second.stderr).toBe(0);
    const again = JSON.parse(second.stdout) as Record<string, number>;
    expect(again.rowsInserted).toBe(0);
    expect(again.skipped).toBe(summary.jobs);
    expect(readTable(db).rows).toBe(summary.rowsInserted);
  });

  it('ends with exactly the rows of an uninterrupted run after being killed with SIGKILL at several moments', async () => {
    const dir = tempDir();
    const reference = await referenceRun(dir);
    const db = join(dir, 'crashed.db');
    const slow = [...WORKLOAD, '--latency', '3'];
    // Kill at start-up, early, in the middle and late: each time at a different point of the commit stream.
    const moments = [0, 1, Math.round(reference.rows * 0.3), Math.round(reference.rows * 0.7)];
    const killedAt: number[] = [];
    for (const threshold of moments) {
      const child = startCli(['backfill', '--db', db, ...slow]);
      const exited = collect(child);
      if (threshold === 0) await new Promise((resolve) => setTimeout(resolve, 150));
      else await waitFor(() => committedRows(db) >= threshold, 30_000, `${threshold} rows committed`);
      child.kill('SIGKILL');
      const result = await exited;
      expect(result.signal).toBe('SIGKILL');
      killedAt.push(committedRows(db));
    }
    expect(killedAt.at(-1)).toBeLessThan(reference.rows);

    const final = await runCli(['backfill', '--db', db, ...WORKLOAD, '--json']);
    expect(final.code, final.stderr).toBe(0);
    const state = readTable(db);
    expect(state.integrity).toBe('ok');
    expect(state.distinctKeys).toBe(state.rows);
    expect(state.rows).toBe(reference.rows);
    expect(state.keys).toEqual(reference.keys);
    expect(state.statuses).toEqual({ completed: 21 });
  });

  it('on SIGINT commits every fetched batch, exits 130, and the next run completes', async () => {
    const dir = tempDir();
    const reference = await referenceRun(dir);
    const db = join(dir, 'interrupted.db');
    const child = startCli(['backfill', '--db', db, ...WORKLOAD, '--latency', '5', '--json']);
    const exited = collect(child);
    await waitFor(() => committedRows(db) > 500, 30_000, 'some rows committed');
    child.kill('SIGINT');
    const result = await exited;
    expect(result.code, result.stderr).toBe(130);
    const summary = JSON.parse(result.stdout) as { interrupted: boolean; rowsInserted: number; cancelled: number };
    expect(summary.interrupted).toBe(true);
    const partial = readTable(db);
    // Every batch the engine reported as fetched and committed is in the table, nothing more.
    expect(partial.rows).toBe(summary.rowsInserted);
    expect(partial.rows).toBeLessThan(reference.rows);
    expect(partial.statuses.running ?? 0).toBe(0);
    expect(partial.statuses.cancelled).toBeGreaterThan(0);

    const resumed = await runCli(['backfill', '--db', db, ...WORKLOAD, '--json']);
    expect(resumed.code, resumed.stderr).toBe(0);
    const state = readTable(db);
    expect(state.keys).toEqual(reference.keys);
    expect(state.statuses).toEqual({ completed: 21 });
  });

  it('rejects a bad argument with exit 2 before creating any file', async () => {
    const cwd = tempDir();
    for (const args of [
      ['backfill', '--seasons', '2024-2019'],
      ['backfill', '--workers', '0'],
      ['backfill', '--batch-size', '1000'],
      ['backfill', '--league', 'nfl-2023'],
      ['backfill', '--rate', '-1'],
      ['backfill', '--source', 'ftp'],
      ['backfill', '--bogus'],
      ['nonsense'],
    ]) {
      const result = await runCli(args, { cwd });
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(2);
      expect(result.stderr.length).toBeGreaterThan(0);
    }
    expect(existsSync(join(cwd, 'data'))).toBe(false);
  });

  it('refuses --league without --source (the default source makes up its data), and writes nothing', async () => {
    const cwd = tempDir();
    for (const args of [
      ['backfill', '--league', '403.l.17457', '--seasons', '2020'],
      ['backfill', '--league', '403.l.17457', '--league', '423.l.12345', '--db', join(cwd, 'real.db')],
    ]) {
      const result = await runCli(args, { cwd });
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toContain('`--league 403.l.17457');
      expect(result.stderr).toContain('was given without `--source`');
      expect(result.stderr).toMatch(/The default source, demo, makes up its data/);
      expect(result.stderr).toMatch(/Pass `--source yahoo` to import the real league .*, or `--source demo` to write made-up demo data under that key on purpose/);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('writes made-up rows under a chosen key only with --source demo, and says so in the log', async () => {
    const db = join(tempDir(), 'chosen.db');
    const result = await runCli(['backfill', '--db', db, '--source', 'demo', '--league', '403.l.17457', '--seasons', '2020', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const warning = result.stderr.split('\n').filter(Boolean).map((line) => JSON.parse(line) as { level: number; msg: string; leagues?: string })
      .find((line) => line.msg.includes('made-up demo rows'));
    expect(warning).toMatchObject({ level: 40, leagues: '403.l.17457' });
    const summary = JSON.parse(result.stdout) as { rowsInserted: number; jobs: number };
    expect(summary.jobs).toBe(1);
    expect(summary.rowsInserted).toBeGreaterThan(0);
    expect(readTable(db).statuses).toEqual({ completed: 1 });
  });
});
