/**
 * The figures of one rollout step, measured from what the writer leaves in the database:
 * `writer_metrics` (per-minute counters) and `job_log` (one row per job with its start, end and
 * rows).
 *
 * `writer_metrics` counts per minute, and a step may begin in the middle of a minute (tests
 * walk steps seconds apart). So a step's start is a point that remembers the counters of its
 * minute as they were then: the step's share of that minute is the difference, and the minutes
 * after it count whole. The largest values (longest lock hold, largest WAL) cannot be split
 * that way: the start minute's maximum counts only when it grew after the step began.
 *
 * Rates are per minute of backfilling, not per minute of wall time: the time the step's jobs
 * were running (the union of their start-to-end intervals), so that a step observed for a day
 * with one short run compares fairly with one observed for an hour.
 */
import { statSync } from 'node:fs';
import type { Database } from 'better-sqlite3';
import { columnsOf, tableExists, type TableNames } from '../schema.js';
import { readMetricMinutes, type MetricMinute } from '../writer-records.js';

/** Where a step began: the time, and the writer's counters of that minute at that time. */
export interface MeasurePoint {
  /** ISO 8601. */
  at: string;
  /** floor(unix ms / 60000) of `at`. */
  minute: number;
  /** That minute's `writer_metrics` row when the step began; null when there was none. */
  minuteRow: MetricMinute | null;
}

/** What a step did, from its start to now. Rates are null when nothing ran to compute them from. */
export interface RolloutFigures {
  from: string;
  to: string;
  /** Wall time since the step began. */
  observedMs: number;
  /** Time the step's jobs were running (union of their intervals). */
  activeMs: number;
  /** Jobs started since the step began, and how they ended. */
  jobs: number;
  jobsCompleted: number;
  jobsFailed: number;
  /** Rows the step's jobs committed (inserted + ignored as already stored). */
  rows: number;
  rowsPerSecond: number | null;
  /** Lock errors the writer met (SQLITE_BUSY, waited out or not), per minute of backfilling. */
  locks: number;
  lockErrorsPerMinute: number | null;
  retries: number;
  batches: number;
  failedBatches: number;
  /** failed / (batches + failed); null without batches. */
  batchFailureRate: number | null;
  transactions: number;
  /** The longest a transaction held the write lock (ms): the commit latency writer_metrics records. */
  maxHoldMs: number | null;
  /** Lock wait per transaction (ms), on average. */
  avgLockWaitMs: number | null;
  /** The largest WAL the writer saw (schema 2; null before). */
  maxWalBytes: number | null;
  /** The `-wal` file now. */
  walBytesNow: number;
  /** Checkpoints that could not finish because a reader pinned the WAL (schema 2; null before). */
  checkpointsBlocked: number | null;
}

/** The point a step begins at, read now. */
export function takePoint(db: Database, tables: TableNames, nowMs = Date.now()): MeasurePoint {
  const minute = Math.floor(nowMs / 60_000);
  const [row] = readMetricMinutes(db, tables.writerMetrics, minute).filter((r) => r.minute === minute);
  return { at: new Date(nowMs).toISOString(), minute, minuteRow: row ?? null };
}

const ADDITIVE = ['transactions', 'batches', 'failedBatches', 'rows', 'locks', 'retries', 'lockWaitMs'] as const;

/** Sums of the counters since the point, and the largest values. */
interface MetricTotals {
  transactions: number;
  batches: number;
  failedBatches: number;
  rows: number;
  locks: number;
  retries: number;
  lockWaitMs: number;
  maxHoldMs: number | null;
  maxWalBytes: number | null;
  checkpointsBlocked: number | null;
}

function metricTotals(minutes: MetricMinute[], point: MeasurePoint): MetricTotals {
  const totals: MetricTotals = { transactions: 0, batches: 0, failedBatches: 0, rows: 0, locks: 0, retries: 0, lockWaitMs: 0, maxHoldMs: null, maxWalBytes: null, checkpointsBlocked: null };
  const before = point.minuteRow;
  for (const row of minutes) {
    const first = row.minute === point.minute && before !== null;
    for (const key of ADDITIVE) totals[key] += Math.max(0, row[key] - (first ? before[key] : 0));
    const grew = (now: number | null, then: number | null): number | null => {
      if (now === null) return null;
      if (!first) return now;
      return now > (then ?? 0) ? now : null;
    };
    const hold = grew(row.maxHoldMs, before?.maxHoldMs ?? null);
    if (hold !== null && row.transactions - (first ? before.transactions : 0) > 0) totals.maxHoldMs = Math.max(totals.maxHoldMs ?? 0, hold);
    const wal = grew(row.maxWalBytes, before?.maxWalBytes ?? null);
    if (wal !== null) totals.maxWalBytes = Math.max(totals.maxWalBytes ?? 0, wal);
    if (row.checkpointsBlocked !== null) {
      totals.checkpointsBlocked = (totals.checkpointsBlocked ?? 0) + Math.max(0, row.checkpointsBlocked - (first ? before.checkpointsBlocked ?? 0 : 0));
    }
  }
  return totals;
}

