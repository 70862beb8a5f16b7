import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { checkHealth, type HealthSample } from '../src/db/health.js';
import { isAffectedByWalResetBug } from '../src/db/sqlite-version.js';
import { PROFILES } from '../src/flags/index.js';
import { collect, runCli, startCli } from './helpers/cli.js';
import { holdWriteLock, waitFor, type HeldLock } from './helpers/processes.js';
import { useTempDir } from './helpers/temp.js';
import { pinnedWal } from './helpers/wal.js';

const tempDir = useTempDir('league-backfill-health-');
let template = '';
let templateDir = '';
const held: HeldLock[] = [];
const children: ChildProcess[] = [];

/** One real backfill for the whole file; each test gets its own copy of the database it left. */
beforeAll(async () => {
  templateDir = mkdtempSync(join(tmpdir(), 'league-backfill-health-template-'));
  template = join(templateDir, 'league.db');
  const result = await runCli(['backfill', '--db', template, '--leagues', '1', '--seasons', '2024', '--json']);
  expect(result.code, result.stderr).toBe(0);
});

afterAll(() => {
  rmSync(templateDir, { recursive: true, force: true });
});

afterEach(async () => {
  for (const child of children.splice(0)) {
    child.kill('SIGKILL');
    if (child.exitCode === null && child.signalCode === null) await new Promise((resolve) => child.once('exit', resolve));
  }
  for (const lock of held.splice(0)) {
    lock.process.kill('SIGTERM');
    await lock.released.catch(() => undefined);
  }
});

function backfilledDatabase(): string {
  const path = join(tempDir(), 'league.db');
  copyFileSync(template, path);
  return path;
}

/** Prepares a situation the way the writer would have recorded it: figures for the current minute. */
function setCurrentMinute(path: string, figures: { locks?: number; batches?: number; failed?: number }): void {
  const db = new BetterSqlite3(path);
  try {
    const minute = Math.floor(Date.now() / 60_000);
    db.prepare('DELETE FROM writer_metrics WHERE minute >= ?').run(minute - 6);
    db.prepare('INSERT INTO writer_metrics (minute, batches, failed_batches, locks) VALUES (?, ?, ?, ?)')
      .run(minute, figures.batches ?? 10, figures.failed ?? 0, figures.locks ?? 0);
  } finally {
    db.close();
  }
}

async function health(path: string, ...args: string[]): Promise<{ code: number | null; sample: HealthSample; stderr: string }> {
  const result = await runCli(['health', '--db', path, '--json', ...args]);
  return { code: result.code, sample: JSON.parse(result.stdout) as HealthSample, stderr: result.stderr };
}

