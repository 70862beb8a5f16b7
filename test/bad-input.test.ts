/**
 * Bad input, on the command line and through the API: every case must say what input was
 * wrong and how, exit 2 (usage and input errors; health: 3, UNKNOWN; validate: 1, a failed
 * check), and leave every file as it was: each case runs in its own folder, hashed before and
 * after, so a file created, removed or changed (a stray data/ folder, a -wal, a rewritten flags
 * file) fails the case.
 * test/backfill-cli.test.ts and test/cli-flags.test.ts check exit codes of a few of these;
 * here each one's message is checked too.
 *
 * Cases that depend on the process (its user, its environment variables, its working
 * directory) run the built binary in a child process. The others call the same `main()` the
 * binary calls, in this process, with paths inside the case folder: a child process costs
 * about a second of CPU, and there are many cases.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The engine starts worker threads, which Node 20 can only load as JavaScript: test the build.
import { createEngine, demoSource, PROFILES, type EngineOptions } from '../dist/src/index.js';
import { main } from '../dist/src/cli/main.js';
import { NOT_RUNNABLE_BY_OTHERS, OTHERS_CAN_RUN_CLI, runCli, type CliResult } from './helpers/cli.js';
import { diffSnapshots, snapshotFolder } from './helpers/hash.js';

/** Variables of the surrounding shell must not choose files or credentials under test. */
const CLEAN_ENV: NodeJS.ProcessEnv = {
  LEAGUE_BACKFILL_DB: '', LEAGUE_BACKFILL_FLAGS: '', LEAGUE_BACKFILL_ENV: '', LEAGUE_BACKFILL_LOG_LEVEL: 'warn',
  LEAGUE_BACKFILL_YAHOO_API_BASE: '', LEAGUE_BACKFILL_YAHOO_TOKEN_URL: '',
  YAHOO_ACCESS_TOKEN: '', YAHOO_CLIENT_ID: '', YAHOO_CLIENT_SECRET: '', YAHOO_REFRESH_TOKEN: '',
};

/** Root ignores file permissions: permission cases run the CLI as nobody (65534) when the tests run as root. */
const NOBODY = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'league-backfill-bad-input-'));
  chmodSync(root, 0o755); // nobody must reach the case folders
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

let folders = 0;
function caseFolder(): string {
  const dir = join(root, `case-${++folders}`);
  mkdirSync(dir);
  chmodSync(dir, 0o777); // writable by nobody too: whatever the CLI might create would show
  return dir;
}

/** A real SQLite file (not made by league-backfill): a database the CLI must not touch on bad input. */
function sqliteFile(path: string, mode?: number): void {
  const db = new Database(path);
  db.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, note TEXT); INSERT INTO notes (note) VALUES (\'keep me\')');
  db.close();
  if (mode !== undefined) chmodSync(path, mode);
}

const FILES = {
  'text.db': (dir: string) => writeFileSync(join(dir, 'text.db'), 'name,team\nalice,red\n'),
  'folder.db': (dir: string) => mkdirSync(join(dir, 'folder.db')),
  'league.db': (dir: string) => sqliteFile(join(dir, 'league.db')),
  'readonly.db': (dir: string) => sqliteFile(join(dir, 'readonly.db'), 0o444),
  'locked/': (dir: string) => {
    mkdirSync(join(dir, 'locked'));
    chmodSync(join(dir, 'locked'), 0o555);
  },
  'existing.db': (dir: string) => writeFileSync(join(dir, 'existing.db'), 'an older backup, not to be overwritten\n'),
  'bad.json': (dir: string) => writeFileSync(join(dir, 'bad.json'), '{"wal_mode": tru'),
  'types.json': (dir: string) => writeFileSync(join(dir, 'types.json'), '{"wal_mode": "yes"}\n'),
  'unknown.json': (dir: string) => writeFileSync(join(dir, 'unknown.json'), '{"wal_mod": true}\n'),
  'empty.json': (dir: string) => writeFileSync(join(dir, 'empty.json'), ''),
  'array.json': (dir: string) => writeFileSync(join(dir, 'array.json'), '[true]\n'),
  'notjson.json': (dir: string) => writeFileSync(join(dir, 'notjson.json'), 'league,season\n423.l.1,2023\n'),
} as const;
type FileName = keyof typeof FILES;

