/**
 * Maintenance of a database that a backfill may be writing at the same time: integrity check,
 * statistics, a verified backup, then ANALYZE, REINDEX and VACUUM, and the space saved.
 *
 * Nothing writes before the integrity check has passed: the check and the first statistics run
 * on a read-only connection, so a damaged file is reported and left exactly as it was. The steps
 * that write wait for the write lock as the writer thread does (busy_timeout, then retries with
 * backoff), so a backfill in another process and this maintenance take turns.
 */
import BetterSqlite3, { type Database } from 'better-sqlite3';
import { BackfillError, DatabaseOpenError, InvalidOptionError } from '../errors.js';
import type { Logger } from '../logger.js';
import { silentLogger } from '../logger.js';
import { backupDatabase, BACKUP_METHODS, type BackupMethod, type BackupResult } from './backup.js';
import { integrityProblems, readStatistics, type DatabaseStatistics } from './inspect.js';
import {
  LOCK_WAIT_POLICY_OPTION_NAMES, LockWaitLog, resolveLockWaitPolicy, roundMs, runWithLock, type LockMode, type LockRetryOptions, type LockWaitPolicy,
  type LockWaitPolicyOptions, type LockWaitSummary,
} from './locking/operation-lock.js';
import { checkDatabasePath } from './open.js';

export interface MaintenanceOptions extends LockWaitPolicyOptions {
  /** The database file. */
  readonly database: string;
  /** Make a verified backup before anything is changed. @default true */
  readonly backup?: boolean;
  /** Where the backup goes. @default `<database folder>/backups/<database name>-<UTC timestamp>.db` */
  readonly backupDestination?: string | undefined;
  /** @default 'vacuum-into' */
  readonly backupMethod?: BackupMethod;
  /** Run ANALYZE, so the query planner knows the tables' current shape. @default true */
  readonly analyze?: boolean;
  /** Run REINDEX, rebuilding every index. @default true */
  readonly reindex?: boolean;
  /** Run VACUUM (then, in WAL mode, a TRUNCATE checkpoint, so the file shrinks on disk). @default true */
  readonly vacuum?: boolean;
  /** Most integrity problems listed in the report. @default 20 */
  readonly maxIntegrityProblems?: number;
  /** Aborting stops before the next step; a step already running finishes (each is one transaction). */
  readonly signal?: AbortSignal | undefined;
  /** @default silent */
  readonly logger?: Logger;
}

export interface ResolvedMaintenanceOptions extends LockWaitPolicy {
  database: string;
  backup: boolean;
  backupDestination: string | undefined;
  backupMethod: BackupMethod;
  analyze: boolean;
  reindex: boolean;
  vacuum: boolean;
  maxIntegrityProblems: number;
  signal: AbortSignal | undefined;
  logger: Logger;
}

export type MaintenanceStepName = 'backup' | 'analyze' | 'reindex' | 'vacuum';

export interface MaintenanceStep {
  status: 'done' | 'skipped';
  /** Why a step was skipped: an option, or a failed integrity check. */
  reason?: string;
  durationMs: number;
}

/** The `wal_checkpoint(TRUNCATE)` after VACUUM in WAL mode. */
export interface CheckpointReport {
  /** True when every frame was copied back and the WAL truncated: the file now has its new size. */
  complete: boolean;
  /** Frames in the WAL and frames checkpointed, as SQLite reports them (before truncation). */
  walFrames: number;
  checkpointedFrames: number;
  /** Why the checkpoint did not complete (another connection kept an older snapshot). */
  problem?: string;
}

export interface MaintenanceReport {
  database: string;
  /** False when the integrity check failed; nothing was changed then. */
  ok: boolean;
  integrity: { ok: boolean; problems: string[] };
  /** Statistics before any change; null when the integrity check failed. */
  before: DatabaseStatistics | null;
  backup: BackupResult | null;
  steps: Record<MaintenanceStepName, MaintenanceStep>;
  /** Null unless VACUUM ran on a database in WAL mode. */
  checkpoint: CheckpointReport | null;
  after: DatabaseStatistics | null;
  /** Database file plus WAL, before minus after (negative when the database grew meanwhile). */
  spaceSavedBytes: number;
  lockWaits: LockWaitSummary;
  durationMs: number;
}

const OPTION_NAMES = new Set([
  'database', 'backup', 'backupDestination', 'backupMethod', 'analyze', 'reindex', 'vacuum', ...LOCK_WAIT_POLICY_OPTION_NAMES,
  'maxIntegrityProblems', 'signal', 'logger',
]);

