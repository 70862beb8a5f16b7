/**
 * What the writer records for other processes, read from outside: its per-minute figures
 * (`writer_metrics`), its alerts (`writer_alerts`), who held the lock while it waited
 * (`writer_lock_holders`) and its current state (`writer_state`: the running engine, a reader
 * pinning the WAL). Databases at schema 1 lack most of this: every reader here tolerates a
 * missing table or column and answers with empty figures, never an error.
 */
import type { Database } from 'better-sqlite3';
import { columnsOf, tableExists, WRITER_TABLES } from './schema.js';
import { processAlive } from './processes.js';

/** One minute of `writer_metrics`; the schema-2 columns are null on older databases. */
export interface MetricMinute {
  minute: number;
  transactions: number;
  batches: number;
  failedBatches: number;
  rows: number;
  locks: number;
  retries: number;
  lockWaitMs: number;
  maxHoldMs: number;
  maxWalBytes: number | null;
  checkpoints: number | null;
  checkpointsBlocked: number | null;
  yields: number | null;
  yieldMs: number | null;
  neighbourCommits: number | null;
}

const V1_COLUMNS = ['transactions', 'batches', 'failed_batches', 'rows', 'locks', 'retries', 'lock_wait_ms', 'max_hold_ms'] as const;
/** The writer_metrics columns that schema 2 added (WRITER_METRICS_COLUMNS in schema.ts). */
export const V2_METRIC_COLUMNS = ['max_wal_bytes', 'checkpoints', 'checkpoints_blocked', 'yields', 'yield_ms', 'neighbour_commits'] as const;
const V2_COLUMNS = V2_METRIC_COLUMNS;

const num = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : typeof value === 'bigint' ? Number(value) : 0);

/** Minutes from `sinceMinute` to `untilMinute` (`minute` is floor(unix ms / 60000)), oldest first. */
export function readMetricMinutes(db: Database, table: string, sinceMinute: number, untilMinute = Number.MAX_SAFE_INTEGER): MetricMinute[] {
  if (!tableExists(db, table)) return [];
  const present = columnsOf(db, table);
  const select = ['minute', ...[...V1_COLUMNS, ...V2_COLUMNS].map((column) => (present.has(column) ? column : `NULL AS ${column}`))];
  const rows = db.prepare(`SELECT ${select.join(', ')} FROM ${table} WHERE minute BETWEEN ? AND ? ORDER BY minute`).all(sinceMinute, untilMinute) as Array<Record<string, unknown>>;
  const maybe = (row: Record<string, unknown>, column: string): number | null => (present.has(column) ? num(row[column]) : null);
  return rows.map((row) => ({
    minute: num(row.minute),
    transactions: num(row.transactions),
    batches: num(row.batches),
    failedBatches: num(row.failed_batches),
    rows: num(row.rows),
    locks: num(row.locks),
    retries: num(row.retries),
    lockWaitMs: num(row.lock_wait_ms),
    maxHoldMs: num(row.max_hold_ms),
    maxWalBytes: maybe(row, 'max_wal_bytes'),
    checkpoints: maybe(row, 'checkpoints'),
    checkpointsBlocked: maybe(row, 'checkpoints_blocked'),
    yields: maybe(row, 'yields'),
    yieldMs: maybe(row, 'yield_ms'),
    neighbourCommits: maybe(row, 'neighbour_commits'),
  }));
}

/** A reader pinning the WAL, as the writer recorded it (`writer_state` key `wal_pin`). */
export interface WalPin {
  pid: number | null;
  command: string | null;
  /** When the pin began (ISO 8601). */
  since: string | null;
  walBytes: number | null;
  updatedAt: string | null;
  /** Whether the pid is a live process on this machine; null when no pid was recorded. */
  alive: boolean | null;
}

/** The engine holding the single-writer lease, as it recorded itself (`writer_state` key `writer`). */
export interface WriterRecord {
  pid: number | null;
  command: string | null;
  startedAt: string | null;
  updatedAt: string | null;
  /** Whether that pid is a live process here; a dead one means the engine ended without clearing it (or runs on another machine). */
  alive: boolean | null;
}