describe('health on the command line', () => {
  it('is OK (exit 0) on a freshly backfilled database, in words and as JSON with every field', async () => {
    const path = backfilledDatabase();
    const human = await runCli(['health', '--db', path]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^OK {2}.*league\.db/);
    expect(human.stdout).toContain('journal mode       wal');
    expect(human.stdout).toMatch(/locks per minute {3}0\.0 in the last minute/);
    expect(human.stdout).toContain('lock holders       none');

    const { code, sample } = await health(path);
    expect(code).toBe(0);
    expect(Object.keys(sample).sort()).toEqual([
      'batchFailureRate', 'database', 'databaseBytes', 'exists', 'fragmentation', 'freePages', 'journalMode', 'lockHolders',
      'locksPerMinute1', 'locksPerMinute5', 'pageCount', 'pageSize', 'probeLatencyMs', 'problems', 'processes', 'recentAlerts',
      'sqliteAffected', 'sqliteVersion', 'status', 'thresholds', 'time', 'walBytes', 'walPin', 'walUncheckpointedBytes', 'writer',
    ]);
    expect(sample).toMatchObject({ processes: [], walPin: null, writer: null, recentAlerts: [], sqliteAffected: false });
    expect(sample).toMatchObject({ database: path, exists: true, journalMode: 'wal', status: 'OK', problems: [], lockHolders: [], locksPerMinute1: 0, batchFailureRate: 0 });
    expect(sample.databaseBytes).toBe(sample.pageCount! * sample.pageSize!);
    expect(sample.probeLatencyMs).toBeGreaterThanOrEqual(0);
    expect(sample.probeLatencyMs).toBeLessThan(100);
    expect(Date.parse(sample.time)).toBeGreaterThan(Date.now() - 60_000);
    expect(sample.thresholds).toMatchObject({ locksPerMinuteWarning: 5, locksPerMinuteCritical: 10, failureRateWarning: 0.01, latencyWarningMs: 100, walWarningBytes: 104_857_600 });
  });

  it('is WARNING (exit 1) at 7 locks in the current minute, and OK again when --lock-warning is raised', async () => {
    const path = backfilledDatabase();
    setCurrentMinute(path, { locks: 7 });
    const { code, sample } = await health(path);
    expect(code).toBe(1);
    expect(sample.status).toBe('WARNING');
    expect(sample.locksPerMinute1).toBeGreaterThan(6.5);
    expect(sample.problems).toEqual([expect.stringMatching(/^7(\.0)? locks per minute \(warning above 5\): another process keeps taking the write lock/)]);
    const raised = await health(path, '--lock-warning', '8');
    expect(raised.code).toBe(0);
  });

  it('is CRITICAL (exit 2) at 20 locks a minute, or when half the batches failed', async () => {
    const path = backfilledDatabase();
    setCurrentMinute(path, { locks: 20 });
    const locks = await health(path);
    expect(locks.code).toBe(2);
    expect(locks.sample.problems[0]).toMatch(/locks per minute \(critical above 10\)/);

    setCurrentMinute(path, { batches: 10, failed: 10 });
    const failures = await runCli(['health', '--db', path]);
    expect(failures.code).toBe(2);
    expect(failures.stdout).toMatch(/^CRITICAL/);
    expect(failures.stdout).toContain('! 50 % of batches failed in the last 5 minutes (critical above 5 %)');
  });

  it('is UNKNOWN (exit 3) for a missing database, a file that is not a database, and a bad option', async () => {
    const dir = tempDir();
    const missing = await health(join(dir, 'missing.db'));
    expect(missing.code).toBe(3);
    expect(missing.sample).toMatchObject({ status: 'UNKNOWN', exists: false, journalMode: null });
    expect(missing.sample.problems[0]).toMatch(/missing\.db does not exist/);
    expect(existsSync(join(dir, 'missing.db'))).toBe(false);

    const notes = join(dir, 'notes.db');
    writeFileSync(notes, 'these are my notes, not a database\n');
    const notADatabase = await health(notes);
    expect(notADatabase.code).toBe(3);
    expect(notADatabase.sample.problems[0]).toMatch(/is not a SQLite database/);
    expect(readFileSync(notes, 'utf8')).toBe('these are my notes, not a database\n');

    const bad = await runCli(['health', '--db', backfilledDatabase(), '--lock-warning', 'many']);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain('Expected `--lock-warning` to be a number from 0 to 1000000000, got "many" (string)');
    const unknown = await runCli(['health', '--db', backfilledDatabase(), '--lock-warnings', '3']);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain('"--lock-warnings"');
  });

  it('--watch --interval 0.2 --count 3 takes 3 samples and appends them to the history file beside the database', async () => {
    const path = backfilledDatabase();
    const result = await runCli(['health', '--db', path, '--watch', '--interval', '0.2', '--count', '3', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const history = readFileSync(join(path, '..', 'health_history.jsonl'), 'utf8').trim().split('\n');
    expect(history).toHaveLength(3);
    const samples = history.map((line) => JSON.parse(line) as HealthSample);
    expect(samples.map((s) => s.status)).toEqual(['OK', 'OK', 'OK']);
    const times = samples.map((s) => Date.parse(s.time));
    expect(times[2]! - times[0]!).toBeGreaterThanOrEqual(350);
    expect(result.stdout.trim().split('\n').map((line) => (JSON.parse(line) as HealthSample).status)).toEqual(['OK', 'OK', 'OK']);
  });

  it('--watch stops on SIGINT and exits with the status of the last sample', async () => {
    const path = backfilledDatabase();
    setCurrentMinute(path, { locks: 7 });
    const historyFile = join(tempDir(), 'history.jsonl');
    const child = startCli(['health', '--db', path, '--watch', '--interval', '0.2', '--history', historyFile]);
    const done = collect(child, 30_000);
    await waitFor(() => existsSync(historyFile) && readFileSync(historyFile, 'utf8').length > 0, 20_000, 'a first sample');
    child.kill('SIGINT');
    const result = await done;
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/Z {2}WARNING +locks\/min 7\.0/);
  });

  it('names the process holding the write lock', async () => {
    const path = backfilledDatabase();
    const lock = await holdWriteLock(path, 30_000);
    held.push(lock);
    const pid = lock.process.pid;
    const { code, sample } = await health(path);
    expect(code).toBe(0);
    expect(sample.lockHolders).toContainEqual(expect.objectContaining({ pid, lock: 'write', file: 'shm', self: false }));
    const human = await runCli(['health', '--db', path]);
    expect(human.stdout).toMatch(new RegExp(`lock holders {7}pid ${pid} \\(.*lock-holder\\.mjs.*\\) holds the write lock`));
  });
});

describe('checkHealth', () => {
  it('is CRITICAL when reads are blocked by an exclusive lock (rollback-journal mode)', async () => {
    const path = join(tempDir(), 'legacy.db');
    const writer = new BetterSqlite3(path);
    try {
      writer.exec('CREATE TABLE job_log (job_id TEXT PRIMARY KEY, status TEXT)');
      writer.exec('BEGIN EXCLUSIVE');
      writer.exec("INSERT INTO job_log VALUES ('a', 'running')");
      const sample = await checkHealth({ path, flags: PROFILES.recommended, thresholds: { latencyWarningMs: 10, latencyCriticalMs: 50 } });
      expect(sample.status).toBe('CRITICAL');
      expect(sample.problems[0]).toMatch(/^reads are blocked: .*database is locked/);
      writer.exec('ROLLBACK');
    } finally {
      writer.close();
    }
    const after = await checkHealth({ path, flags: PROFILES.baseline });
    expect(after).toMatchObject({ status: 'OK', journalMode: 'delete', locksPerMinute1: null, batchFailureRate: null });
  });
});

/** Starts a process and waits until it prints `ready`. */
async function startReady(command: string, args: string[]): Promise<ChildProcess> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: process.cwd() });
  children.push(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => { if (chunk.toString().includes('ready')) resolve(); });
    child.on('exit', (code) => reject(new Error(`${command} exited ${code}: ${stderr}`)));
  });
  return child;
}

