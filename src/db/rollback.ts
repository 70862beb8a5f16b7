/**
 * Emergency rollback: every flag off, and each database (the one asked for and, when its file
 * exists, its production <-> test twin) checkpointed, its WAL truncated and its journal mode
 * set back to DELETE, with one line per rollback appended to `rollback_log.jsonl` beside the
 * flags file.
 *
 * The steps are ordered so that nothing changes until everything can change:
 * 1. validate the options, the database paths and the flags file (nothing is opened for writing);
 * 2. lock every database that is not in DELETE mode yet: `locking_mode = EXCLUSIVE` and an
 *    empty EXCLUSIVE transaction, which SQLite grants only when no other connection has the
 *    file open in WAL mode or holds a lock on it; then `wal_checkpoint(TRUNCATE)`. When one
 *    database is busy, every lock already taken is released and the whole step is tried again
 *    with backoff, until `waitSeconds` have passed: no database is held while waiting for
 *    another, and when time runs out nothing has changed;
 * 3. with every lock held, set `journal_mode = DELETE` on each and read it back (a database
 *    that refuses has the ones switched before it switched back);
 * 4. save every flag off (atomically) while the locks are still held, so that no engine can
 *    start between the switch and the save and put the database back into WAL mode;
 * 5. count the rows again, release the locks, and append the log line.
 *
 * A flags file that does not load (not JSON, unknown flag, ...) does not block the rollback
 * of the databases: it is left unchanged, as every command leaves it, and the rollback ends
 * with ERR_FLAGS_FILE (exit 2 in the CLI) saying the flags still need fixing. While the file is
 * invalid no engine starts at all, so the databases stay in DELETE mode until it is fixed.
 */
