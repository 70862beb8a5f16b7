import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { RollbackResult } from '../src/db/rollback/index.js';
import type { RollbackDrillResult } from '../src/db/rollout/drill.js';
import { FLAG_NAMES, PROFILES, formatFlags } from '../src/flags/index.js';
import { runCli } from './helpers/cli.js';
import { holdWriteLock, readTable } from './helpers/processes.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('rollback-test-');
const ALL_OFF = Object.fromEntries(FLAG_NAMES.map((name) => [name, false]));

/** A WAL database made by a real backfill, copied for each test. */
let template: string;
let templateDir: string;

beforeAll(async () => {
  templateDir = mkdtempSync(join(tmpdir(), 'rollback-template-'));
  template = join(templateDir, 'league.db');
  const made = await runCli(['backfill', '--db', template, '--leagues', '1', '--seasons', '2024', '--json']);
  expect(made.code, made.stderr).toBe(0);
  expect(journalModeInHeader(template)).toBe('wal');
});

afterAll(() => rmSync(templateDir, { recursive: true, force: true }));

/** Processes a test started and must not outlive it. */
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

function copyTemplate(dir: string, name = 'league.db'): string {
  const file = join(dir, name);
  copyFileSync(template, file);
  return file;
}

/**
 * The journal mode as the file itself records it (header bytes 18 and 19: 2 for WAL, 1 for
 * the rollback journal), read without opening a connection that could change anything.
 */
function journalModeInHeader(file: string): 'wal' | 'rollback journal' {
  const header = Buffer.alloc(20);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, header, 0, 20, 0);
  } finally {
    closeSync(fd);
  }
  return header[18] === 2 && header[19] === 2 ? 'wal' : 'rollback journal';
}

