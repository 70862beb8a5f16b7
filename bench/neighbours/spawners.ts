/**
 * The engine's neighbours as real processes on the same SQLite file, each returning its
 * figures: a legacy writer (Node, better-sqlite3 with SQLite's own busy handler), the same as
 * a real Python `sqlite3` script, an analytics reader, and a notebook that holds a read
 * transaction open. The neighbours benchmark (bench/neighbours.ts) and the tests
 * (test/helpers/neighbours.ts) start them through these functions.
 *
 * Every neighbour exits by itself after `durationMs`, when its stdin closes (`stop()`) and when
 * this process dies; none writes to the engine's tables.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  startContenderProcess, startLegacyWriter as startNodeWriter, startNotebook as startNodeNotebook, startReader as startNodeReader, type RunningContender,
} from '../../src/loadtest/contenders/spawn.js';
import { InvalidOptionError } from '../../src/errors.js';
import { isContenderTable, type ContenderReport, type LegacyWriterReport, type NotebookHold, type NotebookReport, type ReaderReport } from '../../src/loadtest/contenders/protocol.js';

/** Latency percentiles of a neighbour's operations (ms, nearest rank). */
export interface NeighbourLatencies {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export type NeighbourKind = 'legacy-writer' | 'python-writer' | 'reader' | 'notebook';

/** What a neighbour measured, whatever it is. */
export interface Figures {
  kind: NeighbourKind;
  pid: number;
  /** From its first operation to its last (ms). */
  elapsedMs: number;
  /** Writers: transactions committed. Reader: queries completed. Notebook: read transactions held to their end. */
  commits: number;
  /** `commits` per second of `elapsedMs`. */
  commitsPerSecond: number;
  /** The message of every failed operation, in order (the first 1,000; `errorCount` counts them all). */
  errors: string[];
  errorCount: number;
  /** Failed operations by message, e.g. `{ "database is locked": 3 }`. */
  errorsByMessage: Record<string, number>;
  /**
   * Writers: every transaction attempt from BEGIN to the end of COMMIT, or to its error (a
   * failed one waited out its whole busy timeout). Reader: each query. Notebook: opening each
   * read transaction (BEGIN + its SELECT).
   */
  latenciesMs: NeighbourLatencies;
}

export interface WriterFigures extends Figures {
  kind: 'legacy-writer' | 'python-writer';
  /** Rows committed into its own table. */
  rows: number;
  /** Latency of the committed transactions only (ms). */
  committedLatenciesMs: NeighbourLatencies;
}

export interface ReaderFigures extends Figures {
  kind: 'reader';
}

export interface NotebookFigures extends Figures {
  kind: 'notebook';
  /** Each read transaction: its opening cost, how long it was held, the `-wal` size when it opened and let go. */
  holds: NotebookHold[];
}

export interface Neighbour<F extends Figures> {
  /** The process id (what a lock-holder or WAL-pin report should name). */
  readonly pid: number;
  /** Writers and reader: the connection is open and the first operation is about to start. Notebook: its first read transaction is open (it holds its snapshot). */
  readonly ready: Promise<void>;
  /** The figures, once the process has ended (after `durationMs`, or after `stop()`). */
  readonly result: Promise<F>;
  /** Ends the neighbour after its current operation; resolves with its figures. Safe to call twice. */
  stop(): Promise<F>;
}

export interface NotebookNeighbour extends Neighbour<NotebookFigures> {
  /** Resolves when its last read transaction has ended (it let go of the WAL). */
  readonly released: Promise<void>;
}

interface CommonOptions {
  /** The database file; it must exist. */
  database: string;
  /** The neighbour stops by itself after this long (ms). */
  durationMs: number;
  /** Its SQLite busy timeout (ms): waits go through SQLite's own busy handler. @default 5000 */
  timeoutMs?: number;
}

export interface WriterOptions extends CommonOptions {
  /** Its own table (created when missing); never one of the engine's. */
  table: string;
  /** Pause after each transaction (ms). @default 10 */
  intervalMs?: number;
  /** Rows per transaction. @default 20 */
  rowsPerCommit?: number;
  /** Stored in each row. @default the table's name */
  writer?: string;
}

export interface ReaderOptions extends CommonOptions {
  /** Pause between two queries (ms). @default 10 */
  intervalMs?: number;
  /**
   * `group-by`: one GROUP BY over the rows in `transactions` when the reader started (the same
   * work every time). `analytics`: the load test's five dashboard queries over the whole table.
   * @default 'group-by'
   */
  queries?: 'group-by' | 'analytics';
}

export interface NotebookOptions {
  database: string;
  /** How long each read transaction stays open (ms). */
  holdMs: number;
  /** Read transactions, one after the other. @default 1 */
  holds?: number;
  /** Pause between two read transactions (ms). @default 1000 */
  pauseMs?: number;
  /** Wait before the first read transaction (ms). @default 0 */
  startDelayMs?: number;
  /** Its SQLite busy timeout (ms). @default 5000 */
  timeoutMs?: number;
  /** It stops by itself after this long (ms). @default startDelayMs + holds x (holdMs + pauseMs) + 30 s */
  durationMs?: number;
}

function check(condition: boolean, option: string, expected: string, received: unknown): void {
  if (!condition) throw new InvalidOptionError(option, expected, received);
}

function checkCommon(options: CommonOptions): void {
  check(typeof options.database === 'string' && existsSync(options.database), 'database', 'the path of an existing database file', options.database);
  check(Number.isFinite(options.durationMs) && options.durationMs > 0, 'durationMs', 'a positive number of milliseconds', options.durationMs);
  if (options.timeoutMs !== undefined) check(Number.isInteger(options.timeoutMs) && options.timeoutMs >= 0, 'timeoutMs', 'an integer >= 0', options.timeoutMs);
}

function checkWriter(options: WriterOptions): void {
  checkCommon(options);
  check(typeof options.table === 'string' && isContenderTable(options.table), 'table', 'a plain table name that is not one of the engine\'s (transactions, job_log, rejected_rows, writer_*)', options.table);
  if (options.intervalMs !== undefined) check(Number.isFinite(options.intervalMs) && options.intervalMs >= 0, 'intervalMs', 'a number >= 0', options.intervalMs);
  if (options.rowsPerCommit !== undefined) check(Number.isInteger(options.rowsPerCommit) && options.rowsPerCommit >= 1, 'rowsPerCommit', 'an integer >= 1', options.rowsPerCommit);
}

function latencies(summary: ContenderReport['latency']): NeighbourLatencies {
  return { count: summary.count, p50: summary.p50, p95: summary.p95, p99: summary.p99, max: summary.max };
}

function base(kind: NeighbourKind, report: ContenderReport, commits: number, latency: ContenderReport['latency']): Figures {
  return {
    kind,
    pid: report.pid,
    elapsedMs: Math.round(report.elapsedMs),
    commits,
    commitsPerSecond: Number((commits / Math.max(0.001, report.elapsedMs / 1000)).toFixed(1)),
    errors: report.errorMessages,
    errorCount: report.errors,
    errorsByMessage: report.errorsByMessage,
    latenciesMs: latencies(latency),
  };
}

export function writerFigures(report: LegacyWriterReport): WriterFigures {
  return {
    ...base(report.kind, report, report.transactions, report.attemptLatency),
    kind: report.kind,
    rows: report.rowsCommitted,
    committedLatenciesMs: latencies(report.latency),
  };
}

function wrap<R extends ContenderReport, F extends Figures>(running: RunningContender<R>, toFigures: (report: R) => F): Neighbour<F> {
  const result = running.result.then(toFigures);
  result.catch(() => {});
  let stopping: Promise<F> | undefined;
  return {
    pid: running.pid,
    ready: running.ready,
    result,
    stop: () => {
      stopping ??= running.stop().then(toFigures);
      return stopping;
    },
  };
}

/**
 * A legacy writer as the old Node scripts were: better-sqlite3 with `timeout` (SQLite's own
 * busy handler), a deferred `BEGIN`, `rowsPerCommit` INSERTs, `COMMIT`, a pause of
 * `intervalMs`, again; no retry of its own (a failed transaction is rolled back and counted).
 *
 * @example
 * const writer = startLegacyWriter({ database, table: 'legacy_notes', durationMs: 3000 });
 * await writer.ready;
 * // ... run a backfill ...
 * const figures = await writer.stop(); // { commits, errors: [], latenciesMs: { p50, p99, max, ... }, ... }
 */
export function startLegacyWriter(options: WriterOptions): Neighbour<WriterFigures> {
  checkWriter(options);
  return wrap(startNodeWriter({
    database: options.database,
    maxMs: options.durationMs,
    pauseMs: options.intervalMs ?? 10,
    busyTimeoutMs: options.timeoutMs ?? 5000,
    writer: options.writer ?? options.table,
    table: options.table,
    rowsPerTransaction: options.rowsPerCommit ?? 20,
  }), writerFigures);
}

/** The Python script, read from the source tree (tsc does not copy it into dist/). */
export function pythonWriterScript(): string {
  const beside = fileURLToPath(new URL('./legacy_writer.py', import.meta.url));
  if (existsSync(beside)) return beside;
  return fileURLToPath(new URL('../../../bench/neighbours/legacy_writer.py', import.meta.url));
}

let pythonChecked: string | null | undefined;

/** The `python3` on PATH with its sqlite3 module, or null when there is none. */
export function findPython(): string | null {
  if (pythonChecked === undefined) {
    try {
      execFileSync('python3', ['-c', 'import sqlite3'], { stdio: 'ignore', timeout: 10_000 });
      pythonChecked = 'python3';
    } catch {
      pythonChecked = null;
    }
  }
  return pythonChecked;
}

/**
 * The same legacy writer as a real Python script: the standard library's `sqlite3` with its
 * defaults (timeout 5 s, the default `isolation_level`: a deferred BEGIN before the first
 * INSERT, `commit()`), no retry. Returns null when `python3` (with sqlite3) is not installed.
 */
export function startPythonWriter(options: WriterOptions): Neighbour<WriterFigures> | null {
  checkWriter(options);
  const python = findPython();
  if (!python) return null;
  const settings = {
    database: options.database,
    maxMs: options.durationMs,
    pauseMs: options.intervalMs ?? 10,
    busyTimeoutMs: options.timeoutMs ?? 5000,
    writer: options.writer ?? options.table,
    table: options.table,
    rowsPerTransaction: options.rowsPerCommit ?? 20,
  };
  return wrap(startContenderProcess<LegacyWriterReport>('python writer', python, [pythonWriterScript(), JSON.stringify(settings)]), writerFigures);
}

/**
 * An analytics reader: a read-only connection running a GROUP BY over `transactions` in a
 * loop, `intervalMs` apart. By default it aggregates the rows that were there when it started,
 * so each query does the same work and its latency alone and beside a backfill compare.
 */
export function startReader(options: ReaderOptions): Neighbour<ReaderFigures> {
  checkCommon(options);
  return wrap(startNodeReader({
    database: options.database,
    maxMs: options.durationMs,
    pauseMs: options.intervalMs ?? 10,
    busyTimeoutMs: options.timeoutMs ?? 5000,
    queries: options.queries ?? 'group-by',
  }), (report: ReaderReport): ReaderFigures => ({ ...base('reader', report, report.queries, report.latency), kind: 'reader' }));
}

/**
 * A notebook: `BEGIN; SELECT ...` and then nothing for `holdMs`, `holds` times, `pauseMs`
 * apart. `ready` resolves as soon as its first read transaction holds its snapshot (from then
 * on it pins the WAL: no checkpoint gets past it), `released` when the last one has ended.
 */
export function startNotebook(options: NotebookOptions): NotebookNeighbour {
  check(typeof options.database === 'string' && existsSync(options.database), 'database', 'the path of an existing database file', options.database);
  check(Number.isFinite(options.holdMs) && options.holdMs > 0, 'holdMs', 'a positive number of milliseconds', options.holdMs);
  const holds = options.holds ?? 1;
  check(Number.isInteger(holds) && holds >= 1, 'holds', 'an integer >= 1', holds);
  const pauseMs = options.pauseMs ?? 1000;
  const startDelayMs = options.startDelayMs ?? 0;
  const running = startNodeNotebook({
    database: options.database,
    maxMs: options.durationMs ?? startDelayMs + holds * (options.holdMs + pauseMs) + 30_000,
    busyTimeoutMs: options.timeoutMs ?? 5000,
    holdMs: options.holdMs,
    holds,
    pauseMs,
    startDelayMs,
  });
  let opened: () => void = () => {};
  let markReleased: () => void = () => {};
  const firstOpen = new Promise<void>((resolve) => { opened = resolve; });
  const lastRelease = new Promise<void>((resolve) => { markReleased = resolve; });
  running.onEvent((event) => {
    if (event.event === 'open') opened();
    if (event.event === 'released' && event.hold === holds) markReleased();
  });
  const failed = (what: string) => running.result.then(() => { throw new Error(`the notebook (pid ${running.pid}) ended before ${what}`); });
  const ready = Promise.race([firstOpen, failed('its first read transaction opened')]);
  // Stopped early, it lets go of its snapshot as it ends.
  const released = Promise.race([lastRelease, running.result.then(() => {})]);
  ready.catch(() => {});
  released.catch(() => {});
  const neighbour = wrap(running, (report: NotebookReport): NotebookFigures => ({
    ...base('notebook', report, report.holds.length, report.latency),
    kind: 'notebook',
    holds: report.holds.map((hold) => ({ ...hold, openMs: Number(hold.openMs.toFixed(2)), heldMs: Math.round(hold.heldMs) })),
  }));
  return { ...neighbour, ready, released };
}
