import { spawn } from 'node:child_process';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../src/db/open.js';
import { PROFILES } from '../src/flags/index.js';
import { neighboursSection } from '../dist/bench/neighbours.js';
import { findPython, startLegacyWriter, startNotebook, startPythonWriter, startReader, type Figures, type Neighbour } from './helpers/neighbours.js';
import { holdWriteLock, type HeldLock } from './helpers/processes.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('league-backfill-neighbours-');
const started: Array<Neighbour<Figures>> = [];
const locks: HeldLock[] = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map((neighbour) => neighbour.stop().catch(() => undefined)));
  for (const lock of locks.splice(0)) {
    lock.process.kill('SIGTERM');
    await lock.released.catch(() => undefined);
  }
});

function track<N extends Neighbour<Figures> | null>(neighbour: N): N {
  if (neighbour) started.push(neighbour);
  return neighbour;
}

/** A database with the engine's schema, in WAL mode, and a few rows in `transactions`. */
function createDatabase(): string {
  const path = join(tempDir(), 'league.db');
  const { db } = openDatabase({ path, flags: PROFILES.recommended });
  db.prepare("INSERT INTO transactions (transaction_key, player_id, type, league_key) VALUES ('t.1', 'p.1', 'add', 'l.1'), ('t.2', 'p.2', 'drop', 'l.1')").run();
  db.close();
  return path;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('neighbour processes (test/helpers/neighbours.ts)', () => {
  it('a legacy writer commits into its own table and reports every commit with its latency', async () => {
    const database = createDatabase();
    const writer = track(startLegacyWriter({ database, table: 'legacy_notes', intervalMs: 5, rowsPerCommit: 7, durationMs: 800 }));
    expect(writer.pid).toBeGreaterThan(0);
    await writer.ready;
    const figures = await writer.result;
    expect(figures).toMatchObject({ kind: 'legacy-writer', pid: writer.pid, errors: [], errorCount: 0 });
    expect(figures.commits).toBeGreaterThan(10);
    expect(figures.rows).toBe(figures.commits * 7);
    expect(figures.latenciesMs.count).toBe(figures.commits);
    expect(figures.latenciesMs.max).toBeGreaterThanOrEqual(figures.latenciesMs.p99);
    const db = new BetterSqlite3(database, { readonly: true });
    try {
      expect(db.prepare('SELECT count(*) FROM legacy_notes').pluck().get()).toBe(figures.rows);
      expect(db.prepare('SELECT count(*) FROM transactions').pluck().get()).toBe(2);
    } finally {
      db.close();
    }
  });

  it('a legacy writer that waits past its timeout reports "database is locked", and how long it waited', async () => {
    const database = createDatabase();
    const lock = await holdWriteLock(database, 1500);
    locks.push(lock);
    const writer = track(startLegacyWriter({ database, table: 'legacy_notes', timeoutMs: 300, durationMs: 1000 }));
    const figures = await writer.result;
    expect(figures.errorCount).toBeGreaterThan(0);
    expect(figures.errors[0]).toBe('database is locked');
    expect(figures.errorsByMessage['database is locked']).toBe(figures.errorCount);
    // Every failed attempt waited out the busy timeout in SQLite's handler.
    expect(figures.latenciesMs.max).toBeGreaterThanOrEqual(290);
  });

  it('the Python writer (python3 sqlite3 defaults) does the same, or is null without python3', async () => {
    const database = createDatabase();
    if (!findPython()) {
      expect(startPythonWriter({ database, table: 'legacy_py', durationMs: 500 })).toBeNull();
      return;
    }
    const writer = track(startPythonWriter({ database, table: 'legacy_py', rowsPerCommit: 5, durationMs: 800 }))!;
    await writer.ready;
    const figures = await writer.result;
    expect(figures).toMatchObject({ kind: 'python-writer', pid: writer.pid, errorCount: 0 });
    expect(figures.commits).toBeGreaterThan(10);

    const lock = await holdWriteLock(database, 1500);
    locks.push(lock);
    const blocked = track(startPythonWriter({ database, table: 'legacy_py', timeoutMs: 300, durationMs: 1000 }))!;
    const locked = await blocked.result;
    expect(locked.errors[0]).toBe('database is locked');
    expect(locked.latenciesMs.max).toBeGreaterThanOrEqual(290);
  });

  it('refuses to write to the engine\'s tables', () => {
    const database = createDatabase();
    for (const table of ['transactions', 'job_log', 'writer_metrics', 'sqlite_master', 'x; DROP TABLE t']) {
      expect(() => startLegacyWriter({ database, table, durationMs: 100 }), table).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION' }));
    }
  });

  it('a reader runs its GROUP BY in a loop, read-only', async () => {
    const database = createDatabase();
    const reader = track(startReader({ database, durationMs: 600 }));
    await reader.ready;
    const figures = await reader.result;
    expect(figures).toMatchObject({ kind: 'reader', errorCount: 0 });
    expect(figures.commits).toBeGreaterThan(5);
    expect(figures.latenciesMs.count).toBe(figures.commits);
  });

  it('a notebook pins the WAL while its read transaction is open, and lets go', async () => {
    const database = createDatabase();
    const notebook = startNotebook({ database, holdMs: 1200 });
    started.push(notebook);
    await notebook.ready;
    // A writer commits while the snapshot is held: a checkpoint cannot get past the notebook.
    const db = new BetterSqlite3(database);
    try {
      db.exec('CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, note TEXT)');
      for (let i = 0; i < 50; i++) db.prepare('INSERT INTO notes (note) VALUES (?)').run(`note ${i}`);
      const pinned = db.pragma('wal_checkpoint(PASSIVE)', { simple: false }) as Array<{ busy: number; log: number; checkpointed: number }>;
      expect(pinned[0]!.checkpointed).toBeLessThan(pinned[0]!.log);
      await notebook.released;
      const freed = db.pragma('wal_checkpoint(TRUNCATE)', { simple: false }) as Array<{ busy: number; log: number; checkpointed: number }>;
      expect(freed[0]).toEqual({ busy: 0, log: 0, checkpointed: 0 });
    } finally {
      db.close();
    }
    const figures = await notebook.result;
    expect(figures).toMatchObject({ kind: 'notebook', pid: notebook.pid, commits: 1, errorCount: 0 });
    expect(figures.holds[0]!.heldMs).toBeGreaterThanOrEqual(1150);
    expect(figures.holds[0]!.walBytesAtRelease).toBeGreaterThan(figures.holds[0]!.walBytesAtOpen);
  });

  it('neighbours exit by themselves when the process that started them dies', async () => {
    const database = createDatabase();
    const spawners = new URL('../dist/bench/neighbours/spawners.js', import.meta.url).href;
    const script = `const n = await import(${JSON.stringify(spawners)});
      const options = { database: ${JSON.stringify(database)}, durationMs: 600000 };
      const all = [n.startLegacyWriter({ ...options, table: 'orphan_notes' }), n.startPythonWriter({ ...options, table: 'orphan_py' }),
        n.startReader(options), n.startNotebook({ ...options, holdMs: 600000 })].filter(Boolean);
      await Promise.all(all.map((x) => x.ready)); process.stdout.write(all.map((x) => x.pid).join(' ') + '\\n'); setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    const pids = await new Promise<number[]>((resolve, reject) => {
      parent.stdout.setEncoding('utf8').on('data', (chunk: string) => resolve(chunk.trim().split(' ').map(Number)));
      parent.on('close', (code) => reject(new Error(`the parent exited with ${code}`)));
    });
    expect(pids.length).toBe(findPython() ? 4 : 3);
    for (const pid of pids) expect(alive(pid), String(pid)).toBe(true);
    parent.kill('SIGKILL');
    const until = Date.now() + 5000;
    while (pids.some(alive) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(pids.filter(alive)).toEqual([]);
  });
});

describe('bench: the neighbours section', () => {
  it('runs the engine alone, each neighbour alone and all beside the engine, and prints the targets', async () => {
    const lines: string[] = [];
    const report = await neighboursSection({ quick: true, leagues: 1, seasons: 2, seedLeagues: 1, notebookHoldMs: 400, log: (line) => lines.push(line) }) as {
      settings: { rows: number; python: boolean };
      engine: { alone: { rows: number; rowsPerSecond: number; maxLockHoldMs: number; maxWalBytes: number }; beside: { rows: number }; ratioBesideToAlone: number };
      neighbours: Record<string, { alone: { commits: number; errors: number }; beside: { commits: number; errors: number; latencyMs: { p99: number; max: number } } }>;
      targets: Array<{ name: string; pass: boolean }>;
      pass: boolean;
    };
    expect(report.engine.alone.rows).toBe(report.settings.rows);
    expect(report.engine.beside.rows).toBe(report.settings.rows);
    expect(report.engine.alone.rowsPerSecond).toBeGreaterThan(0);
    expect(report.engine.alone.maxLockHoldMs).toBeGreaterThan(0);
    expect(report.engine.alone.maxWalBytes).toBeGreaterThan(0);
    expect(report.engine.ratioBesideToAlone).toBeGreaterThan(0);
    const expected = ['legacyWriter', ...(findPython() ? ['pythonWriter'] : []), 'reader', 'notebook'];
    expect(Object.keys(report.neighbours)).toEqual(expected);
    expect(report.settings.python).toBe(findPython() !== null);
    for (const name of expected) {
      expect(report.neighbours[name]!.alone.commits, name).toBeGreaterThan(0);
      expect(report.neighbours[name]!.alone.errors, name).toBe(0);
    }
    expect(report.neighbours.notebook!.alone.commits).toBe(2);
    expect(report.neighbours.legacyWriter!.beside.latencyMs.max).toBeGreaterThanOrEqual(report.neighbours.legacyWriter!.beside.latencyMs.p99);
    expect(report.targets.map((t) => t.name)).toEqual(expect.arrayContaining([
      'neighbours get no error beside the engine', 'legacy writer (Node) commit p99', 'legacy writer (Node) commit max',
      'engine beside its neighbours / alone (rows/s)', "engine's longest lock hold (budget 100 ms)",
    ]));
    expect(report.pass).toBe(report.targets.every((t) => t.pass));
    const printed = lines.join('\n');
    expect(printed).toMatch(/legacy writer \(Node\)\s+[\d.]+ commits\/s/);
    expect(printed).toContain('analytics reader');
    expect(printed).toContain('largest WAL');
    expect(printed).toMatch(/(PASS|FAIL) {2}engine beside its neighbours \/ alone/);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  }, 120_000);
});
