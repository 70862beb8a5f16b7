import { chmodSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ValidationCheck, ValidationReport } from '../src/db/validate.js';
import { NOT_RUNNABLE_BY_OTHERS, OTHERS_CAN_RUN_CLI, runCli, type CliResult, type RunOptions } from './helpers/cli.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('league-backfill-cli-validate-');

const CLEAN_ENV = { LEAGUE_BACKFILL_DB: '', LEAGUE_BACKFILL_FLAGS: '', LEAGUE_BACKFILL_ENV: '' };

const EXPECTED_CHECKS = [
  'sqlite version',
  'node version',
  'file system',
  'write permission',
  'free disk space',
  'wal support',
  'mmap',
  'retry policy',
  'flags file',
  'wal-reset bug',
];

/** The user nobody: root ignores file permissions, so a permission test must not run as root. */
const NOBODY = 65534;
const isRoot = process.getuid?.() === 0;

function validate(args: string[], options: RunOptions & { cwd: string }): Promise<CliResult> {
  return runCli(['validate', ...args], { ...options, env: { ...CLEAN_ENV, ...options.env } });
}

function report(result: CliResult): ValidationReport {
  return JSON.parse(result.stdout) as ValidationReport;
}

function check(validation: ValidationReport, name: string): ValidationCheck {
  const found = validation.checks.find((candidate) => candidate.name === name);
  expect(found, `check "${name}" in ${JSON.stringify(validation.checks.map((c) => c.name))}`).toBeDefined();
  return found as ValidationCheck;
}

describe('validate', () => {
  it('passes every check in an ordinary temp folder and leaves no probe files behind', async () => {
    const cwd = tempDir();
    const result = await validate(['--json', '--db', join(cwd, 'league.db')], { cwd });
    expect(result.code, result.stderr).toBe(0);
    const validation = report(result);
    expect(validation.ok).toBe(true);
    expect(validation.sqliteVersion).toMatch(/^3\.\d+\.\d+$/);
    expect(validation.nodeVersion).toBe(process.versions.node);
    expect(validation.database).toBe(join(cwd, 'league.db'));
    expect(validation.flagsFile).toBe(join(cwd, 'feature_flags.json'));
    for (const name of EXPECTED_CHECKS) {
      const found = check(validation, name);
      expect(found.ok, `${name}: ${found.detail}`).toBe(true);
      expect(found.detail.length).toBeGreaterThan(0);
    }
    expect(check(validation, 'wal support').detail).toContain('journal_mode=WAL');
    expect(readdirSync(cwd)).toEqual([]);
  });

  it('fails the write permission check, naming the folder, where the folder is not writable', async ({ skip }) => {
    if (isRoot && !OTHERS_CAN_RUN_CLI) skip(NOT_RUNNABLE_BY_OTHERS);
    const cwd = tempDir();
    const locked = join(cwd, 'locked');
    mkdirSync(locked);
    // As root, run the command line as nobody: the temp folder must let that user in.
    if (isRoot) chmodSync(cwd, 0o755);
    chmodSync(locked, 0o555);
    const asUser: RunOptions = isRoot ? { uid: NOBODY, gid: NOBODY } : {};
    const result = await validate(['--json', '--db', join(locked, 'league.db')], { cwd, ...asUser });
    expect(result.code, result.stderr).toBe(1);
    const validation = report(result);
    expect(validation.ok).toBe(false);
    const permission = check(validation, 'write permission');
    expect(permission.ok).toBe(false);
    expect(permission.required).toBe(true);
    expect(permission.detail).toContain(`cannot write in ${locked}`);
    expect(permission.detail).toMatch(/EACCES|EPERM/);
    expect(readdirSync(locked)).toEqual([]);
  });

  it('fails the database file check for a text file and leaves the file unchanged', async () => {
    const cwd = tempDir();
    const path = join(cwd, 'notes.txt');
    const content = Buffer.from('these are notes, not a database\n');
    writeFileSync(path, content);
    const result = await validate(['--json', '--db', path], { cwd });
    expect(result.code, result.stderr).toBe(1);
    const validation = report(result);
    expect(validation.ok).toBe(false);
    const database = check(validation, 'database file');
    expect(database.ok).toBe(false);
    expect(database.detail).toContain(path);
    expect(database.detail).toContain('not a SQLite database');
    expect(validation.checks.filter((c) => !c.ok).map((c) => c.name)).toEqual(['database file']);
    expect(readFileSync(path).equals(content)).toBe(true);
    expect(readdirSync(cwd)).toEqual(['notes.txt']);
  });

  it('prints each check with ok or FAIL in the human output', async () => {
    const cwd = tempDir();
    const path = join(cwd, 'notes.txt');
    writeFileSync(path, 'plain text\n');
    const result = await validate(['--db', path], { cwd });
    expect(result.code, result.stderr).toBe(1);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toBe(`Validation of ${path} (flags ${join(cwd, 'feature_flags.json')})`);
    for (const name of EXPECTED_CHECKS) {
      expect(lines.some((line) => line.startsWith(`  [ok  ] ${name}: `)), name).toBe(true);
    }
    expect(lines.some((line) => line.startsWith('  [FAIL] database file: ') && line.includes('not a SQLite database'))).toBe(true);
    expect(result.stdout).toContain('Some required checks failed');
  });

  it('prints only ok lines and a passing summary for a good folder', async () => {
    const cwd = tempDir();
    const result = await validate(['--db', join(cwd, 'league.db')], { cwd });
    expect(result.code, result.stderr).toBe(0);
    const checkLines = result.stdout.split('\n').filter((line) => line.startsWith('  ['));
    expect(checkLines.length).toBeGreaterThanOrEqual(EXPECTED_CHECKS.length);
    expect(checkLines.every((line) => line.startsWith('  [ok  ] '))).toBe(true);
    expect(result.stdout).toContain('All required checks passed.');
    expect(readdirSync(cwd)).toEqual([]);
  });
});