import { existsSync, rmSync, statSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import BetterSqlite3, { type Database } from 'better-sqlite3';
import { BackfillError, FlagsFileError, InvalidOptionError, isLockError, type ErrorCode } from '../errors.js';
import { FLAG_NAMES, PROFILES, loadFlags, updateFlags, type FlagName, type Flags } from '../flags/index.js';
import { silentLogger, type Logger } from '../logger.js';
import { describeHolders, findLockHolders } from './locking/lock-holders.js';
import { checkDatabasePath } from './open.js';

/** The log's file name; it sits beside the flags file. */
export const ROLLBACK_LOG_FILE_NAME = 'rollback_log.jsonl';

export interface RollbackOptions {
  /** Why the rollback is done, in the operator's words; written to the log. Required, not blank. */
  readonly reason: string;
  /** The database file to roll back. It must exist. */
  readonly database: string;
  /**
   * The other environment's database (production <-> test): rolled back as well when the
   * file exists, skipped (and reported) when it does not.
   * @default none
   */
  readonly twinDatabase?: string | undefined;
  /** The flags file: every flag is turned off in it. */
  readonly flagsPath: string;
  /** The rollback log, one JSON line per rollback. @default `rollback_log.jsonl` beside the flags file */
  readonly logPath?: string | undefined;
  /**
   * How long to wait, in seconds, for other processes to close the databases or release
   * their locks before giving up with nothing changed. From 0 to 3600.
   * @default 10
   */
  readonly waitSeconds?: number | undefined;
  /** Waits, retries and steps are logged here. @default a silent logger */
  readonly logger?: Logger | undefined;
  /** Aborting stops the waiting; nothing is changed after an abort. */
  readonly signal?: AbortSignal | undefined;
}

export interface ResolvedRollbackOptions {
  reason: string;
  database: string;
  twinDatabase: string | null;
  flagsPath: string;
  logPath: string;
  waitSeconds: number;
  logger: Logger;
  signal: AbortSignal | null;
}

/** What happened to one database. */
export type DatabaseAction =
  /** Switched to DELETE mode (after a checkpoint when it was in WAL mode). */
  | 'switched'
  /** Already in DELETE mode: only read. */
  | 'unchanged'
  /** Switched, then switched back because another database could not be switched. */
  | 'reverted'
  /** Not changed: the rollback stopped before it got to this database. */
  | 'untouched';

export interface DatabaseRollback {
  path: string;
  action: DatabaseAction;
  journalModeBefore: string;
  journalModeAfter: string;
  /** Size of the `-wal` file when the rollback started. */
  walBytesBefore: number;
  /** Size of the `-wal` file at the end (0 when it is gone). */
  walBytesAfter: number;
  /** WAL frames copied into the database by the checkpoint. */
  checkpointedFrames: number;
  /** Rows per table, counted under the lock before any change ({} when the lock was never had). */
  rowsBefore: Record<string, number>;
  /** Rows per table counted again under the same lock after the switch. */
  rowsAfter: Record<string, number>;
  /** True when every table has the same number of rows before and after. */
  rowsEqual: boolean;
}

export type RollbackStatus =
  /** Every database in DELETE mode and every flag off. */
  | 'completed'
  /** The databases were rolled back but the flags were not saved, or a switch could not be undone. */
  | 'partial'
  /** Nothing was changed. */
  | 'failed';

/** The result, and the line written to the log. */
export interface RollbackResult {
  /** ISO 8601 time the rollback started. */
  time: string;
  reason: string;
  status: RollbackStatus;
  /** Who ran it: user name, host and process id. */
  user: string | null;
  host: string;
  pid: number;
  flagsPath: string;
  /** False when there was no flags file (the defaults applied). */
  flagsFileExisted: boolean;
  /** The flags in force before; null when the file could not be read. */
  flagsBefore: Flags | null;
  /** The flags saved; null when nothing was saved. */
  flagsAfter: Flags | null;
  /** The flags that went from on to off. */
  flagsTurnedOff: FlagName[];
  /** Why the flags were not saved, when they were not. */
  flagsError: string | null;
  databases: DatabaseRollback[];
  /** Databases not rolled back because their file does not exist (the twin, usually). */
  skipped: Array<{ path: string; reason: string }>;
  /** Rounds of "lock every database" tried before all locks were held (or time ran out). */
  lockAttempts: number;
  /** Time spent waiting for other processes, in ms. */
  waitedMs: number;
  durationMs: number;
  logPath: string;
  /** The failure, for `partial` and `failed`. */
  error: { code: ErrorCode; message: string } | null;
}

/**
 * A rollback that did not complete. `result` says what was and was not done; it was also
 * written to the log (unless the log itself could not be written).
 */
export class RollbackError extends BackfillError {
  readonly result: RollbackResult;
  constructor(code: ErrorCode, message: string, result: RollbackResult, options?: ErrorOptions) {
    super(code, message, options);
    this.result = result;
  }
}

const OPTION_NAMES = new Set(['reason', 'database', 'twinDatabase', 'flagsPath', 'logPath', 'waitSeconds', 'logger', 'signal']);
const MAX_REASON_LENGTH = 2000;

/** Applies the defaults and validates every field; unknown options are rejected by name. */
export function resolveRollbackOptions(options: RollbackOptions): ResolvedRollbackOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'an object of rollback options', options);
  for (const name of Object.keys(options)) {
    if (!OPTION_NAMES.has(name)) throw new InvalidOptionError(name, `not set: rollback options are ${[...OPTION_NAMES].join(', ')}`, (options as unknown as Record<string, unknown>)[name]);
  }
  const reason = typeof options.reason === 'string' ? options.reason.trim() : options.reason;
  if (typeof reason !== 'string' || reason === '' || reason.length > MAX_REASON_LENGTH) {
    throw new InvalidOptionError('reason', `a short text saying why the rollback is done (1 to ${MAX_REASON_LENGTH} characters), such as "lock errors after enabling wal_mode"`, options.reason);
  }
  const file = (name: string, value: unknown): string => {
    if (typeof value !== 'string' || value.trim() === '') throw new InvalidOptionError(name, 'a file path', value);
    return value;
  };
  const database = file('database', options.database);
  const twin = options.twinDatabase === undefined ? null : file('twinDatabase', options.twinDatabase);
  const flagsPath = file('flagsPath', options.flagsPath);
  const logPath = options.logPath === undefined ? path.join(path.dirname(flagsPath), ROLLBACK_LOG_FILE_NAME) : file('logPath', options.logPath);
  const waitSeconds = options.waitSeconds ?? 10;
  if (typeof waitSeconds !== 'number' || !Number.isFinite(waitSeconds) || waitSeconds < 0 || waitSeconds > 3600) {
    throw new InvalidOptionError('waitSeconds', 'a number of seconds from 0 to 3600', waitSeconds);
  }
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw new InvalidOptionError('signal', 'an AbortSignal', options.signal);
  return {
    reason,
    database,
    // The same file twice would be locked twice by this process: a self-inflicted "busy".
    twinDatabase: twin !== null && path.resolve(twin) !== path.resolve(database) ? twin : null,
    flagsPath,
    logPath,
    waitSeconds,
    logger: options.logger ?? silentLogger(),
    signal: options.signal ?? null,
  };
}