interface CliCase {
  /** What the user did wrong. */
  what: string;
  args: string[];
  /** Files made in the case folder (the working directory) before the run. */
  files?: FileName[];
  env?: NodeJS.ProcessEnv;
  asNobody?: boolean;
  /** Run the built binary in a child process (implied by `env` and `asNobody`). @default false */
  spawn?: boolean;
  /** @default 2 */
  code?: number;
  /** Each must match stderr: the input named, and what is wrong with it. */
  says: RegExp[];
}

const ONE_JOB = ['--leagues', '1', '--seasons', '2023', '--no-progress'];

const CLI_CASES: CliCase[] = [
  // season ranges
  { what: 'a reversed season range', spawn: true, args: ['backfill', '--seasons', '2024-2019'], says: [/`--seasons`/, /got "2024-2019"/, /reversed; write 2019-2024/] },
  { what: 'a range of three years', args: ['backfill', '--seasons', '2019-2024-2025'], says: [/`--seasons`/, /"2019-2024-2025" is not a year or a range of years/] },
  { what: 'two-digit years', args: ['backfill', '--seasons', '19-24'], says: [/`--seasons`/, /"19-24" is not a year or a range of years/] },
  { what: 'an empty item in a list', args: ['backfill', '--seasons', '2019,,2021'], says: [/`--seasons`/, /got "2019,,2021"/] },
  { what: 'a season before 1990', args: ['backfill', '--seasons', '1989-2020'], says: [/`--seasons`/, /1989 is out of range/] },
  { what: 'empty seasons', args: ['backfill', '--seasons', ''], says: [/`--seasons`/, /got ""/] },
  // numbers out of range or not numbers
  { what: '--workers 0', args: ['backfill', '--workers', '0'], says: [/`--workers` to be an integer from 1 to 64, got "0"/] },
  { what: '--workers two', args: ['backfill', '--workers', 'two'], says: [/`--workers` to be an integer from 1 to 64, got "two"/] },
  { what: '--batch-size 0', args: ['backfill', '--batch-size', '0'], says: [/`--batch-size` to be an integer from 1 to 100, got "0"/] },
  { what: '--batch-size 1000', args: ['backfill', '--batch-size', '1000'], says: [/`--batch-size` to be an integer from 1 to 100, got "1000"/] },
  { what: '--batch-size 2.5', args: ['backfill', '--batch-size', '2.5'], says: [/`--batch-size`.*got "2\.5"/] },
  { what: 'a negative --rate', args: ['backfill', '--rate', '-1'], says: [/`--rate` to be a number from 0 to 10000, got "-1"/] },
  { what: 'a negative --failure-rate', args: ['backfill', '--failure-rate', '-0.1'], says: [/`--failure-rate` to be a number from 0 to 1, got "-0\.1"/] },
  { what: '--failure-rate above 1', args: ['backfill', '--failure-rate', '1.5'], says: [/`--failure-rate`.*got "1\.5"/] },
  { what: 'a negative --latency', args: ['backfill', '--latency', '-5'], says: [/`--latency` to be an integer from 0 to 60000, got "-5"/] },
  { what: 'a negative --seed', args: ['backfill', '--seed', '-1'], says: [/`--seed`.*got "-1"/] },
  { what: 'a negative --busy-timeout', args: ['backfill', '--busy-timeout', '-1'], says: [/`--busy-timeout`.*got "-1"/] },
  { what: '--transaction-budget 0', args: ['backfill', '--transaction-budget', '0'], says: [/`--transaction-budget`.*got "0"/] },
  { what: '--leagues 0', args: ['backfill', '--leagues', '0'], says: [/`--leagues` to be an integer from 1 to 10000, got "0"/] },
  { what: 'a huge --leagues', args: ['backfill', '--leagues', '1e9'], says: [/`--leagues` to be an integer from 1 to 10000, got "1e9"/] },
  {
    what: 'a plan of over a million jobs (10,000 leagues x 111 seasons)', spawn: true, args: ['backfill', '--leagues', '10000', '--seasons', '1990-2100'],
    says: [/`--leagues x --seasons` to be at most 200,000 jobs/, /got 1110000/, /10000 leagues x 111 seasons; split the work into several runs/],
  },
  // commands and options
  { what: 'an unknown command', spawn: true, args: ['nonsense'], says: [/unknown command 'nonsense'/] },
  { what: 'a misspelt command', args: ['backfil'], says: [/unknown command 'backfil'/, /Did you mean backfill\?/] },
  { what: 'an unknown option', args: ['backfill', '--bogus'], says: [/unknown option '--bogus'/] },
  { what: 'a misspelt option', args: ['backfill', '--worker', '2'], says: [/unknown option '--worker'/, /Did you mean --workers\?/] },
  { what: 'an option without its value', spawn: true, args: ['backfill', '--workers'], says: [/option '--workers <n>' argument missing/] },
  { what: 'an argument backfill does not take', args: ['backfill', '2023'], says: [/too many arguments for 'backfill'/] },
  // league keys
  { what: 'a league key of the wrong form', args: ['backfill', '--league', 'nfl-2023'], says: [/`--league`/, /\{game_key\}\.l\.\{league_id\}/, /got "nfl-2023"/] },
  { what: '--league repeated with one bad key', args: ['backfill', '--league', '423.l.1', '--league', '423.L.2'], says: [/`--league`/, /got "423\.L\.2"/] },
  { what: 'an empty league key', args: ['backfill', '--league', ''], says: [/`--league`/, /got ""/] },
  // sources
  { what: 'an unknown source', args: ['backfill', '--source', 'ftp'], says: [/`--source` to be one of demo, yahoo, file, got "ftp"/] },
  { what: '--source file without --input', args: ['backfill', '--source', 'file'], says: [/`--input` to be a path with --source file/] },
  { what: '--input with the demo source', args: ['backfill', '--input', 'saved.json'], says: [/`--input` to be used only with --source file, got "\S*saved\.json"/] },
  { what: 'an --input that is not JSON', args: ['backfill', '--source', 'file', '--input', 'notjson.json', '--db', 'x.db'], files: ['notjson.json'], says: [/Input \S*notjson\.json is not valid JSON/] },
  { what: 'an --input that does not exist', args: ['backfill', '--source', 'file', '--input', 'missing.json', '--db', 'x.db'], says: [/Input .*missing\.json.* does not exist/] },
  { what: '--source yahoo without --league', spawn: true, args: ['backfill', '--source', 'yahoo', '--seasons', '2020'], says: [/`--league` to be at least one league key with --source yahoo/] },
  { what: '--source yahoo without credentials', spawn: true, args: ['backfill', '--source', 'yahoo', '--league', '423.l.1', '--seasons', '2020', '--db', 'x.db'], says: [/No Yahoo credentials: set YAHOO_CLIENT_ID/] },
  {
    what: 'an --api-base that is not http(s)', spawn: true, args: ['backfill', '--source', 'yahoo', '--league', '423.l.1', '--seasons', '2020', '--api-base', 'ftp://example.com', '--db', 'x.db'],
    env: { YAHOO_ACCESS_TOKEN: 'token-for-the-test' }, says: [/`apiBase` to be an http\(s\) URL/, /got "ftp:\/\/example\.com"/],
  },
  // --db
  { what: '--db at a text file', args: ['backfill', '--db', 'text.db', ...ONE_JOB], files: ['text.db'], says: [/Database \S*text\.db: is not a SQLite database/, /left unchanged/] },
  { what: '--db at a folder', args: ['backfill', '--db', 'folder.db', ...ONE_JOB], files: ['folder.db'], says: [/Database \S*folder\.db: is a folder, not a database file/] },
  { what: '--db in a folder that does not exist', args: ['backfill', '--db', 'missing/x.db', ...ONE_JOB], says: [/Database \S*missing\/x\.db: its folder \S*missing does not exist/] },
  { what: '--db in a folder that is not writable', args: ['backfill', '--db', 'locked/x.db', ...ONE_JOB], files: ['locked/'], asNobody: true, says: [/Database locked\/x\.db: its folder locked is not writable by this user/] },
  { what: '--db at a read-only file', args: ['backfill', '--db', 'readonly.db', ...ONE_JOB], files: ['readonly.db'], asNobody: true, says: [/Database readonly\.db: is not writable by this user/] },
  { what: 'an empty --db', args: ['backfill', '--db', '', ...ONE_JOB], says: [/`--db` to be a file path, got ""/] },
  { what: 'jobs on a text file', args: ['jobs', '--db', 'text.db'], files: ['text.db'], says: [/Database \S*text\.db: is not a SQLite database/] },
  { what: 'jobs on a database that does not exist', args: ['jobs', '--db', 'nothing.db'], says: [/Database \S*nothing\.db: does not exist/] },
  { what: 'maintain on a text file', args: ['maintain', '--db', 'text.db'], files: ['text.db'], says: [/Database \S*text\.db: is not a SQLite database/] },
  { what: 'backup of a text file', args: ['backup', '--db', 'text.db', 'copy.db'], files: ['text.db'], says: [/Database \S*text\.db: is not a SQLite database/] },
  { what: 'rollback on a text file', args: ['rollback', '--db', 'text.db', '--reason', 'test'], files: ['text.db'], says: [/Database \S*text\.db: is not a SQLite database/] },
  { what: 'health on a text file (exit 3, UNKNOWN)', args: ['health', '--db', 'text.db'], files: ['text.db'], code: 3, says: [/UNKNOWN/, /text\.db: is not a SQLite database/] },
  // flags files: the database beside them must not be touched either
  { what: 'a flags file that is not valid JSON', args: ['backfill', '--db', 'league.db', '--flags', 'bad.json', ...ONE_JOB], files: ['league.db', 'bad.json'], says: [/Flags file \S*bad\.json: the file is not valid JSON/, /left unchanged/] },
  { what: 'a flags file with a string for a flag', args: ['backfill', '--db', 'league.db', '--flags', 'types.json', ...ONE_JOB], files: ['league.db', 'types.json'], says: [/Flags file \S*types\.json: flag wal_mode must be true or false, got "yes"/] },
  { what: 'a flags file with an unknown flag', args: ['backfill', '--db', 'league.db', '--flags', 'unknown.json', ...ONE_JOB], files: ['league.db', 'unknown.json'], says: [/Flags file \S*unknown\.json: unknown flag "wal_mod" \(did you mean wal_mode\?\)/] },
  { what: 'an empty flags file', args: ['backfill', '--db', 'league.db', '--flags', 'empty.json', ...ONE_JOB], files: ['league.db', 'empty.json'], says: [/Flags file \S*empty\.json: the file is empty/] },
  { what: 'a flags file holding an array', args: ['backfill', '--db', 'league.db', '--flags', 'array.json', ...ONE_JOB], files: ['league.db', 'array.json'], says: [/Flags file \S*array\.json: expected a JSON object .* got \[true\] \(array\)/] },
  { what: '--flags at a folder', args: ['backfill', '--db', 'league.db', '--flags', 'folder.db', ...ONE_JOB], files: ['league.db', 'folder.db'], says: [/Flags file \S*folder\.db: the path is a directory/] },
  { what: 'an empty --flags', args: ['backfill', '--flags', '', ...ONE_JOB], says: [/`--flags` to be a file path, got ""/] },
  { what: 'flags enable on a broken flags file', args: ['flags', 'enable', 'wal_mode', '--flags', 'bad.json'], files: ['bad.json'], says: [/Flags file \S*bad\.json: the file is not valid JSON/] },
  // environment variables
  { what: 'LEAGUE_BACKFILL_LOG_LEVEL=loud', args: ['backfill', ...ONE_JOB], env: { LEAGUE_BACKFILL_LOG_LEVEL: 'loud' }, says: [/`LEAGUE_BACKFILL_LOG_LEVEL` to be one of fatal, error, warn, info, debug, trace, silent, got "loud"/] },
  { what: 'LEAGUE_BACKFILL_ENV=TEST (the names are lower case)', args: ['backfill', ...ONE_JOB], env: { LEAGUE_BACKFILL_ENV: 'TEST' }, says: [/`LEAGUE_BACKFILL_ENV` to be production or test, got "TEST"/] },
  { what: 'a blank LEAGUE_BACKFILL_DB', args: ['backfill', ...ONE_JOB], env: { LEAGUE_BACKFILL_DB: '  ' }, says: [/`LEAGUE_BACKFILL_DB` to be a file path, got " {2}"/] },
  { what: 'an empty LEAGUE_BACKFILL_DB (taken as unset: the default path)', args: ['jobs'], env: { LEAGUE_BACKFILL_DB: '' }, says: [/Database data\/league_analytics\.db: does not exist/] },
  { what: 'LEAGUE_BACKFILL_DB at a folder', args: ['backfill', ...ONE_JOB], files: ['folder.db'], env: { LEAGUE_BACKFILL_DB: 'folder.db' }, says: [/Database folder\.db: is a folder/] },
  { what: 'LEAGUE_BACKFILL_FLAGS at a broken file', args: ['flags', 'list'], files: ['bad.json'], env: { LEAGUE_BACKFILL_FLAGS: 'bad.json' }, says: [/Flags file \S*bad\.json: the file is not valid JSON/] },
  // other commands
  { what: 'jobs --status done (the state is "completed")', args: ['jobs', '--status', 'done'], says: [/`--status` to be one of queued, running, completed, failed, cancelled, got "done"/] },
  { what: 'jobs --limit 0', args: ['jobs', '--limit', '0'], says: [/`--limit` to be an integer from 1 to 1000000, got "0"/] },
  { what: 'backup onto an existing file', args: ['backup', '--db', 'league.db', 'existing.db'], files: ['league.db', 'existing.db'], says: [/Backup destination \S*existing\.db: already exists/, /--force/] },
  { what: 'backup onto the database itself', args: ['backup', '--db', 'league.db', 'league.db'], files: ['league.db'], says: [/`destination` to be a path other than the source database/] },
  { what: 'backup into a folder that does not exist', args: ['backup', '--db', 'league.db', 'nowhere/copy.db'], files: ['league.db'], says: [/`destination` to be a path in an existing folder, got "\S*nowhere\/copy\.db"/] },
  { what: 'flags disable with no names', args: ['flags', 'disable'], says: [/`flags disable` to be one or more flag names/] },
  { what: 'flags enable with one misspelt name among good ones', args: ['flags', 'enable', 'wal_mode', 'retry_logc', '--flags', 'flags.json'], says: [/retry_logc/] },
  { what: 'rollback without --reason', args: ['rollback', '--db', 'league.db'], files: ['league.db'], says: [/`--reason` to be a short text/, /Nothing was changed/] },
  { what: 'maintain --backup-method zip', args: ['maintain', '--db', 'league.db', '--backup-method', 'zip'], files: ['league.db'], says: [/`--backup-method` to be one of vacuum-into, api, got "zip"/] },
  {
    what: 'validate with --db in a folder that does not exist (a failed check: exit 1)', args: ['validate', '--db', 'missing/x.db'], code: 1,
    says: [/\[FAIL\] database file: Database \S*missing\/x\.db: its folder \S*missing does not exist/, /Some required checks failed/],
  },
  { what: 'health --interval without --watch (exit 3)', args: ['health', '--interval', '5'], code: 3, says: [/`--interval` to be used with --watch/] },
];

