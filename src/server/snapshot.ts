/**
 * What the dashboard and its `/metrics` show, read from the database alone: `job_log`, the
 * writer's per-minute `writer_metrics`, and (from schema version 2) `writer_alerts`,
 * `writer_lock_holders` and `writer_state`. So it works from any process, during a run and
 * after it. Every read tolerates an older file: a missing table or column gives empty figures
 * (`null`), never an error, and `missing` says what was not there.
 */
import { JOB_STATES, type JobState } from '../model/index.js';
import { statSync } from 'node:fs';
import type { Database } from 'better-sqlite3';
import { readWalNotCheckpointed } from '../db/doctor/wal-index.js';
import { processAlive } from '../db/processes.js';
import { WRITER_TABLES, type TableNames } from '../db/schema.js';
import { readMetricMinutes, V2_METRIC_COLUMNS, type MetricMinute } from '../db/writer-records.js';

/** The job states of `job_log.status`, in the order the dashboard shows them. */
export type DashboardJobState = JobState;

/** The tables of schema version 2 (their names are fixed). */
const EXTRA_TABLES = WRITER_TABLES;

/** One minute of `writer_metrics` (`minute` is `floor(unix_ms / 60000)`). Columns of schema 2 are null on older files. */
export type MinuteFigures = MetricMinute;

export interface JobRow {
  jobId: string;
  leagueKey: string | null;
  season: number | null;
  source: string | null;
  status: string;
  cursor: number | null;
  pagesFetched: number | null;
  rowsInserted: number | null;
  lockCount: number | null;
  error: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string | null;
}

export interface LockHolderFigures {
  pid: number;
  command: string;
  /** Lock waits of the writer while this process held the lock. */
  waits: number;
  /** Their total in ms; null when only counts are recorded (job_log.lock_operations). */
  waitMs: number | null;
  /** The last minute it was seen (`floor(unix_ms / 60000)`); null when unknown. */
  lastMinute: number | null;
}

export interface AlertRow {
  id: number;
  /** ISO 8601. */
  at: string;
  level: string;
  message: string;
  figures: Record<string, unknown>;
}

export interface WriterLease {
  pid: number;
  command: string;
  startedAt: string | null;
  updatedAt: string | null;
  /** Whether a process with that pid runs on this machine now; null when it cannot be told. */
  alive: boolean | null;
}

export interface WalPinState {
  pid: number | null;
  command: string | null;
  /** ISO 8601. */
  since: string | null;
  walBytes: number | null;
  updatedAt: string | null;
  /** Whether the pinning process still runs here; false: it ended and the writer has not cleared the record yet. */
  alive: boolean | null;
}

/** Sums over every minute `writer_metrics` holds (the database's whole history): a minute's figures, summed. */
export interface WriterTotals extends Omit<MetricMinute, 'minute'> {
  minutes: number;
  firstMinute: number | null;
  lastMinute: number | null;
}

export interface JobTotals {
  jobs: number;
  byState: Record<DashboardJobState, number> & Record<string, number>;
  rowsFetched: number;
  rowsInserted: number;
  rowsIgnored: number;
  rowsRejected: number;
  pagesFetched: number;
  lockCount: number;
  maxRetryCount: number;
  totalRetryTime: number;
  /** ISO times of the earliest start and latest finish recorded. */
  firstStartedAt: string | null;
  lastFinishedAt: string | null;
}