/** One database while the rollback works on it. */
interface Target {
  report: DatabaseRollback;
  /** Open only while the locks are held. */
  db: Database | null;
  /** The mode read before locking; `delete` means nothing to do. */
  needsLock: boolean;
}

/**
 * Turns every flag off and puts each database back into DELETE journal mode, with a log line.
 * Resolves with the result when everything was done; rejects with a `RollbackError` (its
 * `result` says what was done) when it was not, with `ERR_DATABASE_LOCKED` when another
 * process kept a database busy for `waitSeconds` (nothing was changed), or `ERR_FLAGS_FILE`
 * when the databases were rolled back but the flags file does not load (it was left as it
 * is). Bad options and database paths that are not SQLite databases throw before anything
 * is touched, and are not logged.
 *
 * @example
 * const result = await rollbackEverything({ reason: 'lock errors after enabling wal_mode', database: 'data/league_analytics.db', flagsPath: 'data/feature_flags.json' });
 * console.log(result.databases.map((d) => `${d.path}: ${d.journalModeBefore} -> ${d.journalModeAfter}`));
 */
export async function rollbackEverything(options: RollbackOptions): Promise<RollbackResult> {
  const resolved = resolveRollbackOptions(options);
  const { logger, signal } = resolved;
  signal?.throwIfAborted();
  const started = performance.now();

  // 1. Validate everything before touching anything.
  const targets: Target[] = [];
  const skipped: RollbackResult['skipped'] = [];
  checkDatabasePath(resolved.database, { readonly: true });
  targets.push(newTarget(resolved.database));
  if (resolved.twinDatabase !== null) {
    if (existsSync(resolved.twinDatabase)) {
      checkDatabasePath(resolved.twinDatabase, { readonly: true });
      targets.push(newTarget(resolved.twinDatabase));
    } else {
      skipped.push({ path: resolved.twinDatabase, reason: 'does not exist' });
    }
  }
  let flagsBefore: Flags | null = null;
  let flagsFileExisted = existsSync(resolved.flagsPath);
  let flagsError: FlagsFileError | null = null;
  try {
    const state = await loadFlags(resolved.flagsPath);
    flagsBefore = state.flags;
    flagsFileExisted = state.exists;
  } catch (error) {
    if (!(error instanceof FlagsFileError)) throw error;
    flagsError = error;
    logger.warn({ flagsFile: resolved.flagsPath, err: error.message }, 'the flags file does not load: rolling back the databases, leaving the flags file unchanged');
  }

  const result: RollbackResult = {
    time: new Date().toISOString(),
    reason: resolved.reason,
    status: 'failed',
    user: currentUser(),
    host: hostname(),
    pid: process.pid,
    flagsPath: resolved.flagsPath,
    flagsFileExisted,
    flagsBefore,
    flagsAfter: null,
    flagsTurnedOff: [],
    flagsError: flagsError?.message ?? null,
    databases: targets.map((target) => target.report),
    skipped,
    lockAttempts: 0,
    waitedMs: 0,
    durationMs: 0,
    logPath: resolved.logPath,
    error: null,
  };
  // Steps 2 to 5 decide the outcome; the locks are released and the log written after them.
  let outcome: { status: RollbackStatus; error: BackfillError | null };
  try {
    outcome = await applyRollback(targets, resolved, result, flagsError);
  } catch (error) {
    const switched = targets.some((target) => target.report.action === 'switched');
    outcome = { status: switched ? 'partial' : 'failed', error: asBackfillError(error) };
  } finally {
    for (const target of targets) release(target);
  }
  for (const target of targets) target.report.walBytesAfter = walBytes(target.report.path);
  result.status = outcome.status;
  result.error = outcome.error === null ? null : { code: outcome.error.code, message: outcome.error.message };
  result.durationMs = Math.round(performance.now() - started);
  await appendLog(resolved.logPath, result, logger);
  if (outcome.error !== null) throw new RollbackError(outcome.error.code, outcome.error.message, result, { cause: outcome.error });
  logger.info({ databases: result.databases.length, flagsTurnedOff: result.flagsTurnedOff, log: resolved.logPath }, 'rollback completed');
  return result;
}

