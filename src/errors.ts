/**
 * Stable error codes, defined once. Callers (and the CLI's exit-code mapping) branch on
 * `code`, never on message text.
 */
export const ERROR_CODES = [
  /** An option or argument has a value outside its contract. Exit 2. */
  'ERR_INVALID_OPTION',
  /** A flags file is not valid JSON, names an unknown flag or holds a non-boolean. Exit 2. */
  'ERR_FLAGS_FILE',
  /** A path given as a database is not a SQLite database, or cannot be opened. Exit 2. */
  'ERR_DATABASE_OPEN',
  /** Another process kept the write lock past the retry budget. Exit 1 (resumable). */
  'ERR_DATABASE_LOCKED',
  /** SQLite refused a write for a reason other than a lock (disk full, I/O, constraint). */
  'ERR_DATABASE_WRITE',
  /** Another engine already writes this database (it holds the single-writer lease). Exit 1. */
  'ERR_WRITER_RUNNING',
  /** The league already holds rows from another source; the job would mix them. Exit 2. */
  'ERR_SOURCE_MISMATCH',
  /** A source (API, file, demo) failed to deliver a page. Exit 1 (resumable). */
  'ERR_SOURCE',
  /** Credentials are missing or were refused. Exit 2. */
  'ERR_AUTH',
  /** An input file (saved API response, NDJSON) cannot be read or parsed. Exit 2. */
  'ERR_INPUT',
  /** The writer thread or engine was used after close(). */
  'ERR_CLOSED',
  /** A statement or the end of a serializable() transaction came after that transaction ended (timed out, failed, or was ended). */
  'ERR_TRANSACTION_CLOSED',
  /** A job failed; `cause` holds the underlying error. Exit 1. */
  'ERR_JOB_FAILED',
  /** The operation was aborted (SIGINT, AbortSignal). Exit 130. */
  'ERR_ABORTED',
  /** No read connection became free within the pool's acquire timeout. Exit 1. */
  'ERR_POOL_TIMEOUT',
  /** A database or a copy of it failed SQLite's integrity check or its row-count verification. Exit 1. */
  'ERR_INTEGRITY',
  /** A pre-deployment check failed. */
  'ERR_VALIDATION',
  /** An unexpected fault: a bug. */
  'ERR_INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Codes that mean "the user gave us something wrong": exit code 2 in the CLI. */
export const USAGE_ERROR_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'ERR_INVALID_OPTION',
  'ERR_FLAGS_FILE',
  'ERR_DATABASE_OPEN',
  'ERR_AUTH',
  'ERR_INPUT',
  'ERR_SOURCE_MISMATCH',
]);

export class BackfillError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

export class InvalidOptionError extends BackfillError {
  readonly option: string;
  constructor(option: string, expected: string, received: unknown, hint?: string) {
    super(
      'ERR_INVALID_OPTION',
      `Expected \`${option}\` to be ${expected}, got ${describe(received)}${hint ? `. ${hint}` : ''}`,
    );
    this.option = option;
  }
}

export class FlagsFileError extends BackfillError {
  readonly file: string;
  constructor(file: string, problem: string, options?: ErrorOptions) {
    super('ERR_FLAGS_FILE', `Flags file ${file}: ${problem}. The file was left unchanged.`, options);
    this.file = file;
  }
}

export class DatabaseOpenError extends BackfillError {
  readonly path: string;
  constructor(path: string, problem: string, options?: ErrorOptions) {
    super('ERR_DATABASE_OPEN', `Database ${path}: ${problem}`, options);
    this.path = path;
  }
}

export class DatabaseLockedError extends BackfillError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_DATABASE_LOCKED', message, options);
  }
}

export class WriterRunningError extends BackfillError {
  /** The pid of the engine that holds the lease, where it could be found (Linux), else null. */
  readonly holderPid: number | null;
  constructor(message: string, holderPid: number | null, options?: ErrorOptions) {
    super('ERR_WRITER_RUNNING', message, options);
    this.holderPid = holderPid;
  }
}

export class SourceError extends BackfillError {
  /** True when a later attempt may succeed (network error, 5xx, throttling). */
  readonly transient: boolean;
  constructor(message: string, options?: ErrorOptions & { transient?: boolean }) {
    super('ERR_SOURCE', message, options);
    this.transient = options?.transient ?? false;
  }
}

export class ClosedError extends BackfillError {
  constructor(what: string) {
    super('ERR_CLOSED', `${what} is closed; create a new one to continue`);
  }
}

/** Renders a received value for an error message: its JSON form and its type. */
export function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  let shown: string;
  try {
    shown = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    shown = String(value);
  }
  if (shown.length > 80) shown = `${shown.slice(0, 77)}...`;
  return `${shown} (${Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value})`;
}

