import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runDoctor, type DoctorFinding, type DoctorReport } from '../src/db/doctor/index.js';
import { runCli, type CliResult } from './helpers/cli.js';
import { holdWriteLock, type HeldLock } from './helpers/processes.js';
import { useTempDir } from './helpers/temp.js';
import { pinnedWal } from './helpers/wal.js';

const tempDir = useTempDir('league-backfill-doctor-');
let templateDir = '';
let template = '';
const children: ChildProcess[] = [];
const held: HeldLock[] = [];

beforeAll(async () => {
  templateDir = mkdtempSync(join(tmpdir(), 'league-backfill-doctor-template-'));
  template = join(templateDir, 'league.db');
  const result = await runCli(['backfill', '--db', template, '--leagues', '1', '--seasons', '2024', '--json']);
  expect(result.code, result.stderr).toBe(0);
});

afterAll(() => {
  rmSync(templateDir, { recursive: true, force: true });
});

afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
  for (const lock of held.splice(0)) {
    lock.process.kill('SIGTERM');
    await lock.released.catch(() => undefined);
  }
});

/** A copy of the backfilled database, in WAL mode as the engine left it. */
function database(): string {
  const path = join(tempDir(), 'league.db');
  copyFileSync(template, path);
  const db = new BetterSqlite3(path);
  db.pragma('journal_mode = WAL');
  db.close();
  return path;
}

async function doctor(path: string, ...args: string[]): Promise<CliResult & { report: DoctorReport }> {
  const result = await runCli(['doctor', '--db', path, '--json', '--sample', '0.4', ...args]);
  let report: DoctorReport;
  try {
    report = JSON.parse(result.stdout) as DoctorReport;
  } catch {
    throw new Error(`doctor printed no JSON (exit ${result.code}): ${result.stdout}${result.stderr}`);
  }
  return { ...result, report };
}

function finding(report: DoctorReport, id: DoctorFinding['id']): DoctorFinding {
  const found = report.findings.find((f) => f.id === id);
  expect(found, `finding ${id} in ${report.findings.map((f) => f.id).join(', ')}`).toBeDefined();
  return found as DoctorFinding;
}

