/** The rollback's options: what a caller sets, the defaults, and the checks that reject a bad or unknown one by name. */
import path from 'node:path';
import { InvalidOptionError } from '../../errors.js';
import { silentLogger, type Logger } from '../../logger.js';

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
