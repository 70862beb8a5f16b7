/**
 * What the load test and the neighbours benchmark tell their contender processes (a JSON
 * argument) and what they print back: one JSON object per line on stdout, each with an
 * `event`: `ready` once the connection is open, `open` / `released` for a notebook's read
 * transactions, and `result` (the report) at the end. Contenders are separate processes on
 * purpose: SQLite's locks between processes are what is measured, and threads of one process
 * would share nothing that matters here but would share the event loop's timing.
 */
import type { Flags, WorkloadName } from '../../flags/index.js';
import type { LatencySummary } from '../stats.js';

export interface ContenderSettings {
  /** The database file. */
  database: string;
  /** A contender stops by itself after this long, even if nobody tells it to (no orphans). */
  maxMs: number;
  /** Pause between two rounds of work (ms). */
  pauseMs: number;
  /**
   * SQLite's busy timeout of the contender's connection (ms): its waits go through SQLite's own
   * busy handler (sleeps of 1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, then 100 ms), as most
   * scripts, notebooks and dashboards wait. @default 5000 (better-sqlite3's and Python's default)
   */
  busyTimeoutMs?: number;
}

export interface LegacyWriterSettings extends ContenderSettings {
  /** Who writes: kept in each row, so the rows of each writer can be counted. */
  writer: string;
  /** The table it writes to: its own, never one of the engine's; created when missing. */
  table: string;
  rowsPerTransaction: number;
}

export interface ReaderSettings extends ContenderSettings {
  /**
   * `analytics`: five dashboard aggregations per round over the whole table. `group-by`: one
   * GROUP BY over the rows that were in `transactions` when the reader started (a fixed amount
   * of work, so its latency alone and beside a backfill compare like for like). @default 'analytics'
   */
  queries?: 'analytics' | 'group-by';
  /**
   * Open the connection as the product's own read connections do (`openDatabase` read-only with
   * these flags and workload profile) instead of as an outside program with SQLite's defaults,
   * and report the pragmas read back. @default none: SQLite's defaults
   */
  open?: { flags: Flags; workload: WorkloadName };
}

/** Pragmas of one connection as SQLite reports them back. */
export interface ConnectionPragmas {
  journalMode: string;
  synchronous: number;
  /** Negative: KiB; positive: pages. */
  cacheSize: number;
  mmapSize: number;
  tempStore: number;
  walAutocheckpoint: number;
}

export interface NotebookSettings {
  database: string;
  maxMs: number;
  busyTimeoutMs?: number;
  /** How long each read transaction stays open (ms). */
  holdMs: number;
  /** Read transactions, one after the other. @default 1 */
  holds?: number;
  /** Pause between two read transactions (ms). @default 0 */
  pauseMs?: number;
  /** Wait before the first read transaction (ms). @default 0 */
  startDelayMs?: number;
}

interface ContenderReportBase {
  /** The contender's process id. */
  pid: number;
  /** How long it ran (ms), from its first round to its last. */
  elapsedMs: number;
  /** Failed operations. */
  errors: number;
  /** Errors by SQLite code, e.g. { SQLITE_BUSY: 3 }. */
  errorCodes: Record<string, number>;
  /** Errors by message, e.g. { "database is locked": 3 }. */
  errorsByMessage: Record<string, number>;
  /** The message of each error in order (the first 1,000). */
  errorMessages: string[];
  /** A few distinct `CODE: message` lines, for the report. */
  messages: string[];
}

export interface ReaderReport extends ContenderReportBase {
  kind: 'reader';
  queries: number;
  /** The connection's pragmas, read back once it was open. */
  pragmas?: ConnectionPragmas;
  /** Latency of each successful query (ms). */
  latency: LatencySummary;
}

export interface LegacyWriterReport extends ContenderReportBase {
  kind: 'legacy-writer' | 'python-writer';
  writer: string;
  transactions: number;
  rowsCommitted: number;
  /** Latency of each committed transaction, BEGIN to COMMIT (ms). */
  latency: LatencySummary;
  /** Latency of every attempt, committed or failed (a failed one waited out its busy timeout) (ms). */
  attemptLatency: LatencySummary;
}

export interface NotebookHold {
  /** BEGIN and the first SELECT: what opening the read transaction cost (ms). */
  openMs: number;
  /** How long the read transaction was open (ms). */
  heldMs: number;
  /** Size of the `-wal` file when it opened and when it let go (bytes). */
  walBytesAtOpen: number;
  walBytesAtRelease: number;
}

export interface NotebookReport extends ContenderReportBase {
  kind: 'notebook';
  /** Read transactions held to their end. */
  holds: NotebookHold[];
  /** Latency of each read transaction's opening (BEGIN + SELECT) (ms). */
  latency: LatencySummary;
}

export type ContenderReport = ReaderReport | LegacyWriterReport | NotebookReport;

/** One line of a contender's stdout. */
export type ContenderEvent =
  | { event: 'ready'; pid: number }
  | { event: 'open'; pid: number; hold: number; walBytes: number }
  | { event: 'released'; pid: number; hold: number; walBytes: number }
  | ({ event: 'result' } & ContenderReport);

/** The engine's tables: a contender refuses to write to any of them. */
export const ENGINE_TABLES: readonly string[] = Object.freeze(['transactions', 'job_log', 'rejected_rows']);

/** True for a name a contender may write to: a plain identifier, not the engine's, not SQLite's, not `writer_*`. */
export function isContenderTable(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && !ENGINE_TABLES.includes(name.toLowerCase()) && !/^(sqlite_|writer_)/i.test(name);
}