export interface DashboardSnapshot {
  /** ISO 8601 time of the read. */
  takenAt: string;
  database: {
    path: string;
    exists: boolean;
    /** `PRAGMA user_version`: the schema version the writer migrated the file to. */
    schemaVersion: number | null;
    journalMode: string | null;
    databaseBytes: number;
    /** Size of the `-wal` file now (0 when there is none). */
    walBytes: number;
    /** Bytes of it no checkpoint has copied yet, from the -shm WAL index (its size when that cannot be read). */
    walUncheckpointedBytes: number;
    pageSize: number | null;
    pageCount: number | null;
    freePages: number | null;
    /** How long the read transaction took, ms. */
    readMs: number;
    /** Why the database could not be read, or null. */
    error: string | null;
    /** Tables and columns this file does not have yet (an older schema), as `table` or `table.column`. */
    missing: string[];
  };
  jobs: JobTotals | null;
  /** Running jobs first, then failed, then the most recently updated. */
  jobList: JobRow[];
  writer: WriterTotals | null;
  /** Minutes of `writer_metrics` in the window shown, oldest first, gaps filled with zeros. */
  minutes: MinuteFigures[];
  /** The minutes with the longest lock holds, longest first. */
  longestHolds: Array<{ minute: number; maxHoldMs: number; transactions: number }>;
  /** Per minute with locks: lock count and their total wait (for the lock-wait histogram). */
  lockWaitsByMinute: Array<{ locks: number; lockWaitMs: number }>;
  /** Who held the lock while the writer waited, most waits first. */
  lockHolders: LockHolderFigures[];
  /** Where `lockHolders` came from. */
  lockHoldersSource: 'writer_lock_holders' | 'job_log.lock_operations' | null;
  /** Newest first. */
  alerts: AlertRow[];
  /** Alerts recorded, by level; null before schema 2. */
  alertCounts: Record<string, number> | null;
  /** Alerts recorded, by level and kind (see `ALERT_KIND_SQL`). */
  alertKinds: Array<{ level: string; kind: string; count: number }>;
  /** The engine holding the single-writer lease (`writer_state` key 'writer'). */
  lease: WriterLease | null;
  /** A reader pinning the WAL (`writer_state` key 'wal_pin'), null when none. */
  walPin: WalPinState | null;
  /** When the writer last recorded that no reader pins the WAL (ISO 8601), or null. */
  walPinClearedAt: string | null;
}

export interface ReadSnapshotOptions {
  readonly path: string;
  readonly tables: TableNames;
  /** Minutes of history in `minutes`. */
  readonly historyMinutes: number;
  /** Rows in `jobList`. */
  readonly jobRows: number;
  /** Rows in `alerts`. */
  readonly alertRows: number;
  readonly now?: number;
}

const METRIC_COLUMNS_V2 = V2_METRIC_COLUMNS;
const JOB_COLUMNS = [
  'league_key', 'season', 'source', 'cursor', 'pages_fetched', 'rows_fetched', 'rows_inserted', 'rows_ignored', 'rows_rejected',
  'lock_count', 'max_retry_count', 'total_retry_time', 'lock_operations', 'error', 'started_at', 'finished_at', 'updated_at',
] as const;

/**
 * The columns of the tables the dashboard reads, cached by `PRAGMA schema_version`, which
 * SQLite bumps on every schema change: a migration that lands mid-run is seen at the next read.
 */
export class SchemaCache {
  #version = -1;
  #columns = new Map<string, Set<string>>();