export function resolveMaintenanceOptions(options: MaintenanceOptions): ResolvedMaintenanceOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'an object', options);
  for (const key of Object.keys(options)) {
    if (!OPTION_NAMES.has(key)) throw new InvalidOptionError(key, `not set: maintainDatabase() takes ${[...OPTION_NAMES].join(', ')}`, (options as unknown as Record<string, unknown>)[key]);
  }
  if (typeof options.database !== 'string' || options.database.trim() === '') throw new InvalidOptionError('database', 'a database file path', options.database);
  const backupMethod = options.backupMethod ?? 'vacuum-into';
  if (!BACKUP_METHODS.includes(backupMethod)) throw new InvalidOptionError('backupMethod', `one of ${BACKUP_METHODS.join(', ')}`, backupMethod);
  const backupDestination = options.backupDestination;
  if (backupDestination !== undefined && (typeof backupDestination !== 'string' || backupDestination.trim() === '')) {
    throw new InvalidOptionError('backupDestination', 'a file path', backupDestination);
  }
  return {
    database: options.database,
    backup: booleanOption('backup', options.backup),
    backupDestination,
    backupMethod,
    analyze: booleanOption('analyze', options.analyze),
    reindex: booleanOption('reindex', options.reindex),
    vacuum: booleanOption('vacuum', options.vacuum),
    ...resolveLockWaitPolicy(options),
    maxIntegrityProblems: integerOption('maxIntegrityProblems', options.maxIntegrityProblems, 20, 1, 10_000),
    signal: options.signal,
    logger: options.logger ?? silentLogger(),
  };
}

export async function maintainDatabase(options: MaintenanceOptions): Promise<MaintenanceReport> {
  const resolved = resolveMaintenanceOptions(options);
  const { database, signal } = resolved;
  const logger = resolved.logger.child({ component: 'maintain' });
  const started = performance.now();
  const log = new LockWaitLog();
  const lockOptions = (operation: string, mode: LockMode): LockRetryOptions =>
    ({ operation, mode, retry: resolved.retry, waitThresholdMs: resolved.lockWaitThresholdMs, log, signal });
  const skipped = (reason: string): MaintenanceStep => ({ status: 'skipped', reason, durationMs: 0 });
  const steps: Record<MaintenanceStepName, MaintenanceStep> = {
    backup: skipped('not reached'), analyze: skipped('not reached'), reindex: skipped('not reached'), vacuum: skipped('not reached'),
  };

  try {
    signal?.throwIfAborted();
    checkDatabasePath(database, { readonly: true });
    const wantsWrites = resolved.analyze || resolved.reindex || resolved.vacuum;
    if (wantsWrites) checkDatabasePath(database);

    // Read-only first: a damaged database must be left exactly as it is.
    const reader = openConnection(database, { readonly: true, busyTimeoutMs: resolved.busyTimeoutMs });
    let before: DatabaseStatistics;
    try {
      const problems = await runWithLock(reader, lockOptions('integrity check', 'read'), () => integrityProblems(reader, resolved.maxIntegrityProblems));
      if (problems.length > 0) {
        logger.debug({ database, problems }, 'integrity check failed: nothing was changed');
        for (const name of Object.keys(steps) as MaintenanceStepName[]) steps[name] = skipped('integrity check failed');
        return {
          database, ok: false, integrity: { ok: false, problems }, before: null, backup: null, steps, checkpoint: null, after: null,
          spaceSavedBytes: 0, lockWaits: log.summary(), durationMs: roundMs(performance.now() - started),
        };
      }
      before = await runWithLock(reader, lockOptions('statistics', 'read'), () => readStatistics(reader, database));
    } finally {
      reader.close();
    }

    let backup: BackupResult | null = null;
    if (resolved.backup) {
      signal?.throwIfAborted();
      backup = await backupDatabase({
        source: database,
        destination: resolved.backupDestination,
        method: resolved.backupMethod,
        busyTimeoutMs: resolved.busyTimeoutMs,
        retry: resolved.retry,
        lockWaitThresholdMs: resolved.lockWaitThresholdMs,
        signal,
        logger: resolved.logger,
      });
      log.merge(backup.lockWaits);
      steps.backup = { status: 'done', durationMs: backup.durationMs };
    } else {
      steps.backup = skipped('--skip-backup');
    }

    let checkpoint: CheckpointReport | null = null;
    let after: DatabaseStatistics;
    // Read-write even when every write step is skipped: as the last connection to close, it
    // removes the -wal and -shm files the read-only connection had to create.
    const writer = openConnection(database, { readonly: false, busyTimeoutMs: resolved.busyTimeoutMs });
    try {
      steps.analyze = resolved.analyze
        ? await timed(() => runStep(signal, () => runWithLock(writer, lockOptions('analyze', 'transaction'), () => writer.exec('ANALYZE'))))
        : skipped('--skip-analyze');
      steps.reindex = resolved.reindex
        ? await timed(() => runStep(signal, () => runWithLock(writer, lockOptions('reindex', 'transaction'), () => writer.exec('REINDEX'))))
        : skipped('--skip-reindex');
      if (resolved.vacuum) {
        steps.vacuum = await timed(() => runStep(signal, () => runWithLock(writer, lockOptions('vacuum', 'statement'), () => writer.exec('VACUUM'))));
        // In WAL mode VACUUM writes the new, smaller database into the WAL: the file itself only
        // shrinks once a checkpoint has copied every frame back and truncated it.
        if (String(writer.pragma('journal_mode', { simple: true })) === 'wal') checkpoint = await truncateWal(writer, lockOptions('checkpoint', 'read'));
      } else {
        steps.vacuum = skipped('--skip-vacuum');
      }
      after = await runWithLock(writer, lockOptions('statistics', 'read'), () => readStatistics(writer, database));
    } finally {
      writer.close();
    }
    const report: MaintenanceReport = {
      database, ok: true, integrity: { ok: true, problems: [] }, before, backup, steps, checkpoint, after,
      spaceSavedBytes: before.databaseBytes + before.walBytes - (after.databaseBytes + after.walBytes),
      lockWaits: log.summary(),
      durationMs: roundMs(performance.now() - started),
    };
    logger.debug({ database, spaceSavedBytes: report.spaceSavedBytes, lockWaits: report.lockWaits.count }, 'maintenance finished');
    return report;
  } catch (error) {
    if (signal?.aborted) {
      const done = (Object.keys(steps) as MaintenanceStepName[]).filter((name) => steps[name].status === 'done');
      throw new BackfillError('ERR_ABORTED',
        `Maintenance stopped (${String((signal.reason as Error | undefined)?.message ?? signal.reason)}) after ${done.length > 0 ? done.join(', ') : 'no step'}; ` +
        'every step that ran is complete (each is one transaction).', { cause: error });
    }
    throw error;
  }
}