async function applyRollback(
  targets: Target[],
  options: ResolvedRollbackOptions,
  result: RollbackResult,
  flagsError: FlagsFileError | null,
): Promise<{ status: RollbackStatus; error: BackfillError | null }> {
  const { logger } = options;
  // What each database is in now, without locking it: in DELETE mode there is nothing to do.
  for (const target of targets) inspect(target, logger);

  // 2. Lock every database that needs switching, all or none, until the time is up.
  const locking = targets.filter((target) => target.needsLock);
  const { waitedMs, busy } = await lockAll(locking, options, result);
  result.waitedMs = Math.round(waitedMs);
  if (busy.length > 0) {
    const message = busyMessage(busy.map((target) => target.report.path), options.waitSeconds);
    return { status: 'failed', error: new BackfillError('ERR_DATABASE_LOCKED', message) };
  }

  // 3. Switch, every lock held; undo the earlier switches if a later one is refused.
  const switched: Target[] = [];
  for (const target of locking) {
    const db = target.db!;
    if (target.report.journalModeBefore === 'delete') {
      // It was busy when first looked at, and turned out to need nothing.
      target.report.action = 'unchanged';
      continue;
    }
    let answer: string;
    try {
      answer = String(db.pragma('journal_mode = DELETE', { simple: true }));
    } catch (error) {
      answer = `error: ${(error as Error).message}`;
    }
    target.report.journalModeAfter = readMode(db);
    if (target.report.journalModeAfter !== 'delete') {
      const undone = revert(switched, logger);
      const problem = `Database ${target.report.path} refused journal_mode = DELETE (SQLite answered ${answer}; the mode is ${target.report.journalModeAfter})`;
      if (undone.length === switched.length) {
        const back = switched.length === 0 ? 'no database was changed' : `${switched.map((t) => t.report.path).join(', ')} ${switched.length === 1 ? 'was' : 'were'} switched back`;
        return { status: 'failed', error: new BackfillError('ERR_DATABASE_WRITE', `${problem}; ${back}. The flags were not changed.`) };
      }
      const stuck = switched.filter((t) => !undone.includes(t)).map((t) => `${t.report.path} (now ${t.report.journalModeAfter})`).join(', ');
      return {
        status: 'partial',
        error: new BackfillError('ERR_DATABASE_WRITE', `${problem}, and switching back failed for ${stuck}. The flags were not changed; run the rollback again once the cause is fixed.`),
      };
    }
    target.report.action = 'switched';
    switched.push(target);
    // With the exclusive locking mode SQLite kept its WAL index in memory, so a `-shm` file
    // left by the processes before is still there. Nobody has it mapped (the lock proves it)
    // and the header now says DELETE, so no one will: it goes, while the lock is still held.
    rmSync(`${target.report.path}-shm`, { force: true });
    logger.info({ database: target.report.path, from: target.report.journalModeBefore }, 'journal mode set to DELETE');
  }

  // 4. Save the flags while the databases are still locked: no engine can start in between
  //    with the old flags and put a database back into WAL mode.
  let flagsProblem: BackfillError | null = flagsError;
  if (flagsProblem === null) {
    try {
      await updateFlags(options.flagsPath, (current) => {
        result.flagsBefore = current;
        return PROFILES.baseline;
      });
      result.flagsAfter = PROFILES.baseline;
      result.flagsTurnedOff = FLAG_NAMES.filter((name) => result.flagsBefore?.[name] === true);
    } catch (error) {
      flagsProblem = asBackfillError(error);
      result.flagsError = flagsProblem.message;
    }
  }

  // 5. Count again under the same locks.
  for (const target of locking) {
    target.report.rowsAfter = countRows(target.db!);
    target.report.rowsEqual = sameCounts(target.report.rowsBefore, target.report.rowsAfter);
  }

  if (flagsProblem !== null) {
    const message = `The databases were rolled back (${describeDatabases(result.databases)}), but the flags were NOT turned off: ${flagsProblem.message} ` +
      'Move the file aside and run `league-backfill flags profile baseline` (every flag off), or fix it by hand; no engine starts while it is invalid.';
    return { status: 'partial', error: new BackfillError(flagsProblem.code, message, { cause: flagsProblem }) };
  }
  return { status: 'completed', error: null };
}

