/**
 * The rollback drill: the emergency rollback, run for real on a verified copy of the database
 * and a copy of the flags file, so that the procedure is known to work from the configuration
 * in force before the next step of a rollout is taken. The live database and flags file are
 * only read.
 *
 * 1. a verified backup (`backupDatabase`, VACUUM INTO) into a scratch folder beside the
 *    database (same file system, so its free space is what a real rollback would have);
 * 2. the copy put in the live database's journal mode (VACUUM INTO writes a DELETE-mode file;
 *    a drill from WAL must start in WAL), the flags file copied beside it;
 * 3. `rollbackEverything` on the copy: checkpoint, journal mode DELETE, every flag off;
 * 4. checked: completed, DELETE mode, the same rows in every table, integrity ok, flags all off;
 * 5. one JSON line appended to `rollback_drills.jsonl` beside the live flags file. `rollout`
 *    reads it: a drill that passed since the current step began is one of its criteria.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { BackfillError, InvalidOptionError } from '../../errors.js';
import { FLAG_NAMES, loadFlags, type Flags } from '../../flags/index.js';
import { silentLogger, type Logger } from '../../logger.js';
import { appendJsonLine } from '../../util/json-lines.js';
import { backupDatabase } from '../backup.js';
import { integrityProblems } from '../inspect.js';
import { checkDatabasePath } from '../open.js';
import { rollbackEverything, RollbackError, type RollbackResult } from '../rollback/index.js';

/** The drills' log; it sits beside the flags file, like the rollback log. */
export const DRILL_LOG_FILE_NAME = 'rollback_drills.jsonl';

export interface RollbackDrillOptions {
  /** The live database; it is only read. */
  readonly database: string;
  /** The live flags file; it is only read (the drill works on a copy). */
  readonly flagsPath: string;
  /** @default `rollback_drills.jsonl` beside the flags file */
  readonly logPath?: string | undefined;
  /** Keep the rolled-back copy (its path is in the result) instead of removing it. @default false */
  readonly keepCopy?: boolean | undefined;
  /** @default silent */
  readonly logger?: Logger | undefined;
  readonly signal?: AbortSignal | undefined;
}

export interface RollbackDrillResult {
  /** ISO 8601 time the drill started. */
  time: string;
  /** The live database, as an absolute path (what `rollout` matches drills by). */
  database: string;
  flagsPath: string;
  status: 'passed' | 'failed';
  /** Why it failed, one sentence each; empty when it passed. */
  problems: string[];
  host: string;
  pid: number;
  /** The live flags when the drill ran: the configuration the drill rolled back from. */
  flagsAtDrill: Flags | null;
  /** The live database's journal mode, which the copy was given before the rollback. */
  journalMode: string;
  copy: { path: string; kept: boolean; sizeBytes: number; rows: Record<string, number> } | null;
  rollback: Pick<RollbackResult, 'status' | 'durationMs' | 'flagsTurnedOff'> & {
    journalModeBefore: string;
    journalModeAfter: string;
    rowsEqual: boolean;
    checkpointedFrames: number;
  } | null;
  durationMs: number;
  logPath: string;
}

const OPTION_NAMES = new Set(['database', 'flagsPath', 'logPath', 'keepCopy', 'logger', 'signal']);

/** The default drill log for a flags file. */
export function defaultDrillLogPath(flagsPath: string): string {
  return path.join(path.dirname(flagsPath), DRILL_LOG_FILE_NAME);
}

/**
 * Runs a rollback drill and records it. Resolves with the result whether the drill passed or
 * failed (`status`, `problems`); throws only for bad options, a database path that is not a
 * database, an abort, or a log that cannot be written.
 *
 * @example
 * const drill = await rollbackDrill({ database: 'data/league_analytics.db', flagsPath: 'data/feature_flags.json' });
 * if (drill.status !== 'passed') console.error(drill.problems);
 */