/** A notebook: opens the database, starts a read transaction, reads, and keeps it open. */
async function startPinningReader(path: string): Promise<ChildProcess> {
  const script = `import Database from 'better-sqlite3'; const db = new Database(${JSON.stringify(path)}, { readonly: true }); ` +
    `db.exec('BEGIN'); db.prepare('SELECT count(*) FROM transactions').get(); process.stdout.write('reading\\n'); setTimeout(() => db.close(), 30000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'], cwd: process.cwd() });
  children.push(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => { if (chunk.toString().includes('reading')) resolve(); });
    child.on('exit', (code) => reject(new Error(`reader exited ${code}`)));
  });
  return child;
}

/** Commits after the reader's snapshot, so the WAL holds frames the reader keeps from being checkpointed. */
function writeAfterSnapshot(path: string, checkpoint = true): void {
  const db = new BetterSqlite3(path, { timeout: 5000 });
  db.exec('CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body BLOB)');
  const insert = db.prepare('INSERT INTO notes (body) VALUES (randomblob(4000))');
  for (let i = 0; i < 50; i++) insert.run();
  if (checkpoint) db.pragma('wal_checkpoint(PASSIVE)');
  db.close();
}

describe('doctor', () => {
  it('is OK (exit 0) on a sound database with no one else around, and checks every symptom of the guide', async () => {
    const path = database();
    const { code, report, stderr } = await doctor(path);
    expect(code, `${stderr}${JSON.stringify(report.findings.filter((f) => f.status !== 'OK'), null, 2)}`).toBe(0);
    expect(report.status).toBe('OK');
    expect(report.findings.map((f) => f.id)).toEqual([
      'lock-errors', 'wal-growth', 'slower-after-feature', 'backups-wal', 'pinned-snapshot', 'network-file-system', 'second-writer', 'sqlite-version', 'disk-space',
    ]);
    expect(report.environment).toMatchObject({ journalMode: 'wal', exists: true, flagsError: null, workload: 'mixed' });
    expect(report.environment.engine.busyTimeoutMs).toBe(5000);
    expect(report.environment.engine.readBack).toMatchObject({ cacheSize: -16384, synchronous: 1 });
    expect(report.environment.sqliteVersion).toMatch(/^3\.\d+\.\d+$/);
    const human = await runCli(['doctor', '--db', path, '--sample', '0']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^OK {2}doctor for /);
    expect(human.stdout).toContain('[ok      ] A reader pins an old snapshot');
  });

  it('names the pid of a process that holds a read transaction open and pins the WAL, with the fix', async () => {
    const path = database();
    const reader = await startPinningReader(path);
    writeAfterSnapshot(path);
    const { code, report } = await doctor(path);
    const pinned = finding(report, 'pinned-snapshot');
    expect(pinned.status).toBe('WARNING');
    expect(pinned.summary).toContain(`pid ${reader.pid}`);
    expect(pinned.summary).toContain('holds a read transaction open on an old snapshot');
    expect(pinned.evidence.join('\n')).toMatch(new RegExp(`pid ${reader.pid} .* holds read mark \\d in \\d of \\d samples: its snapshot .*, so [1-9]\\d* frames cannot be checkpointed`));
    expect(pinned.fixes[0]).toContain(`End the read transaction of pid ${reader.pid}`);
    expect(report.status).not.toBe('OK');
    expect(code).toBeGreaterThanOrEqual(1);
    // Once the reader is gone, nothing pins.
    reader.kill('SIGKILL');
    await new Promise((resolve) => reader.once('exit', resolve));
    const after = await doctor(path);
    expect(finding(after.report, 'pinned-snapshot').status).toBe('OK');
  });

  it('tells how many frames a reader pins when its snapshot ends inside the WAL', async () => {
    const path = database();
    // Keep one connection open so the WAL is not checkpointed away on close.
    const keeper = new BetterSqlite3(path);
    keeper.prepare('SELECT count(*) FROM sqlite_master').get(); // a connection maps the WAL index at its first read
    try {
      writeAfterSnapshot(path, false);
      const reader = await startPinningReader(path);
      writeAfterSnapshot(path);
      const { report } = await doctor(path);
      const pinned = finding(report, 'pinned-snapshot');
      expect(pinned.status).toBe('WARNING');
      const line = pinned.evidence.find((fact) => fact.startsWith(`pid ${reader.pid} `)) ?? '';
      const match = /holds read mark ([1-4]) .*snapshot ends at WAL frame (\d+) of (\d+), so (\d+) frames cannot be checkpointed/.exec(line);
      expect(match, line).not.toBeNull();
      const [, , mark, total, pinnedFrames] = match?.map(Number) ?? [];
      expect(pinnedFrames).toBe((total ?? 0) - (mark ?? 0));
      expect(pinnedFrames).toBeGreaterThan(0);
    } finally {
      keeper.close();
    }
  });

  it('judges a growing WAL by what it holds not yet checkpointed, not by a file SQLite writes again from its start', async () => {
    const path = database();
    const wal = pinnedWal(path);
    const thresholds = { walWarningBytes: 2 * 1024 * 1024, walCriticalBytes: 100 * 1024 * 1024 };
    try {
      wal.pinned();
      const pinned = finding(await runDoctor({ path, flagsPath: join(tempDir(), 'flags.json'), samples: 1, sampleMs: 0, thresholds }), 'wal-growth');
      expect(pinned.status).toBe('WARNING');
      expect(pinned.summary).toMatch(/^The WAL holds [\d.]+ MB not yet checkpointed \(its file is [\d.]+ MB\): checkpoints are not keeping up/);

      wal.reused();
      const reused = finding(await runDoctor({ path, flagsPath: join(tempDir(), 'flags.json'), samples: 1, sampleMs: 0, thresholds }), 'wal-growth');
      expect(reused.status, reused.summary).toBe('OK');
      expect(reused.summary).toMatch(/^The WAL holds 0\.\d+ MB not yet checkpointed \(its file is [\d.]+ MB\) and checkpoints keep up\. SQLite reuses the file from its start/);
    } finally {
      wal.close();
    }
  });

  it('reports a second writer: a process holding the write lock, by pid', async () => {
    const path = database();
    const lock = await holdWriteLock(path, 5000);
    held.push(lock);
    const { code, report } = await doctor(path);
    const writer = finding(report, 'second-writer');
    expect(writer.status).toBe('WARNING');
    expect(writer.summary).toContain(`pid ${lock.process.pid}`);
    expect(writer.summary).toContain('writes to the database besides any engine');
    expect(writer.evidence.join('\n')).toMatch(new RegExp(`pid ${lock.process.pid} .*holds the write lock.*seen in [1-9] of \\d samples`));
    expect(writer.fixes[0]).toContain('engine.submit');
    expect(code).toBe(1);
  });

  it('is UNKNOWN (exit 3) for a missing database and for bad usage', async () => {
    const dir = tempDir();
    const missing = await doctor(join(dir, 'missing.db'));
    expect(missing.code).toBe(3);
    expect(missing.report.findings[0]).toMatchObject({ id: 'database', status: 'UNKNOWN' });
    const bad = await runCli(['doctor', '--db', join(dir, 'x.db'), '--sample', 'long']);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain('Expected `--sample` to be a number from 0 to 60, got "long"');
  });
});