function logLines(dir: string): RollbackResult[] {
  const file = join(dir, 'rollback_log.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as RollbackResult);
}

/**
 * Runs `script` (CommonJS, `db` is an open better-sqlite3 connection to `file`) in another
 * process and resolves once it printed "ready"; it stays alive until killed.
 */
async function otherProcess(file: string, script: string): Promise<ChildProcess> {
  const source = `const Database = require('better-sqlite3'); const db = new Database(process.env.DB_FILE); ${script}; process.stdout.write('ready\\n'); setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['-e', source], { cwd: process.cwd(), env: { ...process.env, DB_FILE: file }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  await new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { if (chunk.includes('ready')) resolve(); });
    child.on('exit', (code) => reject(new Error(`helper process exited ${code}: ${stderr}`)));
  });
  return child;
}

describe('rollback', () => {
  it('turns a WAL database back to DELETE mode with every row kept, every flag off, and a log line', async () => {
    const dir = tempDir();
    const db = copyTemplate(dir);
    const flagsFile = join(dir, 'feature_flags.json');
    writeFileSync(flagsFile, formatFlags(PROFILES.recommended));
    // Rows that exist only in the WAL: a process that wrote them and died without a checkpoint.
    const crashed = spawn(process.execPath, ['-e', `
      const db = new (require('better-sqlite3'))(process.env.DB_FILE);
      db.pragma('wal_autocheckpoint = 0');
      db.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, note TEXT)');
      const insert = db.prepare('INSERT INTO notes (note) VALUES (?)');
      for (let i = 0; i < 200; i++) insert.run('written to the WAL only ' + i);
      process.kill(process.pid, 'SIGKILL');`], { cwd: process.cwd(), env: { ...process.env, DB_FILE: db }, stdio: 'ignore' });
    await new Promise((resolve) => crashed.on('exit', resolve));
    const before = readTable(db);
    expect(before.rows).toBeGreaterThan(1000);

    const result = await runCli(['rollback', '--db', db, '--reason', 'lock errors after enabling wal_mode', '--json']);
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as RollbackResult;
    expect(report.status).toBe('completed');

    expect(journalModeInHeader(db)).toBe('rollback journal');
    expect(existsSync(`${db}-wal`)).toBe(false);
    expect(existsSync(`${db}-shm`)).toBe(false);
    const after = readTable(db);
    expect(after.keys).toEqual(before.keys);
    expect(after.integrity).toBe('ok');
    expect(JSON.parse(readFileSync(flagsFile, 'utf8'))).toEqual(ALL_OFF);

    const lines = logLines(dir);
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    expect(line).toEqual(report);
    expect(Date.parse(line.time)).toBeGreaterThan(Date.now() - 60_000);
    expect(line.reason).toBe('lock errors after enabling wal_mode');
    expect(line.flagsBefore).toEqual(PROFILES.recommended);
    expect(line.flagsAfter).toEqual(ALL_OFF);
    expect(line.flagsTurnedOff).toEqual(FLAG_NAMES.filter((name) => PROFILES.recommended[name]));
    expect(line.skipped).toEqual([{ path: join(dir, 'league_test.db'), reason: 'does not exist' }]);
    expect(line.databases).toHaveLength(1);
    const database = line.databases[0]!;
    expect(database).toMatchObject({ path: db, action: 'switched', journalModeBefore: 'wal', journalModeAfter: 'delete', walBytesAfter: 0, rowsEqual: true });
    expect(database.walBytesBefore).toBeGreaterThan(0);
    expect(database.checkpointedFrames).toBeGreaterThan(0);
    expect(database.rowsBefore).toEqual(database.rowsAfter);
    expect(database.rowsAfter['transactions']).toBe(before.rows);
    expect(database.rowsAfter['notes']).toBe(200);
  });

  it('rolls back the twin database too when its file exists', async () => {
    const dir = tempDir();
    const db = copyTemplate(dir, 'league.db');
    const twin = copyTemplate(dir, 'league_test.db');
    const keys = readTable(db).keys;

    const result = await runCli(['rollback', '--db', db, '--reason', 'twin check']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^Rollback completed in \d+\.\d s\. Reason: "twin check"$/m);
    expect(result.stdout).toContain(`database  ${db}: journal mode wal -> delete`);
    expect(result.stdout).toContain(`database  ${twin}: journal mode wal -> delete`);
    for (const file of [db, twin]) {
      expect(journalModeInHeader(file)).toBe('rollback journal');
      expect(readTable(file).keys).toEqual(keys);
    }
    const [line] = logLines(dir);
    expect(line?.databases.map((d) => [d.path, d.journalModeAfter, d.rowsEqual])).toEqual([[db, 'delete', true], [twin, 'delete', true]]);

    // A second rollback finds nothing to switch and says so.
    const again = await runCli(['rollback', '--db', db, '--reason', 'twice', '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect((JSON.parse(again.stdout) as RollbackResult).databases.map((d) => d.action)).toEqual(['unchanged', 'unchanged']);
    expect(logLines(dir)).toHaveLength(2);
  });

  it('exits 2 without --reason, and changes nothing', async () => {
    const dir = tempDir();
    const db = copyTemplate(dir);
    const result = await runCli(['rollback', '--db', db]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/Expected `--reason` to be a short text saying why the rollback is done/);
    expect(journalModeInHeader(db)).toBe('wal');
    expect(existsSync(join(dir, 'feature_flags.json'))).toBe(false);
    expect(existsSync(join(dir, 'rollback_log.jsonl'))).toBe(false);

    const notADatabase = join(dir, 'notes.db');
    writeFileSync(notADatabase, 'not a database\n');
    const wrong = await runCli(['rollback', '--db', notADatabase, '--reason', 'wrong file']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/is not a SQLite database/);
    expect(existsSync(join(dir, 'rollback_log.jsonl'))).toBe(false);
  });

  it('fails with exit 1, naming the process to stop, while another process has the database open in a read transaction; nothing changes', async () => {
    const dir = tempDir();
    const db = copyTemplate(dir);
    const flagsFile = join(dir, 'feature_flags.json');
    writeFileSync(flagsFile, formatFlags(PROFILES.recommended));
    const flagsBytes = readFileSync(flagsFile);
    const reader = await otherProcess(db, "db.exec('BEGIN'); db.prepare('SELECT count(*) FROM transactions').get()");

    const started = performance.now();
    const result = await runCli(['rollback', '--db', db, '--reason', 'busy reader', '--wait-seconds', '1', '--json']);
    const elapsed = performance.now() - started;
    expect(result.code, result.stderr).toBe(1);
    expect(elapsed).toBeGreaterThan(1000);
    expect(result.stderr).toContain(`Database ${db} is in use by another process`);
    expect(result.stderr).toContain('Nothing was changed');
    // The holder by pid where /proc/locks tells, the command that lists it otherwise.
    expect(result.stderr).toMatch(new RegExp(`pid ${reader.pid} \\(|fuser `));

    expect(readFileSync(flagsFile)).toEqual(flagsBytes);
    expect(journalModeInHeader(db)).toBe('wal');
    const lines = logLines(dir);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      status: 'failed', reason: 'busy reader', flagsAfter: null, error: { code: 'ERR_DATABASE_LOCKED' },
      databases: [{ path: db, action: 'untouched', journalModeBefore: 'wal', journalModeAfter: 'wal' }],
    });
    expect(lines[0]!.lockAttempts).toBeGreaterThan(1);
    expect(JSON.parse(result.stdout)).toEqual(lines[0]);
  });

  it('switches no database while another one is held by a writer: all or nothing', async () => {
    const dir = tempDir();
    const db = copyTemplate(dir, 'league.db');
    const twin = copyTemplate(dir, 'league_test.db');
    const held = await holdWriteLock(twin, 10_000);
    held.released.catch(() => undefined); // killed below
    children.push(held.process);

    const result = await runCli(['rollback', '--db', db, '--reason', 'busy twin', '--wait-seconds', '1']);
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toContain(`Database ${twin} is in use by another process`);
    expect(result.stderr).toMatch(new RegExp(`pid ${held.process.pid} \\(.*holds the write lock|fuser `));
    expect(result.stdout).toMatch(/^Rollback FAILED: nothing was changed/);
    expect(journalModeInHeader(db)).toBe('wal');
    expect(journalModeInHeader(twin)).toBe('wal');
    expect(existsSync(join(dir, 'feature_flags.json'))).toBe(false);
    expect(logLines(dir).map((line) => line.status)).toEqual(['failed']);
  });

  it('waits for a writer that lets go within --wait-seconds, then completes', async () => {
    const dir = tempDir();
    const db = copyTemplate(dir);
    const held = await holdWriteLock(db, 2000);
    children.push(held.process);
    const result = await runCli(['rollback', '--db', db, '--reason', 'writer finishing', '--wait-seconds', '10', '--json']);
    await held.released;
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as RollbackResult;
    expect(report.lockAttempts).toBeGreaterThan(1);
    expect(report.waitedMs).toBeGreaterThan(500);
    expect(report.databases[0]?.rowsAfter['holder_notes']).toBe(1);
    expect(journalModeInHeader(db)).toBe('rollback journal');
  });

  it('rolls the databases back even when the flags file does not load, leaving the file as it is (exit 2)', async () => {
    const dir = tempDir();
    const db = copyTemplate(dir);
    const flagsFile = join(dir, 'feature_flags.json');
    writeFileSync(flagsFile, '{ "wal_mode": tru');
    const keys = readTable(db).keys;

    const result = await runCli(['rollback', '--db', db, '--reason', 'emergency with a broken flags file']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/The databases were rolled back \(.* wal -> delete\), but the flags were NOT turned off: Flags file .* is not valid JSON/);
    expect(result.stderr).toMatch(/flags profile baseline/);
    expect(readFileSync(flagsFile, 'utf8')).toBe('{ "wal_mode": tru');
    expect(journalModeInHeader(db)).toBe('rollback journal');
    expect(readTable(db).keys).toEqual(keys);
    const [line] = logLines(dir);
    expect(line).toMatchObject({ status: 'partial', flagsBefore: null, flagsAfter: null, error: { code: 'ERR_FLAGS_FILE' } });
    expect(line?.flagsError).toMatch(/is not valid JSON/);
  });
});

describe('rollback --drill', () => {
  it('rolls back a verified copy from WAL, checks it, records the drill, and leaves the live database and flags untouched', async () => {
    const dir = tempDir();
    const db = copyTemplate(dir);
    const flags = join(dir, 'feature_flags.json');
    writeFileSync(flags, formatFlags(PROFILES.recommended));
    const before = { db: readFileSync(db), flags: readFileSync(flags), table: readTable(db) };
    const result = await runCli(['rollback', '--drill', '--db', db, '--json']);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const drill = JSON.parse(result.stdout) as RollbackDrillResult;
    expect(drill).toMatchObject({ status: 'passed', problems: [], database: db, journalMode: 'wal', flagsAtDrill: PROFILES.recommended });
    expect(drill.rollback).toMatchObject({ status: 'completed', journalModeBefore: 'wal', journalModeAfter: 'delete', rowsEqual: true });
    expect(drill.rollback?.flagsTurnedOff).toEqual(FLAG_NAMES.filter((name) => PROFILES.recommended[name]));
    expect(drill.copy?.rows.transactions).toBe(before.table.rows);
    expect(drill.copy?.kept).toBe(false);
    // The live files are as they were, byte for byte, and no scratch folder or rollback log is left.
    expect(readFileSync(db).equals(before.db)).toBe(true);
    expect(readFileSync(flags).equals(before.flags)).toBe(true);
    expect(journalModeInHeader(db)).toBe('wal');
    expect(logLines(dir)).toEqual([]);
    expect(readdirSync(dir).filter((name) => name.startsWith('.rollback-drill-'))).toEqual([]);
    const recorded = readFileSync(join(dir, 'rollback_drills.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { status: string; database: string });
    expect(recorded).toEqual([expect.objectContaining({ status: 'passed', database: db })]);
    const human = await runCli(['rollback', '--drill', '--db', db, '--keep-copy']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^Rollback drill PASSED in .* on a copy of /);
    expect(human.stdout).toMatch(/journal mode wal -> delete/);
    const kept = /kept at (\S+)/.exec(human.stdout)?.[1] ?? '';
    expect(journalModeInHeader(kept)).toBe('rollback journal');
    expect(readTable(kept).rows).toBe(before.table.rows);
  });

  it('fails, and records the failure, when the copy cannot be rolled back because the flags file does not load', async () => {
    const dir = tempDir();
    const db = copyTemplate(dir);
    writeFileSync(join(dir, 'feature_flags.json'), '{"wal_mode": "yes"}');
    const result = await runCli(['rollback', '--drill', '--db', db, '--json']);
    expect(result.code).toBe(1);
    const drill = JSON.parse(result.stdout) as { status: string; problems: string[] };
    expect(drill.status).toBe('failed');
    expect(drill.problems[0]).toMatch(/^the flags file does not load, so the rollback could not turn its flags off: Flags file .* flag wal_mode must be true or false/);
    expect(readFileSync(join(dir, 'rollback_drills.jsonl'), 'utf8')).toContain('"status":"failed"');
    const misuse = await runCli(['rollback', '--keep-copy', '--db', db]);
    expect(misuse.code).toBe(2);
    expect(misuse.stderr).toContain('Expected `--keep-copy` to be used with --drill');
  });
});