function writeState(path: string, key: string, value: unknown): void {
  const db = new BetterSqlite3(path, { timeout: 5000 });
  try {
    db.prepare('INSERT INTO writer_state (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at')
      .run(key, JSON.stringify(value), new Date().toISOString());
  } finally {
    db.close();
  }
}

describe('health and the other processes', () => {
  it('lists a Python process that has the database open, with the SQLite it loaded, and warns when that SQLite has the WAL-reset bug', async () => {
    const path = backfilledDatabase();
    const python = await startReady('python3', ['-c',
      `import sqlite3, time\nc = sqlite3.connect(${JSON.stringify(path)})\nc.execute('select 1')\nprint('ready', flush=True)\ntime.sleep(30)`]);
    const version = execFileSync('python3', ['-c', 'import sqlite3; print(sqlite3.sqlite_version)'], { encoding: 'utf8' }).trim();
    const { code, sample } = await health(path);
    const listed = sample.processes.find((p) => p.pid === python.pid);
    expect(listed, JSON.stringify(sample.processes)).toBeDefined();
    expect(listed).toMatchObject({ self: false, files: expect.arrayContaining(['db']) });
    expect(listed?.command).toMatch(/python3 -c import sqlite3/);
    expect(listed?.sqlite?.version).toBe(version);
    const affected = isAffectedByWalResetBug(version);
    const warning = sample.problems.find((problem) => problem.startsWith(`pid ${python.pid} `));
    if (affected) {
      expect(sample.status).toBe('WARNING');
      expect(code).toBe(1);
      expect(warning).toContain(`has the database open, and its SQLite ${version} has the WAL-reset bug`);
    } else {
      expect(warning).toBeUndefined();
    }
    const human = await runCli(['health', '--db', path]);
    expect(human.stdout).toMatch(new RegExp(`other processes {4}pid ${python.pid} \\(.*python3 -c .*\\): db open; SQLite ${version.replaceAll('.', '\\.')} \\(.*sqlite.*\\)`));
  });

  it('warns about a reader pinning the WAL as the writer recorded it, naming its pid; a cleared pin or a dead pid is no warning', async () => {
    const path = backfilledDatabase();
    const reader = await startReady(process.execPath, ['-e', "process.stdout.write('ready\\n'); setTimeout(() => {}, 30000)"]);
    writeState(path, 'wal_pin', { pid: reader.pid, command: 'python3 nb.py', since: '2026-12-01T09:00:00.000Z', walBytes: 50 * 1024 * 1024 });
    const pinned = await health(path);
    expect(pinned.code).toBe(1);
    expect(pinned.sample.walPin).toMatchObject({ pid: reader.pid, command: 'python3 nb.py', alive: true });
    expect(pinned.sample.problems).toEqual([expect.stringMatching(new RegExp(`^pid ${reader.pid} \\(python3 nb\\.py\\) pins the WAL since 2026-12-01T09:00:00\\.000Z \\(WAL 50 MB\\): it holds a read transaction open`))]);
    writeState(path, 'wal_pin', null);
    expect((await health(path)).sample).toMatchObject({ status: 'OK', walPin: null });
    writeState(path, 'wal_pin', { pid: 2 ** 22 + 12345, command: 'gone', since: null, walBytes: null });
    const stale = await health(path);
    expect(stale.sample).toMatchObject({ status: 'OK', walPin: { alive: false } });
  });

  it('judges the WAL by what it holds not yet checkpointed, not by a file SQLite reuses from its start', async () => {
    const path = backfilledDatabase();
    const wal = pinnedWal(path);
    try {
      // A notebook's open read transaction: nothing written after its snapshot can be copied.
      wal.pinned();
      const pinned = await health(path, '--wal-warning-mb', '2', '--wal-critical-mb', '100');
      expect(pinned.code, pinned.stderr).toBe(1);
      expect(pinned.sample.walUncheckpointedBytes).toBeGreaterThan(3_500_000);
      expect(pinned.sample.walUncheckpointedBytes).toBeLessThanOrEqual(pinned.sample.walBytes!);
      expect(pinned.sample.problems).toEqual([expect.stringMatching(/^the WAL holds [\d.]+ MB not yet checkpointed \(warning above 2(\.00)? MB\): checkpoints are not keeping up/)]);

      // It lets go; a checkpoint copies everything, and the next commit starts the WAL over at
      // the start of the file, which a connection without journal_size_limit leaves as large.
      wal.reused();
      const reused = await health(path, '--wal-warning-mb', '2', '--wal-critical-mb', '100');
      expect(reused.code, reused.sample.problems.join('; ')).toBe(0);
      expect(reused.sample.walBytes).toBeGreaterThan(3_500_000);
      expect(reused.sample.walUncheckpointedBytes).toBeGreaterThan(0);
      expect(reused.sample.walUncheckpointedBytes).toBeLessThan(100_000);
      const human = await runCli(['health', '--db', path, '--wal-warning-mb', '2']);
      expect(human.stdout).toMatch(/ {2}WAL {16}0\.\d\d MB not yet checkpointed, in a file of \d+\.\d\d MB {2}\(warning above 2 MB/);
    } finally {
      wal.close();
    }
  });

  it('shows the alerts of the last 10 minutes, newest first, and not older ones', async () => {
    const path = backfilledDatabase();
    const db = new BetterSqlite3(path);
    const insert = db.prepare('INSERT INTO writer_alerts (at, level, message, figures) VALUES (?, ?, ?, ?)');
    insert.run(new Date(Date.now() - 20 * 60_000).toISOString(), 'warning', 'old news', null);
    insert.run(new Date(Date.now() - 60_000).toISOString(), 'info', 'an operation needed 4 attempts', JSON.stringify({ attempts: 4 }));
    insert.run(new Date().toISOString(), 'critical', 'checkpoint starvation', JSON.stringify({ walBytes: 1 }));
    db.close();
    const { sample } = await health(path);
    expect(sample.recentAlerts.map((a) => [a.level, a.message])).toEqual([['critical', 'checkpoint starvation'], ['info', 'an operation needed 4 attempts']]);
    expect(sample.recentAlerts[1]?.figures).toEqual({ attempts: 4 });
    const human = await runCli(['health', '--db', path]);
    expect(human.stdout).toMatch(/alerts {13}\S+ critical: checkpoint starvation/);
  });

  it('names the engine holding the single-writer lease while a backfill runs', async () => {
    const path = backfilledDatabase();
    const backfill = startCli(['backfill', '--db', path, '--leagues', '2', '--seasons', '2020-2023', '--latency', '300', '--force']);
    children.push(backfill);
    const done = collect(backfill, 120_000);
    await waitFor(() => existsSync(`${path}-lease`), 30_000, 'the lease file');
    let sample: HealthSample | undefined;
    const until = Date.now() + 20_000;
    while (Date.now() < until) {
      sample = (await health(path)).sample;
      if ((sample.writer?.leaseHolders.length ?? 0) > 0) break;
    }
    expect(sample?.writer?.leaseHolders.map((h) => h.pid)).toEqual([backfill.pid]);
    expect(sample?.processes.map((p) => p.pid)).toContain(backfill.pid);
    backfill.kill('SIGINT');
    await done;
  });
});