async function runStep(signal: AbortSignal | undefined, step: () => Promise<unknown>): Promise<void> {
  signal?.throwIfAborted();
  await step();
}

async function timed(step: () => Promise<unknown>): Promise<MaintenanceStep> {
  const started = performance.now();
  await step();
  return { status: 'done', durationMs: roundMs(performance.now() - started) };
}

/**
 * `wal_checkpoint(TRUNCATE)` waits (busy handler) for writers and for readers of older
 * snapshots. SQLite reports "could not finish" as `busy = 1`, not as an error: that is turned
 * into a lock error so the retry policy applies; when it still cannot finish, the report says
 * so and the file shrinks at a later checkpoint.
 */
async function truncateWal(db: Database, options: LockRetryOptions): Promise<CheckpointReport> {
  let last = { busy: 0, log: 0, checkpointed: 0 };
  try {
    await runWithLock(db, options, () => {
      last = (db.pragma('wal_checkpoint(TRUNCATE)') as Array<typeof last>)[0] ?? last;
      if (last.busy !== 0) throw Object.assign(new Error('the checkpoint could not finish: another connection is reading an older snapshot or writing'), { code: 'SQLITE_BUSY' });
    });
    return { complete: true, walFrames: last.log, checkpointedFrames: last.checkpointed };
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_DATABASE_LOCKED') throw error;
    return { complete: false, walFrames: last.log, checkpointedFrames: last.checkpointed, problem: (error as Error).message };
  }
}

function openConnection(path: string, options: { readonly: boolean; busyTimeoutMs: number }): Database {
  try {
    return new BetterSqlite3(path, { readonly: options.readonly, fileMustExist: true, timeout: options.busyTimeoutMs });
  } catch (error) {
    throw new DatabaseOpenError(path, `cannot be opened: ${(error as Error).message}`, { cause: error });
  }
}

function booleanOption(name: string, value: unknown): boolean {
  if (value === undefined) return true;
  if (typeof value !== 'boolean') throw new InvalidOptionError(name, 'true or false', value);
  return value;
}

function integerOption(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw new InvalidOptionError(name, `an integer from ${min} to ${max}`, value);
  return value;
}
