/**
 * Database health, read from outside the writer: file sizes and pages, the writer's per-minute
 * figures in `writer_metrics` (locks, failed batches), the latency of a probe query, and who
 * holds locks on the file. Everything is read through read-only connections; a health check
 * never writes to the database.
 */
import { appendFileSync, existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Database } from 'better-sqlite3';
import { InvalidOptionError, isLockError } from '../errors.js';
import { DEFAULT_FLAGS, type Flags, type WorkloadName } from '../flags/index.js';
import type { Logger } from '../logger.js';
import { readRecentAlerts, readWalPin, readWriterRecord, type StoredAlert, type WalPin, type WriterRecord } from './writer-records.js';
import { findLockHolders, type LockHolder } from './locking/lock-holders.js';
import { readWalNotCheckpointed } from './doctor/wal-index.js';
import { checkDatabasePath } from './open.js';
import { findLeaseHolders, findProcessesWithDatabase, type LeaseHolder, type OpenProcess } from './processes.js';
import { withReader, type ReadPool } from './read-pool.js';
import { resolveTableNames, tableExists, type TableNames } from './schema.js';
import { bundledSqliteVersion, describeWalResetStatus, isAffectedByWalResetBug, parseSqliteVersionStrict } from './sqlite-version.js';

/** The monitoring convention: OK, WARNING, CRITICAL, and UNKNOWN when the check itself could not run. */
export type HealthStatus = 'OK' | 'WARNING' | 'CRITICAL' | 'UNKNOWN';

/** Exit codes of the monitoring convention (Nagios plugins): 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN. */
export const HEALTH_EXIT_CODES: Readonly<Record<HealthStatus, number>> = Object.freeze({ OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 });

const MB = 1024 * 1024;

/** A figure above its `...Warning` threshold is a WARNING, above its `...Critical` one a CRITICAL (DESIGN section 6). */
export interface HealthThresholds {
  /** Locks per minute (over the last minute). @default 5 */
  readonly locksPerMinuteWarning: number;
  /** @default 10 */
  readonly locksPerMinuteCritical: number;
  /** Failed batches over all batches in the last 5 minutes, as a ratio (0.01 = 1 %). @default 0.01 */
  readonly failureRateWarning: number;
  /** @default 0.05 */
  readonly failureRateCritical: number;
  /** Median probe query latency in ms. @default 100 */
  readonly latencyWarningMs: number;
  /** @default 1000 */
  readonly latencyCriticalMs: number;
  /** WAL bytes not yet checkpointed (the `-wal` file's size when the WAL index cannot be read). @default 104857600 (100 MB) */
  readonly walWarningBytes: number;
  /** @default 1073741824 (1 GB) */
  readonly walCriticalBytes: number;
}

export const DEFAULT_HEALTH_THRESHOLDS: HealthThresholds = Object.freeze({
  locksPerMinuteWarning: 5,
  locksPerMinuteCritical: 10,
  failureRateWarning: 0.01,
  failureRateCritical: 0.05,
  latencyWarningMs: 100,
  latencyCriticalMs: 1000,
  walWarningBytes: 100 * MB,
  walCriticalBytes: 1024 * MB,
});

const THRESHOLD_PAIRS = [
  ['locksPerMinuteWarning', 'locksPerMinuteCritical'],
  ['failureRateWarning', 'failureRateCritical'],
  ['latencyWarningMs', 'latencyCriticalMs'],
  ['walWarningBytes', 'walCriticalBytes'],
] as const;