/**
 * What crosses a thread boundary. Structured clone keeps neither an error's class nor its
 * `code`, so threads send this and the receiving side rebuilds a typed error.
 */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  /** SQLite's extended result code, e.g. `SQLITE_BUSY_SNAPSHOT`, when the error came from SQLite. */
  sqliteCode?: string;
  transient?: boolean;
  /** The fields a subclass adds (`option`, `path`, `file`, `holderPid`), so it is rebuilt whole. */
  fields?: Record<string, string | number | boolean | null>;
  stack?: string;
}

const SUBCLASS_FIELDS = ['option', 'path', 'file', 'holderPid'] as const;

export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const serialized: SerializedError = { name: error.name, message: error.message };
    if (typeof code === 'string') {
      if (code.startsWith('SQLITE_')) serialized.sqliteCode = code;
      else serialized.code = code;
    }
    const sqliteCode = (error as { sqliteCode?: unknown }).sqliteCode;
    if (typeof sqliteCode === 'string') serialized.sqliteCode = sqliteCode;
    if (error instanceof SourceError) serialized.transient = error.transient;
    if (error instanceof BackfillError) {
      const fields: Record<string, string | number | boolean | null> = {};
      for (const name of SUBCLASS_FIELDS) {
        const value = (error as unknown as Record<string, unknown>)[name];
        if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || value === null) fields[name] = value;
      }
      if (Object.keys(fields).length > 0) serialized.fields = fields;
    }
    if (error.stack !== undefined) serialized.stack = error.stack;
    return serialized;
  }
  return { name: 'Error', message: String(error) };
}

const KNOWN_CODES: ReadonlySet<string> = new Set<string>(ERROR_CODES);

/**
 * The subclasses, by name, so that `instanceof` holds on the receiving side of a thread: a
 * caller may check `error instanceof DatabaseLockedError` as well as `error.code`.
 */
const REBUILD: Record<string, (data: SerializedError) => BackfillError> = {
  DatabaseLockedError: (data) => new DatabaseLockedError(data.message),
  WriterRunningError: (data) => new WriterRunningError(data.message, typeof data.fields?.holderPid === 'number' ? data.fields.holderPid : null),
  SourceError: (data) => new SourceError(data.message, { transient: data.transient ?? false }),
  ClosedError: (data) => Object.assign(new ClosedError('x'), { message: data.message }),
  InvalidOptionError: (data) => Object.assign(new InvalidOptionError(String(data.fields?.option ?? 'option'), '', undefined), { message: data.message }),
  FlagsFileError: (data) => Object.assign(new FlagsFileError(String(data.fields?.file ?? ''), ''), { message: data.message }),
  DatabaseOpenError: (data) => Object.assign(new DatabaseOpenError(String(data.fields?.path ?? ''), ''), { message: data.message }),
};

/** Rebuilds a typed error from its serialized form (the inverse of `serializeError`). */
export function deserializeError(data: SerializedError): BackfillError {
  let error: BackfillError;
  const rebuild = REBUILD[data.name];
  if (rebuild) {
    error = rebuild(data);
  } else if (data.code === 'ERR_SOURCE') {
    error = new SourceError(data.message, { transient: data.transient ?? false });
  } else {
    const code: ErrorCode = data.code !== undefined && KNOWN_CODES.has(data.code)
      ? (data.code as ErrorCode)
      : data.sqliteCode !== undefined && isLockCode(data.sqliteCode)
        ? 'ERR_DATABASE_LOCKED'
        : data.sqliteCode !== undefined
          ? 'ERR_DATABASE_WRITE'
          : 'ERR_INTERNAL';
    error = code === 'ERR_DATABASE_LOCKED' ? new DatabaseLockedError(data.message) : new BackfillError(code, data.message);
    // Subclasses with fields of their own keep their name and fields, even where no class is rebuilt.
    if (data.name && data.name !== 'Error' && data.name !== 'SqliteError') error.name = data.name;
    for (const [name, value] of Object.entries(data.fields ?? {})) (error as unknown as Record<string, unknown>)[name] = value;
  }
  if (data.sqliteCode !== undefined) (error as { sqliteCode?: string }).sqliteCode = data.sqliteCode;
  if (data.stack !== undefined) error.stack = data.stack;
  return error;
}

/** SQLITE_BUSY, SQLITE_LOCKED and their extended codes (SQLITE_BUSY_SNAPSHOT, ...). */
export function isLockCode(code: string): boolean {
  return code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || code.startsWith('SQLITE_BUSY_') || code.startsWith('SQLITE_LOCKED_');
}

/** True for an error SQLite raised because another connection holds a lock. */
export function isLockError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && isLockCode(code);
}