function asBackfillError(error: unknown): BackfillError {
  if (error instanceof BackfillError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (isLockError(error)) return new BackfillError('ERR_DATABASE_LOCKED', message, { cause: error });
  if (error instanceof Error && error.name === 'AbortError') {
    return new BackfillError('ERR_ABORTED', 'The rollback was stopped while waiting for the databases; nothing was changed', { cause: error });
  }
  return new BackfillError('ERR_DATABASE_WRITE', `The rollback failed: ${message}`, { cause: error });
}

function newTarget(file: string): Target {
  return {
    report: {
      path: file,
      action: 'untouched',
      journalModeBefore: 'unknown',
      journalModeAfter: 'unknown',
      walBytesBefore: walBytes(file),
      walBytesAfter: walBytes(file),
      checkpointedFrames: 0,
      rowsBefore: {},
      rowsAfter: {},
      rowsEqual: true,
    },
    db: null,
    needsLock: true,
  };
}

/** Reads the journal mode without locking; a database already in DELETE mode is only counted. */
function inspect(target: Target, logger: Logger): void {
  const { report } = target;
  let db: Database | undefined;
  try {
    // Read-only: closing the last read-write connection of a WAL database checkpoints it, and
    // nothing may change before every database is locked.
    db = new BetterSqlite3(report.path, { fileMustExist: true, readonly: true, timeout: 1000 });
    report.journalModeBefore = readMode(db);
    report.journalModeAfter = report.journalModeBefore;
    if (report.journalModeBefore === 'delete') {
      target.needsLock = false;
      report.action = 'unchanged';
      report.rowsBefore = countRows(db);
      report.rowsAfter = { ...report.rowsBefore };
    }
  } catch (error) {
    // Busy right now: the locking step waits for it and reads the mode again.
    if (!isLockError(error)) throw error;
    logger.debug({ database: report.path, err: (error as Error).message }, 'could not read the journal mode yet');
  } finally {
    db?.close();
  }
}

/**
 * Takes an exclusive lock on every target, all or none: a round that finds some busy releases
 * the others and waits (backoff with jitter) before the next round. Resolves with the time
 * waited and the targets that were still busy in the last round (none when every lock is held).
 */
async function lockAll(targets: Target[], options: ResolvedRollbackOptions, result: RollbackResult): Promise<{ waitedMs: number; busy: Target[] }> {
  const started = performance.now();
  if (targets.length === 0) return { waitedMs: 0, busy: [] };
  const deadline = started + options.waitSeconds * 1000;
  for (let round = 1; ; round++) {
    result.lockAttempts = round;
    const remaining = Math.max(0, deadline - performance.now());
    // Each attempt may wait in SQLite's busy handler a little; the rounds do the long waiting.
    const busyTimeout = Math.round(Math.min(remaining, 250));
    const busy = targets.filter((target) => !tryLock(target, busyTimeout));
    if (busy.length === 0) return { waitedMs: performance.now() - started, busy };
    for (const target of targets) release(target);
    const left = deadline - performance.now();
    options.logger.debug({ busy: busy.map((target) => target.report.path), round, leftMs: Math.round(left) }, 'database busy: every lock released, trying again');
    if (left <= 0) return { waitedMs: performance.now() - started, busy };
    const backoff = Math.min(1000, 50 * 2 ** (round - 1)) * (0.5 + Math.random());
    await sleep(Math.min(backoff, left), undefined, options.signal ? { signal: options.signal } : {});
  }
}

/**
 * `locking_mode = EXCLUSIVE` plus an empty EXCLUSIVE transaction keeps the file locked until
 * the connection closes. In WAL mode SQLite grants it only when no other connection has the
 * database open, which is also what leaving WAL mode needs: holding it, the switch cannot be
 * refused. Returns false (and holds nothing) when the database is busy.
 */
function tryLock(target: Target, busyTimeoutMs: number): boolean {
  const { report } = target;
  let db: Database | undefined;
  try {
    db = new BetterSqlite3(report.path, { fileMustExist: true, timeout: busyTimeoutMs });
    db.pragma('locking_mode = EXCLUSIVE');
    db.exec('BEGIN EXCLUSIVE');
    db.exec('COMMIT');
    report.journalModeBefore = readMode(db);
    report.rowsBefore = countRows(db);
    if (report.journalModeBefore === 'wal') {
      // A successful TRUNCATE checkpoint reports 0 frames (the WAL is reset): FULL first, for the count.
      report.checkpointedFrames = Math.max(0, checkpoint(db, 'FULL').checkpointed);
      checkpoint(db, 'TRUNCATE');
    }
    target.db = db;
    return true;
  } catch (error) {
    db?.close();
    if (isLockError(error)) return false;
    throw error;
  }
}

function checkpoint(db: Database, mode: 'FULL' | 'TRUNCATE'): { log: number; checkpointed: number } {
  const [row] = db.pragma(`wal_checkpoint(${mode})`) as Array<{ busy: number; log: number; checkpointed: number }>;
  if (row === undefined || row.busy !== 0) throw Object.assign(new Error(`wal_checkpoint(${mode}) was blocked`), { code: 'SQLITE_BUSY' });
  return row;
}

function release(target: Target): void {
  if (target.db === null) return;
  try {
    target.db.close();
  } catch {
    // Closing cannot fail in a way that matters here: the process ends soon and the OS drops the locks.
  }
  target.db = null;
}

/** Switches databases back to the mode they had; returns the ones that made it. */
function revert(switched: Target[], logger: Logger): Target[] {
  const undone: Target[] = [];
  for (const target of switched) {
    try {
      const mode = String(target.db!.pragma(`journal_mode = ${target.report.journalModeBefore}`, { simple: true }));
      target.report.journalModeAfter = mode;
      if (mode === target.report.journalModeBefore) {
        target.report.action = 'reverted';
        undone.push(target);
      }
    } catch (error) {
      logger.error({ database: target.report.path, err: (error as Error).message }, 'could not switch the journal mode back');
    }
  }
  return undone;
}

function readMode(db: Database): string {
  return String(db.pragma('journal_mode', { simple: true })).toLowerCase();
}

function walBytes(file: string): number {
  try {
    return statSync(`${file}-wal`).size;
  } catch {
    return 0;
  }
}

/** Rows in every table of the database (SQLite's own tables left out). */
function countRows(db: Database): Record<string, number> {
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name").pluck().all() as string[];
  const counts: Record<string, number> = {};
  for (const table of tables) {
    // The names come from the database itself, quoted as identifiers.
    counts[table] = Number(db.prepare(`SELECT count(*) FROM "${table.replaceAll('"', '""')}"`).pluck().get());
  }
  return counts;
}

function sameCounts(a: Record<string, number>, b: Record<string, number>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const key of keys) if (a[key] !== b[key]) return false;
  return true;
}