export async function rollbackDrill(options: RollbackDrillOptions): Promise<RollbackDrillResult> {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'an object of drill options', options);
  for (const name of Object.keys(options)) {
    if (!OPTION_NAMES.has(name)) throw new InvalidOptionError(name, `not set: drill options are ${[...OPTION_NAMES].join(', ')}`, (options as unknown as Record<string, unknown>)[name]);
  }
  for (const name of ['database', 'flagsPath'] as const) {
    if (typeof options[name] !== 'string' || options[name].trim() === '') throw new InvalidOptionError(name, 'a file path', options[name]);
  }
  const logger = options.logger ?? silentLogger();
  const database = path.resolve(options.database);
  checkDatabasePath(database, { readonly: true });
  options.signal?.throwIfAborted();
  const logPath = options.logPath ?? defaultDrillLogPath(options.flagsPath);
  const started = performance.now();
  const result: RollbackDrillResult = {
    time: new Date().toISOString(),
    database,
    flagsPath: options.flagsPath,
    status: 'failed',
    problems: [],
    host: hostname(),
    pid: process.pid,
    flagsAtDrill: null,
    journalMode: 'unknown',
    copy: null,
    rollback: null,
    durationMs: 0,
    logPath,
  };

  try {
    result.flagsAtDrill = (await loadFlags(options.flagsPath)).flags;
  } catch (error) {
    result.problems.push(`the flags file does not load, so the rollback could not turn its flags off: ${(error as Error).message}`);
  }
  result.journalMode = liveJournalMode(database);

  // Beside the database: the same file system, the same free space a real rollback has.
  const scratch = mkdtempSync(path.join(path.dirname(database), '.rollback-drill-'));
  const copyPath = path.join(scratch, path.basename(database));
  const copyFlags = path.join(scratch, path.basename(options.flagsPath));
  let keep = false;
  try {
    const backup = await backupDatabase({ source: database, destination: copyPath, logger, ...(options.signal ? { signal: options.signal } : {}) });
    result.copy = { path: copyPath, kept: false, sizeBytes: backup.sizeBytes, rows: backup.rows };
    if (result.journalMode === 'wal') setJournalMode(copyPath, 'wal');
    if (existsSync(options.flagsPath)) copyFileSync(options.flagsPath, copyFlags);

    if (result.flagsAtDrill !== null) {
      let rolled: RollbackResult;
      try {
        rolled = await rollbackEverything({
          reason: `rollback drill on a verified copy of ${database}`,
          database: copyPath,
          flagsPath: copyFlags,
          logPath: path.join(scratch, 'rollback_log.jsonl'),
          waitSeconds: 5,
          logger,
          ...(options.signal ? { signal: options.signal } : {}),
        });
      } catch (error) {
        if (!(error instanceof RollbackError)) throw error;
        rolled = error.result;
        result.problems.push(`the rollback did not complete: ${error.message}`);
      }
      const [copy] = rolled.databases;
      result.rollback = {
        status: rolled.status,
        durationMs: rolled.durationMs,
        flagsTurnedOff: rolled.flagsTurnedOff,
        journalModeBefore: copy?.journalModeBefore ?? 'unknown',
        journalModeAfter: copy?.journalModeAfter ?? 'unknown',
        rowsEqual: copy?.rowsEqual ?? false,
        checkpointedFrames: copy?.checkpointedFrames ?? 0,
      };
      result.problems.push(...verifyCopy(copyPath, copyFlags, backup.rows, result));
    }
    keep = options.keepCopy === true;
    if (result.copy !== null) result.copy.kept = keep;
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason;
    result.problems.push(`${error instanceof BackfillError ? '' : 'unexpected: '}${(error as Error).message}`);
  } finally {
    if (!keep) rmSync(scratch, { recursive: true, force: true });
  }
  result.status = result.problems.length === 0 ? 'passed' : 'failed';
  result.durationMs = Math.round(performance.now() - started);
  await appendDrill(logPath, result);
  logger.info({ database, status: result.status, problems: result.problems, log: logPath }, 'rollback drill finished');
  return result;
}

function liveJournalMode(database: string): string {
  // The journal mode is in the file header; a read-only look changes nothing.
  const db = new BetterSqlite3(database, { readonly: true, fileMustExist: true, timeout: 2000 });
  try {
    return String(db.pragma('journal_mode', { simple: true })).toLowerCase();
  } finally {
    db.close();
  }
}

function setJournalMode(file: string, mode: string): void {
  const db = new BetterSqlite3(file, { fileMustExist: true, timeout: 2000 });
  try {
    db.pragma(`journal_mode = ${mode}`);
  } finally {
    db.close();
  }
}

function verifyCopy(copyPath: string, copyFlags: string, rowsBefore: Record<string, number>, result: RollbackDrillResult): string[] {
  const problems: string[] = [];
  const rollback = result.rollback;
  if (rollback === null) return ['the rollback did not run'];
  if (rollback.status !== 'completed') problems.push(`the rollback ended ${rollback.status}, not completed`);
  const db = new BetterSqlite3(copyPath, { readonly: true, fileMustExist: true });
  try {
    const mode = String(db.pragma('journal_mode', { simple: true })).toLowerCase();
    if (mode !== 'delete') problems.push(`the copy is in journal mode ${mode} after the rollback, not delete`);
    const integrity = integrityProblems(db, 10);
    if (integrity.length > 0) problems.push(`the copy failed the integrity check after the rollback: ${integrity.join('; ')}`);
    for (const [table, count] of Object.entries(rowsBefore)) {
      const after = Number(db.prepare(`SELECT count(*) FROM "${table.replaceAll('"', '""')}"`).pluck().get());
      if (after !== count) problems.push(`table ${table} had ${count} rows before the rollback and ${after} after`);
    }
  } finally {
    db.close();
  }
  try {
    const text = JSON.parse(readFileSync(copyFlags, 'utf8')) as Record<string, unknown>;
    const stillOn = FLAG_NAMES.filter((name) => text[name] !== false);
    if (stillOn.length > 0) problems.push(`the rolled-back flags file still has ${stillOn.join(', ')} on`);
  } catch (error) {
    problems.push(`the rolled-back flags file cannot be read: ${(error as Error).message}`);
  }
  return problems;
}

async function appendDrill(file: string, result: RollbackDrillResult): Promise<void> {
  try {
    await appendJsonLine(file, result);
  } catch (error) {
    throw new BackfillError('ERR_INTERNAL', `The rollback drill ended ${result.status}, but it could not be recorded in ${file}: ${(error as Error).message}`, { cause: error });
  }
}
