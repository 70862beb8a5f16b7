/** What a rollback reports: per database, as a whole (the log line), and as an error when it did not complete. */
import { BackfillError, type ErrorCode } from '../../errors.js';
import type { FlagName, Flags } from '../../flags/index.js';

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