function describeDatabases(databases: DatabaseRollback[]): string {
  return databases.map((d) => `${d.path} ${d.journalModeBefore} -> ${d.journalModeAfter}`).join(', ');
}

/**
 * Who to stop, as precisely as this machine can tell: the processes that hold locks on the files
 * (Linux /proc/locks), otherwise the command that lists the processes that have them open.
 */
function busyMessage(paths: string[], waitSeconds: number): string {
  const holders: string[] = [];
  for (const file of paths) {
    const found = findHolders(file);
    if (found !== null) holders.push(`${file}: ${found}`);
  }
  const files = paths.join(' and ');
  const what = `Database ${files} ${paths.length === 1 ? 'is' : 'are'} in use by another process (an open connection in WAL mode, or a lock), ` +
    `and ${paths.length === 1 ? 'it was' : 'they were'} still busy after waiting ${waitSeconds} s. Nothing was changed: the flags, the journal modes and the data are as they were.`;
  const stop = holders.length > 0
    ? ` Stop these processes, then run the rollback again: ${holders.join('; ')}. (\`fuser ${paths.map(shellQuote).join(' ')}\` lists every process that has ${paths.length === 1 ? 'it' : 'them'} open.)`
    : ` Stop the processes that have it open (backfills, dashboards, notebooks, sqlite3 shells), e.g. \`fuser ${paths.map(shellQuote).join(' ')}\` lists them, then run the rollback again (or give it longer with --wait-seconds).`;
  return `${what}${stop}`;
}

/** The processes that hold a lock on the database or its WAL index, in one sentence; null when none are found. */
function findHolders(file: string): string | null {
  // Our own connections were all closed before this is asked: any holder is another connection.
  const holders = findLockHolders(file);
  return holders.length === 0 ? null : describeHolders(holders);
}

function shellQuote(text: string): string {
  return /^[\w./-]+$/.test(text) ? text : `'${text.replaceAll("'", "'\\''")}'`;
}

function currentUser(): string | null {
  try {
    return userInfo().username;
  } catch {
    return null;
  }
}

/** Appends one line and syncs it: the log is what an operator reads after an incident. */
async function appendLog(file: string, result: RollbackResult, logger: Logger): Promise<void> {
  try {
    await mkdir(path.dirname(file), { recursive: true });
    const handle = await open(file, 'a');
    try {
      await handle.write(`${JSON.stringify(result)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    logger.error({ logFile: file, err: (error as Error).message }, 'could not write the rollback log');
    throw new RollbackError('ERR_INTERNAL',
      `The rollback ended with status ${result.status}, but its log line could not be written to ${file}: ${(error as Error).message}`, result, { cause: error });
  }
}
