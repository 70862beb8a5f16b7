/**
 * Reading the job log: what `league-backfill jobs` prints and what a program may ask for the
 * same way. Reads only, through read-only connections, so it is safe beside a running
 * backfill and never takes the write lock.
 */
import type { Database } from 'better-sqlite3';
import { DatabaseOpenError, InvalidOptionError } from '../errors.js';
import type { Flags, WorkloadName } from '../flags/index.js';
import type { Logger } from '../logger.js';
import { JOB_STATES, type JobState } from '../model/index.js';
import { ReadPool, withReader } from './read-pool.js';
import { DEFAULT_TABLES, tableExists } from './schema.js';

/** One job as `job_log` stores it, column for column; `lock_operations` decoded from its JSON. */
export interface JobLogEntry {
  job_id: string;
  league_key: string | null;
  season: number | null;
  source: string | null;
  status: string;
  cursor: number | null;
  rows_fetched: number | null;
  rows_inserted: number | null;
  rows_ignored: number | null;
  rows_rejected: number | null;
  lock_count: number | null;
  max_retry_count: number | null;
  total_retry_time: number | null;
  /** Lock waits by operation, as the writer recorded them; `{}` when none were. */
  lock_operations: Record<string, unknown>;
  error: string | null;
  updated_at: string | null;
}

export interface JobLog {
  /** Jobs per status, over the whole log (not only the jobs listed). */
  counts: Record<string, number>;
  /** The jobs asked for, most recently updated first. */
  jobs: JobLogEntry[];
}

export interface JobLogQuery {
  /** Only jobs in this state. @default every state */
  readonly status?: JobState | undefined;
  /** At most this many jobs, newest first. @default 1000 */
  readonly limit?: number;
  /** The job log table. @default 'job_log' */
  readonly table?: string;
}

export interface ReadJobLogOptions extends JobLogQuery {
  /** The database file. */
  readonly path: string;
  /** The flags in force: with `connection_pooling` on, the read goes through a read pool like every other read. */
  readonly flags: Flags;
  /** The flags file's workload profile, applied to the read connection. @default 'mixed' */
  readonly workload?: WorkloadName;
  readonly logger?: Logger;
  readonly signal?: AbortSignal;
}

const QUERY_OPTIONS = new Set(['status', 'limit', 'table']);
const READ_OPTIONS = new Set([...QUERY_OPTIONS, 'path', 'flags', 'workload', 'logger', 'signal']);

function checkQuery(query: JobLogQuery, known: ReadonlySet<string>): Required<Omit<JobLogQuery, 'status'>> & Pick<JobLogQuery, 'status'> {
  for (const key of Object.keys(query)) {
    if (!known.has(key)) throw new InvalidOptionError(key, `one of the job log options (${[...known].join(', ')})`, (query as Record<string, unknown>)[key]);
  }
  if (query.status !== undefined && !(JOB_STATES as readonly string[]).includes(query.status)) {
    throw new InvalidOptionError('status', `one of ${JOB_STATES.join(', ')}`, query.status);
  }
  const limit = query.limit ?? 1000;
  if (!Number.isInteger(limit) || limit < 1) throw new InvalidOptionError('limit', 'an integer of at least 1', limit);
  return { status: query.status, limit, table: query.table ?? DEFAULT_TABLES.jobLog };
}

/**
 * The job log of an open connection. Throws `DatabaseOpenError` when the database has no job
 * log table (no backfill has run there).
 */
export function queryJobLog(db: Database, path: string, query: JobLogQuery = {}): JobLog {
  const { status, limit, table } = checkQuery(query, QUERY_OPTIONS);
  if (!tableExists(db, table)) throw new DatabaseOpenError(path, `has no ${table} table; run a backfill first`);
  const rows = db.prepare(`SELECT job_id, league_key, season, source, status, cursor, rows_fetched, rows_inserted, rows_ignored, rows_rejected,
      lock_count, max_retry_count, total_retry_time, lock_operations, error, updated_at
    FROM ${table} ${status ? 'WHERE status = ?' : ''} ORDER BY updated_at DESC, job_id LIMIT ?`)
    .all(...(status ? [status, limit] : [limit])) as Array<Omit<JobLogEntry, 'lock_operations'> & { lock_operations: string | null }>;
  const counts = db.prepare(`SELECT status, count(*) AS n FROM ${table} GROUP BY status`).all() as Array<{ status: string; n: number }>;
  return {
    counts: Object.fromEntries(counts.map((c) => [c.status, c.n])),
    jobs: rows.map((row) => ({ ...row, lock_operations: row.lock_operations ? JSON.parse(row.lock_operations) as Record<string, unknown> : {} })),
  };
}

/**
 * Reads the job log of the database at `path` through a read-only connection (pooled when
 * the `connection_pooling` flag is on).
 *
 * @example
 * const { flags } = await loadFlags('feature_flags.json');
 * const { counts, jobs } = await readJobLog({ path: 'league.db', flags, status: 'failed' });
 */
export async function readJobLog(options: ReadJobLogOptions): Promise<JobLog> {
  for (const key of Object.keys(options)) {
    if (!READ_OPTIONS.has(key)) throw new InvalidOptionError(key, `one of the job log options (${[...READ_OPTIONS].join(', ')})`, (options as unknown as Record<string, unknown>)[key]);
  }
  const { path, flags, workload, logger, signal, ...query } = options;
  checkQuery(query, QUERY_OPTIONS);
  const shared = { ...(workload ? { workload } : {}), ...(logger ? { logger } : {}) };
  const pool = flags.connection_pooling ? new ReadPool({ path, flags, min: 1, max: 1, ...shared }) : undefined;
  try {
    return await withReader({ pool, path, flags, ...shared, ...(signal ? { signal } : {}) }, (db) => queryJobLog(db, path, query));
  } finally {
    await pool?.close();
  }
}