/** Applies defaults; every threshold must be a number >= 0 (ratios at most 1), and no warning above its critical. */
export function resolveHealthThresholds(thresholds: Partial<HealthThresholds> = {}): HealthThresholds {
  for (const key of Object.keys(thresholds)) {
    if (!(key in DEFAULT_HEALTH_THRESHOLDS)) {
      throw new InvalidOptionError('thresholds', `an object with keys among ${Object.keys(DEFAULT_HEALTH_THRESHOLDS).join(', ')}`, key);
    }
  }
  const resolved = { ...DEFAULT_HEALTH_THRESHOLDS, ...thresholds };
  for (const [key, value] of Object.entries(resolved)) {
    const max = key.startsWith('failureRate') ? 1 : Number.MAX_SAFE_INTEGER;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > max) {
      throw new InvalidOptionError(`thresholds.${key}`, max === 1 ? 'a ratio from 0 to 1' : 'a number of at least 0', value);
    }
  }
  for (const [warning, critical] of THRESHOLD_PAIRS) {
    if (resolved[warning] > resolved[critical]) {
      throw new InvalidOptionError(`thresholds.${warning}`, `at most thresholds.${critical} (${resolved[critical]})`, resolved[warning]);
    }
  }
  return Object.freeze(resolved);
}

export interface HealthOptions {
  /** The database file. */
  readonly path: string;
  /** The flags for the read connection's pragmas. @default DEFAULT_FLAGS */
  readonly flags?: Flags;
  /** Read through this pool (the `connection_pooling` flag); otherwise one read-only connection is opened for the sample. */
  readonly pool?: ReadPool | undefined;
  /** The flags file's workload profile, for the sample's own connection. @default 'mixed' */
  readonly workload?: WorkloadName;
  /** @default DEFAULT_HEALTH_THRESHOLDS */
  readonly thresholds?: Partial<HealthThresholds>;
  /** Table names, when the writer was configured with others. @default DEFAULT_TABLES */
  readonly tables?: Partial<TableNames>;
  readonly logger?: Logger;
  readonly signal?: AbortSignal;
  /** The SQLite version the engine runs on, judged for the WAL-reset bug. @default the bundled SQLite */
  readonly sqliteVersion?: string;
  /** Look for the other processes that have the database open and their SQLite (Linux /proc). @default true */
  readonly listProcesses?: boolean;
}

/** The engine that holds the single-writer lease: what it recorded, and who holds `<database>-lease` now. */
export interface HealthWriter {
  /** What the engine recorded in `writer_state` (key `writer`); null when nothing is recorded. */
  recorded: WriterRecord | null;
  /** The processes holding a lock on `<database>-lease` right now (the running engine). */
  leaseHolders: LeaseHolder[];
}

/** How far back `recentAlerts` reaches. */
export const RECENT_ALERTS_MS = 10 * 60_000;

/** One health sample, as `health --json` prints it and `--watch` appends it to the history file. */
export interface HealthSample {
  /** When the sample was taken (ISO 8601). */
  time: string;
  database: string;
  exists: boolean;
  /** `wal`, `delete`, ...; null when the database could not be read. */
  journalMode: string | null;
  /** Size of the `-wal` file (0 when there is none). */
  walBytes: number | null;
  /**
   * Bytes of the WAL no checkpoint has copied yet, from the `-shm` WAL index; null when it
   * cannot be read. The WAL thresholds judge this (the file's size when it is null): a file
   * that SQLite reuses from its start can stay large while holding nothing to copy.
   */
  walUncheckpointedBytes: number | null;
  databaseBytes: number | null;
  pageSize: number | null;
  pageCount: number | null;
  freePages: number | null;
  /** Free pages over all pages, a ratio from 0 to 1: what VACUUM would give back. */
  fragmentation: number | null;
  /** Locks the writer met in the last 60 seconds; null when the database has no writer_metrics table. */
  locksPerMinute1: number | null;
  /** Locks per minute averaged over the last 5 minutes. */
  locksPerMinute5: number | null;
  /** failed_batches / (batches + failed_batches) over the last 5 minutes, a ratio; 0 when there were no batches. */
  batchFailureRate: number | null;
  /** Median of 3 timed probe queries through a read connection. */
  probeLatencyMs: number | null;
  /** Locks other processes hold on the database or its -shm file (this process left out). */
  lockHolders: LockHolder[];
  /** The SQLite the engine runs on (bundled with better-sqlite3) and whether it has the WAL-reset bug. */
  sqliteVersion: string;
  sqliteAffected: boolean;
  /** Other processes that have the database, its -wal or its -shm open, with the SQLite they loaded where it can be told. */
  processes: OpenProcess[];
  /** A reader pinning the WAL, as the writer recorded it; null when none (or before schema 2). */
  walPin: WalPin | null;
  /** The writer holding the lease; null when no engine recorded itself and nobody holds the lease. */
  writer: HealthWriter | null;
  /** Alerts the engine recorded in the last 10 minutes, newest first (at most 20). */
  recentAlerts: StoredAlert[];
  status: HealthStatus;
  /** Why the status is not OK, one sentence each, worst first. */
  problems: string[];
  thresholds: HealthThresholds;
}