/** `main()` of the built CLI in this process, with its output collected. */
async function runInProcess(args: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const sink = (append: (text: string) => void): Writable => new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      append(String(chunk));
      callback();
    },
  });
  const code = await main(args, {
    stdout: sink((text) => { stdout += text; }),
    stderr: sink((text) => { stderr += text; }),
    env: { ...CLEAN_ENV },
    signal: new AbortController().signal,
  });
  return { code, signal: null, stdout, stderr };
}

/** The case's relative paths made absolute in `dir`, and a --db there when none is given, so nothing can land elsewhere. */
function inFolder(dir: string, args: string[]): string[] {
  const mapped = args.map((arg) => (!arg.startsWith('-') && !arg.includes('://') && /\.(db|json)$|\//.test(arg) ? join(dir, arg) : arg));
  return mapped.includes('--db') ? mapped : [...mapped, '--db', join(dir, 'league_analytics.db')];
}

describe.concurrent('bad input on the command line', () => {
  it.for(CLI_CASES)('$what: refused with a message naming it, and no file changed', async ({ args, files = [], env, asNobody = false, spawn = false, code = 2, says }, { expect, skip }) => {
    if (asNobody && 'uid' in NOBODY && !OTHERS_CAN_RUN_CLI) skip(NOT_RUNNABLE_BY_OTHERS);
    const dir = caseFolder();
    for (const file of files) FILES[file](dir);
    const before = snapshotFolder(dir);
    const result = spawn || asNobody || env !== undefined
      ? await runCli(args, { cwd: dir, env: { ...CLEAN_ENV, ...env }, timeoutMs: 30_000, ...(asNobody ? NOBODY : {}) })
      : await runInProcess(inFolder(dir, args));
    const context = `${args.join(' ')}\nstderr: ${result.stderr}\nstdout: ${result.stdout}`;
    expect(result.code, context).toBe(code);
    for (const pattern of says) expect(result.stderr + result.stdout, context).toMatch(pattern);
    // A message, not a crash: no stack trace.
    expect(result.stderr, context).not.toMatch(/\n\s+at /);
    expect(diffSnapshots(before, snapshotFolder(dir)), context).toEqual([]);
  });

  it('with --json, prints the error as one JSON object with its code, and changes nothing', async ({ expect }) => {
    const dir = caseFolder();
    FILES['text.db'](dir);
    FILES['bad.json'](dir);
    const before = snapshotFolder(dir);
    const cases: Array<[string[], string]> = [
      [['backfill', '--seasons', '2024-2019', '--json'], 'ERR_INVALID_OPTION'],
      [['backfill', '--db', 'text.db', '--json', ...ONE_JOB], 'ERR_DATABASE_OPEN'],
      [['backfill', '--flags', 'bad.json', '--db', 'x.db', '--json', ...ONE_JOB], 'ERR_FLAGS_FILE'],
      [['backfill', '--source', 'file', '--input', 'nothing.json', '--db', 'x.db', '--json'], 'ERR_INPUT'],
    ];
    for (const [index, [args, errorCode]] of cases.entries()) {
      // The first through the binary, the others in this process.
      const result = index === 0 ? await runCli(args, { cwd: dir, env: CLEAN_ENV }) : await runInProcess(inFolder(dir, args));
      expect(result.code, result.stderr).toBe(2);
      const printed = JSON.parse(result.stdout) as { error: { code: string; message: string } };
      expect(printed.error.code).toBe(errorCode);
      expect(result.stderr).toContain(printed.error.message);
    }
    expect(diffSnapshots(before, snapshotFolder(dir))).toEqual([]);
  });
});

describe('bad input through the API', () => {
  /** Calls `fn`, expects a typed error with `code` and a message matching `message`, and that nothing in `dir` changed. */
  async function expectRefused(dir: string, fn: () => unknown, code: string, message: RegExp): Promise<void> {
    const before = snapshotFolder(dir);
    let caught: unknown;
    try {
      await fn();
    } catch (error) {
      caught = error;
    }
    expect(caught, `expected ${code}`).toBeInstanceOf(Error);
    expect((caught as { code?: string }).code, (caught as Error).message).toBe(code);
    expect((caught as Error).message).toMatch(message);
    expect(diffSnapshots(before, snapshotFolder(dir))).toEqual([]);
  }

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['batchSize 0', { batchSize: 0 }, /`batchSize` to be an integer from 1 to 100, got 0 \(number\)/],
    ['batchSize 1000', { batchSize: 1000 }, /`batchSize` to be an integer from 1 to 100, got 1000/],
    ['workers 0', { workers: 0 }, /`workers` to be an integer from 1 to 64, got 0/],
    ['a misspelt option', { batch_size: 50 }, /`batch_size` to be one of the engine options/],
    ['an empty database path', { database: '' }, /`database` to be a file path, got ""/],
    ['a negative requestsPerSecond', { requestsPerSecond: -1 }, /`requestsPerSecond` to be a number >= 0, got -1/],
    ['a negative busyTimeoutMs', { busyTimeoutMs: -5 }, /`busyTimeoutMs` to be an integer from 0 to 600000, got -5/],
    ['an unknown lockWait', { lockWait: 'politely' }, /`lockWait` to be .*got "politely"/],
    ['retry.attempts 0', { retry: { attempts: 0 } }, /`retry\.attempts` to be an integer from 1 to 100, got 0/],
    ['a tiny checkpointThresholdBytes', { checkpointThresholdBytes: 10 }, /`checkpointThresholdBytes` to be an integer from 1048576/],
    ['a table name with SQL in it', { tables: { transactions: 'x; DROP TABLE y' } }, /`tables\.transactions` to be a SQL identifier/],
  ])('createEngine refuses %s with ERR_INVALID_OPTION naming it, and creates no file', async (_what, options, message) => {
    const dir = caseFolder();
    await expectRefused(dir, () => createEngine({ database: join(dir, 'league.db'), flags: PROFILES.recommended, ...options } as EngineOptions), 'ERR_INVALID_OPTION', message);
  });

  it('createEngine refuses a database path that is a text file, a folder or in a missing folder, and a broken flags file', async () => {
    const dir = caseFolder();
    FILES['text.db'](dir);
    FILES['folder.db'](dir);
    FILES['bad.json'](dir);
    await expectRefused(dir, () => createEngine({ database: join(dir, 'text.db'), flags: PROFILES.recommended }), 'ERR_DATABASE_OPEN', /text\.db: is not a SQLite database/);
    await expectRefused(dir, () => createEngine({ database: join(dir, 'folder.db'), flags: PROFILES.recommended }), 'ERR_DATABASE_OPEN', /folder\.db: is a folder/);
    await expectRefused(dir, () => createEngine({ database: join(dir, 'missing', 'x.db'), flags: PROFILES.recommended }), 'ERR_DATABASE_OPEN', /its folder .*missing does not exist/);
    await expectRefused(dir, () => createEngine({ database: join(dir, 'x.db'), flags: join(dir, 'bad.json') }), 'ERR_FLAGS_FILE', /bad\.json: the file is not valid JSON/);
  });

  it('demoSource refuses bad options by name', async () => {
    const dir = caseFolder();
    await expectRefused(dir, () => demoSource({ failureRate: 2 }), 'ERR_INVALID_OPTION', /`failureRate` to be a probability from 0 to 1, got 2/);
    await expectRefused(dir, () => demoSource({ latencyMs: -1 }), 'ERR_INVALID_OPTION', /`latencyMs`.*got -1/);
    await expectRefused(dir, () => demoSource({ sed: 7 } as never), 'ERR_INVALID_OPTION', /`sed` to be a known option.*Did you mean `seed`\?/);
  });

  it('enqueue and submit refuse bad jobs and statements with ERR_INVALID_OPTION, and the database keeps no trace of them', async () => {
    const dir = caseFolder();
    const path = join(dir, 'league.db');
    const engine = await createEngine({ database: path, flags: PROFILES.recommended });
    try {
      const jobs: Array<[unknown, RegExp]> = [
        [{ leagueKey: 'nfl-2023', season: 2023 }, /`leagueKey` to be a league key of the form \{game_key\}\.l\.\{league_id\}.*got "nfl-2023"/],
        [{ leagueKey: '423.L.1', season: 2023 }, /`leagueKey`.*got "423\.L\.1"/],
        [{ leagueKey: '423.l.1', season: 2020.5 }, /`season` to be a year such as 2023, got 2020\.5/],
        [{ leagueKey: '423.l.1', season: '2020' }, /`season`.*got "2020" \(string\)/],
        [{ leagueKey: '423.l.1', season: 1800 }, /`season`.*got 1800/],
        [{ leagueKey: '423.l.1', season: 2020, force: 'yes' }, /`force` to be a boolean, got "yes"/],
        [null, /`job` to be an object with leagueKey and season/],
      ];
      for (const [request, message] of jobs) {
        let caught: unknown;
        try {
          engine.enqueue(request as never);
        } catch (error) {
          caught = error;
        }
        expect((caught as { code?: string }).code, JSON.stringify(request)).toBe('ERR_INVALID_OPTION');
        expect((caught as Error).message).toMatch(message);
      }
      const statements: Array<[unknown, RegExp]> = [
        [{ sql: '' }, /`sql` to be a SQL statement, got ""/],
        [{ sql: '   ' }, /`sql` to be a SQL statement, got " {3}"/],
        [{ sql: 42 }, /`sql` to be a SQL statement, got 42 \(number\)/],
        [undefined, /`sql` to be a SQL statement, got undefined/],
        [{ sql: 'SELECT ?', params: [1, 2] }, /`params` to be an array of parameter arrays, got \[1,2\]/],
        [{ sql: 'SELECT 1', mode: 'sometimes' }, /`mode` to be 'deferred', 'immediate' or 'exclusive', got "sometimes"/],
      ];
      for (const [request, message] of statements) {
        await expect(engine.submit(request as never), JSON.stringify(request)).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION', message: expect.stringMatching(message) as unknown });
      }
      // SQL that SQLite refuses is a write error, rolled back as a whole: the first row is not kept.
      await engine.submit({ sql: 'CREATE TABLE notes (id INTEGER PRIMARY KEY)' });
      await expect(engine.submit({ sql: 'SELEC 1' })).rejects.toMatchObject({ code: 'ERR_DATABASE_WRITE', message: expect.stringMatching(/syntax error/) as unknown });
      await expect(engine.submit({ sql: 'INSERT INTO notes (id) VALUES (?)', params: [[1], [1]] })).rejects.toMatchObject({ code: 'ERR_DATABASE_WRITE', message: expect.stringMatching(/UNIQUE constraint failed: notes\.id/) as unknown });
      expect(engine.totals.jobs).toBe(0);
    } finally {
      await engine.close();
    }
    const check = new Database(path, { readonly: true });
    expect(check.prepare('SELECT count(*) FROM job_log').pluck().get()).toBe(0);
    expect(check.prepare('SELECT count(*) FROM notes').pluck().get()).toBe(0);
    check.close();
  });
});