  refresh(db: Database, tables: readonly string[]): void {
    const version = Number(db.pragma('schema_version', { simple: true }));
    if (version === this.#version) return;
    const columns = new Map<string, Set<string>>();
    const present = new Set(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[]);
    for (const table of tables) {
      if (!present.has(table)) continue;
      // Names come from TableNames (checked identifiers) or EXTRA_TABLES (constants).
      const info = db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>;
      columns.set(table, new Set(info.map((column) => column.name)));
    }
    this.#columns = columns;
    this.#version = version;
  }

  has(table: string, column?: string): boolean {
    const columns = this.#columns.get(table);
    if (!columns) return false;
    return column === undefined || columns.has(column);
  }
}

/**
 * Which alert a stored alert is, from its figures (alerts carry no kind of their own yet): a
 * `kind` figure when there is one; `attempts`: an operation needed more than 3 attempts;
 * `locksPerMinute`: the lock rate; `walBytes`: the WAL pinned (warning) or let go (info).
 * Kept in step with `alertKind()` in metrics.ts, which classifies live alerts the same way.
 */
export const ALERT_KIND_SQL = `CASE
  WHEN json_valid(figures) AND json_type(figures, '$.kind') = 'text' THEN json_extract(figures, '$.kind')
  WHEN json_valid(figures) AND json_type(figures, '$.attempts') IS NOT NULL THEN 'lock_attempts'
  WHEN json_valid(figures) AND json_type(figures, '$.locksPerMinute') IS NOT NULL THEN 'lock_rate'
  WHEN json_valid(figures) AND json_type(figures, '$.walBytes') IS NOT NULL THEN CASE WHEN level = 'info' THEN 'wal_released' ELSE 'wal_pinned' END
  ELSE 'other' END`;

const num = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : typeof value === 'bigint' ? Number(value) : 0);
const numOrNull = (value: unknown): number | null => (value === null || value === undefined ? null : num(value));
const textOrNull = (value: unknown): string | null => (value === null || value === undefined ? null : String(value));

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function parseJson(text: unknown): unknown {
  if (typeof text !== 'string') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

/** An empty snapshot: what the page shows before the database exists or when it cannot be read. */
export function emptySnapshot(path: string, error: string | null, now = Date.now()): DashboardSnapshot {
  const walBytes = fileSize(`${path}-wal`);
  return {
    takenAt: new Date(now).toISOString(),
    database: {
      path, exists: false, schemaVersion: null, journalMode: null, databaseBytes: fileSize(path), walBytes,
      walUncheckpointedBytes: readWalNotCheckpointed(path, walBytes) ?? walBytes,
      pageSize: null, pageCount: null, freePages: null, readMs: 0, error, missing: [],
    },
    jobs: null,
    jobList: [],
    writer: null,
    minutes: [],
    longestHolds: [],
    lockWaitsByMinute: [],
    lockHolders: [],
    lockHoldersSource: null,
    alerts: [],
    alertCounts: null,
    alertKinds: [],
    lease: null,
    walPin: null,
    walPinClearedAt: null,
  };
}

/**
 * Reads one snapshot in one short read transaction (so every figure comes from the same
 * instant, and a reader never holds the WAL back longer than these few queries take).
 */
export function readSnapshot(db: Database, schema: SchemaCache, options: ReadSnapshotOptions): DashboardSnapshot {
  const now = options.now ?? Date.now();
  const t = options.tables;
  const started = performance.now();
  const snapshot = emptySnapshot(options.path, null, now);
  snapshot.database.exists = true;
  const missing = snapshot.database.missing;
  db.exec('BEGIN');
  try {
    schema.refresh(db, [t.jobLog, t.writerMetrics, EXTRA_TABLES.alerts, EXTRA_TABLES.lockHolders, EXTRA_TABLES.state]);
    snapshot.database.schemaVersion = Number(db.pragma('user_version', { simple: true }));
    snapshot.database.journalMode = String(db.pragma('journal_mode', { simple: true }));
    snapshot.database.pageSize = Number(db.pragma('page_size', { simple: true }));
    snapshot.database.pageCount = Number(db.pragma('page_count', { simple: true }));
    snapshot.database.freePages = Number(db.pragma('freelist_count', { simple: true }));

    if (schema.has(t.jobLog)) {
      readJobs(db, schema, t.jobLog, options.jobRows, snapshot, missing);
    } else {
      missing.push(t.jobLog);
    }
    if (schema.has(t.writerMetrics)) {
      readWriterMetrics(db, schema, t.writerMetrics, options.historyMinutes, now, snapshot, missing);
    } else {
      missing.push(t.writerMetrics);
    }
    if (schema.has(EXTRA_TABLES.lockHolders)) {
      const rows = db.prepare(`SELECT pid, command, sum(waits) AS waits, sum(wait_ms) AS wait_ms, max(minute) AS last_minute
        FROM ${EXTRA_TABLES.lockHolders} GROUP BY pid, command ORDER BY sum(waits) DESC, sum(wait_ms) DESC LIMIT 10`).all() as Array<Record<string, unknown>>;
      snapshot.lockHolders = rows.map((row) => ({
        pid: num(row.pid), command: String(row.command ?? ''), waits: num(row.waits), waitMs: numOrNull(row.wait_ms), lastMinute: numOrNull(row.last_minute),
      }));
      snapshot.lockHoldersSource = 'writer_lock_holders';
    } else {
      missing.push(EXTRA_TABLES.lockHolders);
      if (schema.has(t.jobLog, 'lock_operations')) {
        snapshot.lockHolders = holdersFromLockOperations(db, t.jobLog, schema.has(t.jobLog, 'lock_count'));
        snapshot.lockHoldersSource = 'job_log.lock_operations';
      }
    }
    if (schema.has(EXTRA_TABLES.alerts)) {
      const rows = db.prepare(`SELECT id, at, level, message, figures FROM ${EXTRA_TABLES.alerts} ORDER BY id DESC LIMIT ?`).all(options.alertRows) as Array<Record<string, unknown>>;
      snapshot.alerts = rows.map((row) => {
        const figures = parseJson(row.figures);
        return {
          id: num(row.id), at: String(row.at ?? ''), level: String(row.level ?? ''), message: String(row.message ?? ''),
          figures: figures && typeof figures === 'object' && !Array.isArray(figures) ? figures as Record<string, unknown> : {},
        };
      });
      const counts: Record<string, number> = { info: 0, warning: 0, critical: 0 };
      const kinds = db.prepare(`SELECT level, ${ALERT_KIND_SQL} AS kind, count(*) AS n FROM ${EXTRA_TABLES.alerts} GROUP BY level, kind`)
        .all() as Array<{ level: string; kind: string; n: number }>;
      for (const row of kinds) {
        counts[String(row.level)] = (counts[String(row.level)] ?? 0) + num(row.n);
        snapshot.alertKinds.push({ level: String(row.level), kind: String(row.kind), count: num(row.n) });
      }
      snapshot.alertCounts = counts;
    } else {
      missing.push(EXTRA_TABLES.alerts);
    }
    if (schema.has(EXTRA_TABLES.state)) {
      readWriterState(db, snapshot);
    } else {
      missing.push(EXTRA_TABLES.state);
    }
  } finally {
    if (db.inTransaction) db.exec('COMMIT');
  }
  // Sizes after the read: a stat needs no transaction.
  snapshot.database.databaseBytes = fileSize(options.path);
  snapshot.database.walBytes = fileSize(`${options.path}-wal`);
  snapshot.database.walUncheckpointedBytes = readWalNotCheckpointed(options.path, snapshot.database.walBytes) ?? snapshot.database.walBytes;
  snapshot.database.readMs = Math.round((performance.now() - started) * 100) / 100;
  return snapshot;
}

function readJobs(db: Database, schema: SchemaCache, table: string, jobRows: number, snapshot: DashboardSnapshot, missing: string[]): void {
  const has = (column: string): boolean => schema.has(table, column);
  for (const column of JOB_COLUMNS) if (!has(column)) missing.push(`${table}.${column}`);
  const sum = (column: string): string => (has(column) ? `coalesce(sum(${column}), 0)` : '0');
  const byStatus = db.prepare(`SELECT status, count(*) AS n, ${sum('rows_fetched')} AS fetched, ${sum('rows_inserted')} AS inserted,
      ${sum('rows_ignored')} AS ignored, ${sum('rows_rejected')} AS rejected, ${sum('pages_fetched')} AS pages, ${sum('lock_count')} AS locks,
      ${has('max_retry_count') ? 'coalesce(max(max_retry_count), 0)' : '0'} AS max_retry, ${sum('total_retry_time')} AS retry_time,
      ${has('started_at') ? 'min(started_at)' : 'NULL'} AS first_started, ${has('finished_at') ? 'max(finished_at)' : 'NULL'} AS last_finished
    FROM ${table} GROUP BY status`).all() as Array<Record<string, unknown>>;
  const byState = Object.fromEntries(JOB_STATES.map((state) => [state, 0])) as JobTotals['byState'];
  const totals: JobTotals = {
    jobs: 0, byState, rowsFetched: 0, rowsInserted: 0, rowsIgnored: 0, rowsRejected: 0, pagesFetched: 0, lockCount: 0, maxRetryCount: 0,
    totalRetryTime: 0, firstStartedAt: null, lastFinishedAt: null,
  };
  for (const row of byStatus) {
    const status = String(row.status ?? 'unknown');
    byState[status] = (byState[status] ?? 0) + num(row.n);
    totals.jobs += num(row.n);
    totals.rowsFetched += num(row.fetched);
    totals.rowsInserted += num(row.inserted);
    totals.rowsIgnored += num(row.ignored);
    totals.rowsRejected += num(row.rejected);
    totals.pagesFetched += num(row.pages);
    totals.lockCount += num(row.locks);
    totals.maxRetryCount = Math.max(totals.maxRetryCount, num(row.max_retry));
    totals.totalRetryTime += num(row.retry_time);
    const first = textOrNull(row.first_started);
    const last = textOrNull(row.last_finished);
    if (first !== null && (totals.firstStartedAt === null || first < totals.firstStartedAt)) totals.firstStartedAt = first;
    if (last !== null && (totals.lastFinishedAt === null || last > totals.lastFinishedAt)) totals.lastFinishedAt = last;
  }
  snapshot.jobs = totals;

  const select = ['job_id', 'status', ...['league_key', 'season', 'source', 'cursor', 'pages_fetched', 'rows_inserted', 'lock_count', 'error', 'started_at', 'finished_at', 'updated_at']
    .map((column) => (has(column) ? column : `NULL AS ${column}`))].join(', ');
  const order = has('updated_at') ? 'updated_at DESC, job_id' : 'job_id';
  // Three small reads, each served by the status index, rather than one sort of the whole log.
  const rows = [
    ...(db.prepare(`SELECT ${select} FROM ${table} WHERE status = 'running' ORDER BY ${order} LIMIT ?`).all(jobRows) as Array<Record<string, unknown>>),
    ...(db.prepare(`SELECT ${select} FROM ${table} WHERE status = 'failed' ORDER BY ${order} LIMIT ?`).all(jobRows) as Array<Record<string, unknown>>),
    ...(db.prepare(`SELECT ${select} FROM ${table} WHERE status NOT IN ('running', 'failed') ORDER BY ${order} LIMIT ?`).all(jobRows) as Array<Record<string, unknown>>),
  ].slice(0, jobRows);
  snapshot.jobList = rows.map((row) => ({
    jobId: String(row.job_id), leagueKey: textOrNull(row.league_key), season: numOrNull(row.season), source: textOrNull(row.source),
    status: String(row.status ?? ''), cursor: numOrNull(row.cursor), pagesFetched: numOrNull(row.pages_fetched), rowsInserted: numOrNull(row.rows_inserted),
    lockCount: numOrNull(row.lock_count), error: textOrNull(row.error), startedAt: textOrNull(row.started_at), finishedAt: textOrNull(row.finished_at),
    updatedAt: textOrNull(row.updated_at),
  }));
}

function readWriterMetrics(db: Database, schema: SchemaCache, table: string, historyMinutes: number, now: number, snapshot: DashboardSnapshot, missing: string[]): void {
  const has = (column: string): boolean => schema.has(table, column);
  for (const column of METRIC_COLUMNS_V2) if (!has(column)) missing.push(`${table}.${column}`);
  const v2 = (aggregate: 'sum' | 'max', column: string): string => (has(column) ? `${aggregate}(${column})` : 'NULL');
  const totals = db.prepare(`SELECT count(*) AS minutes, min(minute) AS first_minute, max(minute) AS last_minute,
      coalesce(sum(transactions), 0) AS transactions, coalesce(sum(batches), 0) AS batches, coalesce(sum(failed_batches), 0) AS failed_batches,
      coalesce(sum(rows), 0) AS rows, coalesce(sum(locks), 0) AS locks, coalesce(sum(retries), 0) AS retries,
      coalesce(sum(lock_wait_ms), 0) AS lock_wait_ms, coalesce(max(max_hold_ms), 0) AS max_hold_ms,
      ${v2('max', 'max_wal_bytes')} AS max_wal_bytes, ${v2('sum', 'checkpoints')} AS checkpoints, ${v2('sum', 'checkpoints_blocked')} AS checkpoints_blocked,
      ${v2('sum', 'yields')} AS yields, ${v2('sum', 'yield_ms')} AS yield_ms, ${v2('sum', 'neighbour_commits')} AS neighbour_commits
    FROM ${table}`).get() as Record<string, unknown>;
  const present = (column: string, value: unknown): number | null => (has(column) ? num(value) : null);
  snapshot.writer = {
    minutes: num(totals.minutes), firstMinute: numOrNull(totals.first_minute), lastMinute: numOrNull(totals.last_minute),
    transactions: num(totals.transactions), batches: num(totals.batches), failedBatches: num(totals.failed_batches), rows: num(totals.rows),
    locks: num(totals.locks), retries: num(totals.retries), lockWaitMs: num(totals.lock_wait_ms), maxHoldMs: num(totals.max_hold_ms),
    maxWalBytes: present('max_wal_bytes', totals.max_wal_bytes), checkpoints: present('checkpoints', totals.checkpoints),
    checkpointsBlocked: present('checkpoints_blocked', totals.checkpoints_blocked), yields: present('yields', totals.yields),
    yieldMs: present('yield_ms', totals.yield_ms), neighbourCommits: present('neighbour_commits', totals.neighbour_commits),
  };

  // The window ends now while the writer is active, or at its last recorded minute after a
  // run: a dashboard opened the next day still shows the run's last hour, not an empty one.
  const currentMinute = Math.floor(now / 60_000);
  const last = snapshot.writer.lastMinute;
  const end = last === null || last >= currentMinute - historyMinutes ? currentMinute : last;
  const start = end - historyMinutes + 1;
  const rows = readMetricMinutes(db, table, start, end);
  const byMinute = new Map(rows.map((row) => [row.minute, row]));
  const first = rows.length > 0 ? Math.min(rows[0]!.minute, end) : end;
  // Minutes with no writes are zeros, with the schema-2 figures still null on an older file.
  const v2Zero = (column: string): number | null => (has(column) ? 0 : null);
  for (let minute = first; minute <= end; minute++) {
    snapshot.minutes.push(byMinute.get(minute) ?? {
      minute, transactions: 0, batches: 0, failedBatches: 0, rows: 0, locks: 0, retries: 0, lockWaitMs: 0, maxHoldMs: 0,
      maxWalBytes: v2Zero('max_wal_bytes'), checkpoints: v2Zero('checkpoints'), checkpointsBlocked: v2Zero('checkpoints_blocked'),
      yields: v2Zero('yields'), yieldMs: v2Zero('yield_ms'), neighbourCommits: v2Zero('neighbour_commits'),
    });
  }
  if (rows.length === 0) snapshot.minutes = [];

  snapshot.longestHolds = (db.prepare(`SELECT minute, max_hold_ms, transactions FROM ${table} WHERE max_hold_ms > 0 ORDER BY max_hold_ms DESC LIMIT 5`)
    .all() as Array<Record<string, unknown>>).map((row) => ({ minute: num(row.minute), maxHoldMs: num(row.max_hold_ms), transactions: num(row.transactions) }));
  snapshot.lockWaitsByMinute = (db.prepare(`SELECT locks, lock_wait_ms FROM ${table} WHERE locks > 0 ORDER BY minute`).all() as Array<Record<string, unknown>>)
    .map((row) => ({ locks: num(row.locks), lockWaitMs: num(row.lock_wait_ms) }));
}

/**
 * Before `writer_lock_holders`, the writer counted who held the lock in each job's
 * `lock_operations` JSON, as `holder:PID (COMMAND)` keys: counts only, no durations.
 */
function holdersFromLockOperations(db: Database, table: string, hasLockCount: boolean): LockHolderFigures[] {
  const texts = db.prepare(`SELECT lock_operations FROM ${table} WHERE lock_operations IS NOT NULL${hasLockCount ? ' AND lock_count > 0' : ''}`).pluck().all() as unknown[];
  const byHolder = new Map<string, LockHolderFigures>();
  for (const text of texts) {
    const operations = parseJson(text);
    if (!operations || typeof operations !== 'object') continue;
    for (const [key, count] of Object.entries(operations as Record<string, unknown>)) {
      const match = /^holder:(-?\d+) \((.*)\)$/s.exec(key);
      if (!match) continue;
      const entry = byHolder.get(key) ?? { pid: Number(match[1]), command: match[2] ?? '', waits: 0, waitMs: null, lastMinute: null };
      entry.waits += num(count);
      byHolder.set(key, entry);
    }
  }
  return [...byHolder.values()].sort((a, b) => b.waits - a.waits).slice(0, 10);
}

function readWriterState(db: Database, snapshot: DashboardSnapshot): void {
  const rows = db.prepare(`SELECT key, value, updated_at FROM ${EXTRA_TABLES.state} WHERE key IN ('writer', 'wal_pin')`).all() as Array<Record<string, unknown>>;
  for (const row of rows) {
    const value = parseJson(row.value) as Record<string, unknown> | null;
    // JSON null: the writer cleared it (the pin ended, the engine closed).
    if (!value || typeof value !== 'object') {
      if (row.key === 'wal_pin') snapshot.walPinClearedAt = textOrNull(row.updated_at);
      continue;
    }
    if (row.key === 'writer') {
      const pid = num(value.pid);
      snapshot.lease = {
        pid, command: String(value.command ?? ''), startedAt: textOrNull(value.startedAt), updatedAt: textOrNull(row.updated_at), alive: pid > 0 ? processAlive(pid) : null,
      };
    } else if (row.key === 'wal_pin') {
      const pid = numOrNull(value.pid);
      snapshot.walPin = {
        pid, command: textOrNull(value.command), since: textOrNull(value.since), walBytes: numOrNull(value.walBytes),
        updatedAt: textOrNull(row.updated_at), alive: pid !== null && pid > 0 ? processAlive(pid) : null,
      };
    }
  }
}