export interface StoredAlert {
  id: number;
  at: string;
  level: string;
  message: string;
  figures: Record<string, unknown> | null;
}

function parseJson(text: unknown): unknown {
  if (typeof text !== 'string') return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}

const textOrNull = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);
const numOrNull = (value: unknown): number | null => (typeof value === 'number' && Number.isFinite(value) ? value : null);

function stateValue(db: Database, key: string): { value: Record<string, unknown>; updatedAt: string | null } | null {
  if (!tableExists(db, WRITER_TABLES.state)) return null;
  const row = db.prepare(`SELECT value, updated_at FROM ${WRITER_TABLES.state} WHERE key = ?`).get(key) as { value: unknown; updated_at: unknown } | undefined;
  if (row === undefined) return null;
  const value = parseJson(row.value);
  // JSON null: the writer cleared it (the pin ended, the engine closed).
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return null;
  return { value: value as Record<string, unknown>, updatedAt: textOrNull(row.updated_at) };
}

/** The current WAL pin, or null when there is none (or no such table). */
export function readWalPin(db: Database): WalPin | null {
  const state = stateValue(db, 'wal_pin');
  if (state === null) return null;
  const pid = numOrNull(state.value.pid);
  return {
    pid,
    command: textOrNull(state.value.command),
    since: textOrNull(state.value.since),
    walBytes: numOrNull(state.value.walBytes),
    updatedAt: state.updatedAt,
    alive: pid === null ? null : processAlive(pid),
  };
}

/** The engine that recorded itself as the writer, or null. */
export function readWriterRecord(db: Database): WriterRecord | null {
  const state = stateValue(db, 'writer');
  if (state === null) return null;
  const pid = numOrNull(state.value.pid);
  return {
    pid,
    command: textOrNull(state.value.command),
    startedAt: textOrNull(state.value.startedAt),
    updatedAt: state.updatedAt,
    alive: pid === null ? null : processAlive(pid),
  };
}

/** Alerts recorded at or after `sinceMs`, newest first, at most `limit`. */
export function readRecentAlerts(db: Database, sinceMs: number, limit = 20): StoredAlert[] {
  if (!tableExists(db, WRITER_TABLES.alerts)) return [];
  const since = new Date(sinceMs).toISOString();
  const rows = db.prepare(`SELECT id, at, level, message, figures FROM ${WRITER_TABLES.alerts} WHERE at >= ? ORDER BY at DESC, id DESC LIMIT ?`)
    .all(since, limit) as Array<Record<string, unknown>>;
  return rows.map((row) => {
    const figures = parseJson(row.figures);
    return {
      id: num(row.id),
      at: String(row.at ?? ''),
      level: String(row.level ?? ''),
      message: String(row.message ?? ''),
      figures: figures !== null && typeof figures === 'object' && !Array.isArray(figures) ? (figures as Record<string, unknown>) : null,
    };
  });
}

/** Who held the lock while the writer waited, summed per process over the minutes from `sinceMinute`. */
export interface RecordedLockHolder {
  pid: number;
  command: string;
  waits: number;
  waitMs: number;
  lastMinute: number;
}

export function readRecordedLockHolders(db: Database, sinceMinute: number): RecordedLockHolder[] {
  if (!tableExists(db, WRITER_TABLES.lockHolders)) return [];
  const rows = db.prepare(`SELECT pid, max(command) AS command, sum(waits) AS waits, sum(wait_ms) AS wait_ms, max(minute) AS last_minute
    FROM ${WRITER_TABLES.lockHolders} WHERE minute >= ? GROUP BY pid ORDER BY sum(waits) DESC LIMIT 20`).all(sinceMinute) as Array<Record<string, unknown>>;
  return rows.map((row) => ({
    pid: num(row.pid),
    command: String(row.command ?? ''),
    waits: num(row.waits),
    waitMs: num(row.wait_ms),
    lastMinute: num(row.last_minute),
  }));
}
