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
 *
 * The steps live beside this file: locking.ts (step 2), journal.ts (step 3), log.ts (the log).
 */
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { BackfillError, FlagsFileError } from '../../errors.js';
import { FLAG_NAMES, PROFILES, loadFlags, updateFlags, type Flags } from '../../flags/index.js';
import { checkDatabasePath } from '../open.js';
import { switchToDelete } from './journal.js';
import { lockAll, release } from './locking.js';
import { appendLog, currentUser } from './log.js';
import { asBackfillError, busyMessage, describeDatabases } from './messages.js';
import { resolveRollbackOptions, type ResolvedRollbackOptions, type RollbackOptions } from './options.js';
import { RollbackError, type RollbackResult, type RollbackStatus } from './result.js';
import { countRows, inspect, newTarget, sameCounts, walBytes, type Target } from './target.js';

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
  const refused = switchToDelete(locking, logger);
  if (refused !== null) return refused;

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