const SEVERITY: Readonly<Record<HealthStatus, number>> = { OK: 0, WARNING: 1, UNKNOWN: 2, CRITICAL: 3 };

/** The worse of two statuses: CRITICAL over UNKNOWN over WARNING over OK. */
export function worseStatus(a: HealthStatus, b: HealthStatus): HealthStatus {
  return SEVERITY[b] > SEVERITY[a] ? b : a;
}

interface WriterRates {
  locksPerMinute1: number;
  locksPerMinute5: number;
  batchFailureRate: number;
}

const round = (value: number, digits = 3): number => Math.round(value * 10 ** digits) / 10 ** digits;

/**
 * Rates over sliding windows from per-minute buckets: the current minute counts whole, the
 * oldest minute of the window counts for the part of it still inside the window (the usual
 * sliding-window estimate). So "the last minute" is never an almost empty bucket just after
 * the minute turns.
 */
function writerRates(db: Database, table: string, nowMs: number): WriterRates {
  const current = Math.floor(nowMs / 60_000);
  const elapsed = (nowMs % 60_000) / 60_000;
  const rows = db.prepare(`SELECT minute, batches, failed_batches AS failed, locks FROM ${table} WHERE minute >= ?`).all(current - 5) as Array<{ minute: number; batches: number; failed: number; locks: number }>;
  const sum = (windowMinutes: number, pick: (row: (typeof rows)[number]) => number): number => {
    let total = 0;
    for (const row of rows) {
      const age = current - row.minute;
      if (age < windowMinutes) total += pick(row);
      else if (age === windowMinutes) total += pick(row) * (1 - elapsed);
    }
    return total;
  };
  const failed = sum(5, (row) => row.failed);
  const all = failed + sum(5, (row) => row.batches);
  return {
    locksPerMinute1: round(sum(1, (row) => row.locks)),
    locksPerMinute5: round(sum(5, (row) => row.locks) / 5),
    batchFailureRate: all > 0 ? round(failed / all, 6) : 0,
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const formatMb = (bytes: number): string => `${(bytes / MB).toFixed(bytes >= 10 * MB ? 0 : 2)} MB`;

/** The status a set of figures earns against the thresholds, and the problems that say why. */
export function evaluateHealth(sample: Pick<HealthSample, 'walBytes' | 'walUncheckpointedBytes' | 'locksPerMinute1' | 'batchFailureRate' | 'probeLatencyMs' | 'lockHolders'>, thresholds: HealthThresholds): { status: HealthStatus; problems: string[] } {
  const found: Array<{ status: HealthStatus; problem: string }> = [];
  const check = (value: number | null, warning: number, critical: number, say: (level: 'warning' | 'critical', limit: number) => string): void => {
    if (value === null) return;
    if (value > critical) found.push({ status: 'CRITICAL', problem: say('critical', critical) });
    else if (value > warning) found.push({ status: 'WARNING', problem: say('warning', warning) });
  };
  const pids = [...new Set(sample.lockHolders.filter((h) => h.lock === 'write' || h.lock === 'reserved' || h.lock === 'pending' || h.lock === 'exclusive').map((h) => h.pid))];
  const who = pids.length > 0
    ? `pid ${pids.join(', ')} holds it now`
    : 'none holds it right now: `health --watch` names the holder when it does';
  check(sample.locksPerMinute1, thresholds.locksPerMinuteWarning, thresholds.locksPerMinuteCritical, (level, limit) =>
    `${round(sample.locksPerMinute1 ?? 0, 1)} locks per minute (${level} above ${limit}): another process keeps taking the write lock (${who}); ` +
    'send its writes through the engine, or schedule it outside the backfill');
  check(sample.batchFailureRate, thresholds.failureRateWarning, thresholds.failureRateCritical, (level, limit) =>
    `${round((sample.batchFailureRate ?? 0) * 100, 2)} % of batches failed in the last 5 minutes (${level} above ${round(limit * 100, 2)} %): ` +
    'see `jobs --status failed` and the backfill log; failed jobs resume when run again');
  check(sample.probeLatencyMs, thresholds.latencyWarningMs, thresholds.latencyCriticalMs, (level, limit) =>
    `a probe query took ${round(sample.probeLatencyMs ?? 0, 1)} ms (${level} above ${limit} ms): reads are slow or waiting for a lock`);
  const pending = sample.walUncheckpointedBytes;
  check(pending ?? sample.walBytes, thresholds.walWarningBytes, thresholds.walCriticalBytes, (level, limit) =>
    `${pending !== null ? `the WAL holds ${formatMb(pending)} not yet checkpointed` : `the WAL is ${formatMb(sample.walBytes ?? 0)}`} (${level} above ${formatMb(limit)}): ` +
    'checkpoints are not keeping up, often because a reader holds an old snapshot open');
  found.sort((a, b) => SEVERITY[b.status] - SEVERITY[a.status]);
  return { status: found.reduce<HealthStatus>((worst, f) => worseStatus(worst, f.status), 'OK'), problems: found.map((f) => f.problem) };
}

function emptySample(path: string, thresholds: HealthThresholds): HealthSample {
  return {
    time: new Date().toISOString(),
    database: path,
    exists: false,
    journalMode: null,
    walBytes: null,
    walUncheckpointedBytes: null,
    databaseBytes: null,
    pageSize: null,
    pageCount: null,
    freePages: null,
    fragmentation: null,
    locksPerMinute1: null,
    locksPerMinute5: null,
    batchFailureRate: null,
    probeLatencyMs: null,
    lockHolders: [],
    sqliteVersion: '',
    sqliteAffected: false,
    processes: [],
    walPin: null,
    writer: null,
    recentAlerts: [],
    status: 'UNKNOWN',
    problems: [],
    thresholds,
  };
}

/**
 * What the neighbours mean for the status: an engine SQLite with the WAL-reset bug while the
 * database is in WAL mode is CRITICAL; another process with such a SQLite is a WARNING naming
 * it; a reader pinning the WAL is a WARNING naming its pid.
 */
export function evaluateNeighbours(sample: Pick<HealthSample, 'journalMode' | 'sqliteVersion' | 'sqliteAffected' | 'processes' | 'walPin'>): Array<{ status: HealthStatus; problem: string }> {
  const found: Array<{ status: HealthStatus; problem: string }> = [];
  const wal = sample.journalMode === 'wal';
  if (sample.sqliteAffected && wal) {
    found.push({ status: 'CRITICAL', problem: `the engine's ${describeWalResetStatus(sample.sqliteVersion)}, and the database is in WAL mode: turn wal_mode off (\`league-backfill flags disable wal_mode\`) until better-sqlite3 is upgraded` });
  }
  for (const other of sample.processes) {
    const version = other.sqlite?.version;
    if (!wal || version === undefined || version === null || !isAffectedByWalResetBug(version)) continue;
    found.push({
      status: 'WARNING',
      problem: `pid ${other.pid} (${other.command.replace(/\s+/g, ' ') || 'command unknown'}) has the database open, and its ${describeWalResetStatus(version)} ` +
        `(library ${other.sqlite?.path}${other.sqlite?.method === 'package' ? `, package ${other.sqlite.package}` : ''}); ` +
        'or keep that program from writing while the engine runs',
    });
  }
  const pin = sample.walPin;
  if (pin !== null && pin.alive !== false) {
    const who = pin.pid === null ? 'a reader' : `pid ${pin.pid}${pin.command ? ` (${pin.command})` : ''}`;
    found.push({
      status: 'WARNING',
      problem: `${who} pins the WAL${pin.since ? ` since ${pin.since}` : ''}${pin.walBytes !== null ? ` (WAL ${formatMb(pin.walBytes)})` : ''}: ` +
        'it holds a read transaction open on an old snapshot, so checkpoints cannot finish and the WAL grows; end that read transaction (close the notebook cell, commit or roll back)',
    });
  }
  return found;
}

/**
 * Takes one health sample. Never throws for the state of the database: a missing file, a
 * file that is not a database or one that cannot be read is an UNKNOWN sample with the reason
 * in `problems`, and reads blocked by another process's lock are CRITICAL. Throws only for
 * invalid options (`InvalidOptionError`) and when `signal` is aborted.
 */
export async function checkHealth(options: HealthOptions): Promise<HealthSample> {
  const thresholds = resolveHealthThresholds(options.thresholds);
  if (typeof options.path !== 'string' || options.path.trim() === '') throw new InvalidOptionError('path', 'the path of a database file', options.path);
  const tables = resolveTableNames(options.tables);
  options.signal?.throwIfAborted();
  const sqliteVersion = parseSqliteVersionStrict(options.sqliteVersion ?? bundledSqliteVersion(), 'sqliteVersion').text;
  const path = options.path;
  const sample = emptySample(path, thresholds);
  sample.sqliteVersion = sqliteVersion;
  sample.sqliteAffected = isAffectedByWalResetBug(sqliteVersion);

  const absolute = resolve(path);
  if (!existsSync(absolute)) {
    sample.problems.push(`Database ${path} does not exist (nothing to check; is --db right?)`);
    return sample;
  }
  sample.exists = true;
  try {
    checkDatabasePath(path, { readonly: true });
  } catch (error) {
    sample.problems.push(errorMessage(error));
    return sample;
  }
  sample.databaseBytes = fileSize(absolute);
  sample.walBytes = fileSize(`${absolute}-wal`);
  sample.walUncheckpointedBytes = readWalNotCheckpointed(absolute, sample.walBytes);
  if (options.listProcesses !== false) sample.processes = findProcessesWithDatabase(absolute, { excludeSelf: true });

  try {
    const measured = await withReader({
      pool: options.pool,
      path,
      flags: options.flags ?? DEFAULT_FLAGS,
      ...(options.workload !== undefined ? { workload: options.workload } : {}),
      // A probe never waits longer for a lock than the latency that would make it CRITICAL anyway.
      busyTimeoutMs: Math.ceil(thresholds.latencyCriticalMs),
      ...(options.logger !== undefined ? { logger: options.logger } : {}),
      ...(options.signal !== undefined ? { signal: options.signal } : {}),
    }, (db) => {
      if (!options.pool) db.pragma(`busy_timeout = ${Math.ceil(thresholds.latencyCriticalMs)}`);
      const journalMode = String(db.pragma('journal_mode', { simple: true }));
      const pageSize = Number(db.pragma('page_size', { simple: true }));
      const pageCount = Number(db.pragma('page_count', { simple: true }));
      const freePages = Number(db.pragma('freelist_count', { simple: true }));
      const rates = tableExists(db, tables.writerMetrics) ? writerRates(db, tables.writerMetrics, Date.now()) : null;
      const walPin = readWalPin(db);
      const writerRecord = readWriterRecord(db);
      const recentAlerts = readRecentAlerts(db, Date.now() - RECENT_ALERTS_MS);
      const probe = db.prepare(tableExists(db, tables.jobLog) ? `SELECT count(*) FROM ${tables.jobLog}` : 'SELECT count(*) FROM sqlite_master');
      const timings: number[] = [];
      for (let i = 0; i < 3; i++) {
        const started = performance.now();
        probe.get();
        timings.push(performance.now() - started);
      }
      return { journalMode, pageSize, pageCount, freePages, rates, probeLatencyMs: round(median(timings)), walPin, writerRecord, recentAlerts };
    });
    sample.journalMode = measured.journalMode;
    sample.pageSize = measured.pageSize;
    sample.pageCount = measured.pageCount;
    sample.freePages = measured.freePages;
    sample.fragmentation = measured.pageCount > 0 ? round(measured.freePages / measured.pageCount, 4) : 0;
    sample.locksPerMinute1 = measured.rates?.locksPerMinute1 ?? null;
    sample.locksPerMinute5 = measured.rates?.locksPerMinute5 ?? null;
    sample.batchFailureRate = measured.rates?.batchFailureRate ?? null;
    sample.probeLatencyMs = measured.probeLatencyMs;
    sample.lockHolders = findLockHolders(absolute).filter((holder) => !holder.self);
    sample.walPin = measured.walPin;
    sample.recentAlerts = measured.recentAlerts;
    const leaseHolders = findLeaseHolders(absolute);
    sample.writer = measured.writerRecord === null && leaseHolders.length === 0 ? null : { recorded: measured.writerRecord, leaseHolders };
    const verdict = evaluateHealth(sample, thresholds);
    const neighbours = evaluateNeighbours(sample);
    sample.status = neighbours.reduce<HealthStatus>((worst, found) => worseStatus(worst, found.status), verdict.status);
    const problems = [...neighbours.filter((f) => f.status === 'CRITICAL').map((f) => f.problem), ...verdict.problems, ...neighbours.filter((f) => f.status !== 'CRITICAL').map((f) => f.problem)];
    sample.problems.push(...problems);
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason;
    sample.lockHolders = findLockHolders(absolute).filter((holder) => !holder.self);
    const cause = (error as { cause?: unknown }).cause;
    if (isLockError(error) || isLockError(cause)) {
      sample.status = 'CRITICAL';
      const holders = sample.lockHolders.filter((h) => h.lock !== 'shared' && h.lock !== 'other' && h.lock !== 'read');
      sample.problems.push(`reads are blocked: ${errorMessage(error)}${holders.length > 0 ? ` (pid ${[...new Set(holders.map((h) => h.pid))].join(', ')} holds the lock)` : ''}`);
    } else {
      sample.problems.push(`the database could not be read: ${errorMessage(error)}`);
    }
  }
  return sample;
}

export interface WatchHealthOptions extends HealthOptions {
  /** Time between samples. @default 10000 */
  readonly intervalMs?: number;
  /** Stop after this many samples. @default unbounded */
  readonly count?: number;
}

/**
 * Samples every `intervalMs` until `count` samples were taken or `signal` is aborted (then it
 * simply ends: the last sample is the answer).
 */
export async function* watchHealth(options: WatchHealthOptions): AsyncGenerator<HealthSample, void, undefined> {
  const intervalMs = options.intervalMs ?? 10_000;
  if (typeof intervalMs !== 'number' || !Number.isFinite(intervalMs) || intervalMs < 10) throw new InvalidOptionError('intervalMs', 'a number of milliseconds, at least 10', intervalMs);
  if (options.count !== undefined && (!Number.isInteger(options.count) || options.count < 1)) throw new InvalidOptionError('count', 'an integer of at least 1', options.count);
  const { intervalMs: _interval, count, signal, ...sampleOptions } = options;
  for (let taken = 0; count === undefined || taken < count; taken++) {
    if (signal?.aborted) return;
    let sample: HealthSample;
    try {
      sample = await checkHealth(sampleOptions);
    } catch (error) {
      if (signal?.aborted) return;
      throw error;
    }
    yield sample;
    if (count !== undefined && taken + 1 >= count) return;
    try {
      await sleep(intervalMs, undefined, signal ? { signal } : {});
    } catch {
      return; // aborted while waiting
    }
  }
}

/** The default history file: `health_history.jsonl` beside the database. */
export function defaultHistoryPath(databasePath: string): string {
  return join(dirname(resolve(databasePath)), 'health_history.jsonl');
}

/**
 * Appends a sample to a history file as one JSON line, creating the file but not its folder
 * (a mistyped path is an error, not a new folder). One `write` with O_APPEND per sample, so
 * lines from concurrent watchers do not interleave.
 */
export function appendHealthHistory(file: string, sample: HealthSample): void {
  appendFileSync(file, `${JSON.stringify(sample)}\n`);
}