interface JobRow {
  started: number;
  ended: number;
  status: string;
  rows: number;
}

function readJobs(db: Database, table: string, sinceMs: number, nowMs: number): JobRow[] {
  if (!tableExists(db, table)) return [];
  const present = columnsOf(db, table);
  if (!present.has('started_at')) return [];
  const pick = (column: string, fallback = 'NULL'): string => (present.has(column) ? column : `${fallback} AS ${column}`);
  const rows = db.prepare(`SELECT status, ${pick('started_at')}, ${pick('finished_at')}, ${pick('updated_at')}, ${pick('rows_inserted', '0')}, ${pick('rows_ignored', '0')}
    FROM ${table} WHERE started_at IS NOT NULL`).all() as Array<Record<string, unknown>>;
  const jobs: JobRow[] = [];
  for (const row of rows) {
    const started = Date.parse(String(row.started_at));
    if (!Number.isFinite(started) || started < sinceMs) continue;
    const finished = Date.parse(String(row.finished_at ?? ''));
    const updated = Date.parse(String(row.updated_at ?? ''));
    const ended = Number.isFinite(finished) ? finished : row.status === 'running' ? nowMs : Number.isFinite(updated) ? updated : started;
    jobs.push({ started, ended: Math.max(started, ended), status: String(row.status ?? ''), rows: Number(row.rows_inserted ?? 0) + Number(row.rows_ignored ?? 0) });
  }
  return jobs;
}

/** Length of the union of the intervals. */
function unionMs(intervals: Array<[number, number]>): number {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let open: [number, number] | null = null;
  for (const [start, end] of sorted) {
    if (open === null || start > open[1]) {
      if (open !== null) total += open[1] - open[0];
      open = [start, end];
    } else {
      open[1] = Math.max(open[1], end);
    }
  }
  if (open !== null) total += open[1] - open[0];
  return total;
}

function walSize(path: string): number {
  try {
    return statSync(`${path}-wal`).size;
  } catch {
    return 0;
  }
}

const round = (value: number, digits = 3): number => Math.round(value * 10 ** digits) / 10 ** digits;

/** The figures from `point` to now. Tolerates databases at schema 1 and databases no backfill has touched. */
export function measureSince(db: Database, databasePath: string, tables: TableNames, point: MeasurePoint, nowMs = Date.now()): RolloutFigures {
  const sinceMs = Date.parse(point.at);
  const totals = metricTotals(readMetricMinutes(db, tables.writerMetrics, point.minute), point);
  const jobs = readJobs(db, tables.jobLog, sinceMs, nowMs);
  const activeMs = unionMs(jobs.map((job) => [job.started, job.ended]));
  const rows = jobs.reduce((sum, job) => sum + job.rows, 0);
  const allBatches = totals.batches + totals.failedBatches;
  return {
    from: point.at,
    to: new Date(nowMs).toISOString(),
    observedMs: Math.max(0, nowMs - sinceMs),
    activeMs,
    jobs: jobs.length,
    jobsCompleted: jobs.filter((job) => job.status === 'completed').length,
    jobsFailed: jobs.filter((job) => job.status === 'failed').length,
    rows,
    rowsPerSecond: activeMs > 0 && rows > 0 ? round(rows / (activeMs / 1000), 1) : null,
    locks: totals.locks,
    lockErrorsPerMinute: activeMs > 0 ? round(totals.locks / (activeMs / 60_000)) : null,
    retries: totals.retries,
    batches: totals.batches,
    failedBatches: totals.failedBatches,
    batchFailureRate: allBatches > 0 ? round(totals.failedBatches / allBatches, 6) : null,
    transactions: totals.transactions,
    maxHoldMs: totals.maxHoldMs === null ? null : round(totals.maxHoldMs, 1),
    avgLockWaitMs: totals.transactions > 0 ? round(totals.lockWaitMs / totals.transactions, 2) : null,
    maxWalBytes: totals.maxWalBytes,
    walBytesNow: walSize(databasePath),
    checkpointsBlocked: totals.checkpointsBlocked,
  };
}
