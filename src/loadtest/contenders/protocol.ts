/**
 * What the load test tells its contender processes (a JSON argument) and what they print back
 * (one JSON line at the end). Contenders are separate processes on purpose: SQLite's locks
 * between processes are what the load test measures, and threads of one process would share
 * nothing that matters here but would share the event loop's timing.
 */
import type { LatencySummary } from '../stats.js';

export interface ContenderSettings {
  /** The database file. */
  database: string;
  /** A contender stops by itself after this long, even if nobody tells it to (no orphans). */
  maxMs: number;
  /** Pause between two rounds of work (ms). */
  pauseMs: number;
}

export interface LegacyWriterSettings extends ContenderSettings {
  /** Who writes: kept in each row, so the rows of each writer can be counted. */
  writer: string;
  /** The table it writes to (created by the load test beforehand). */
  table: string;
  rowsPerTransaction: number;
}

interface ContenderReportBase {
  /** How long it ran (ms), from its first round to its last. */
  elapsedMs: number;
  /** Errors by SQLite code, e.g. { SQLITE_BUSY: 3 }. */
  errorCodes: Record<string, number>;
  /** A few distinct error messages, for the report. */
  messages: string[];
}

export interface ReaderReport extends ContenderReportBase {
  kind: 'reader';
  queries: number;
  errors: number;
  /** Latency of each successful query (ms). */
  latency: LatencySummary;
}

export interface LegacyWriterReport extends ContenderReportBase {
  kind: 'legacy-writer';
  writer: string;
  transactions: number;
  rowsCommitted: number;
  errors: number;
  /** Latency of each committed transaction, BEGIN to COMMIT (ms). */
  latency: LatencySummary;
}

export type ContenderReport = ReaderReport | LegacyWriterReport;

/** The line a contender prints once its connection is open and it has done one round. */
export const READY_LINE = 'ready';
