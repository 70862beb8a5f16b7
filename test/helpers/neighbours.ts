/**
 * The engine's neighbours as real processes, for tests: the same processes the neighbours
 * benchmark runs (bench/neighbours.ts), with short timings. Each returns
 * `{ pid, ready, result, stop() }`:
 *
 * - `pid`: the process id, known at once (what a lock-holder list or a WAL-pin alert names).
 * - `ready`: writers and reader: the connection is open and the first operation starts now;
 *   notebook: its first read transaction holds its snapshot (it pins the WAL from then on).
 * - `result`: its {@link Figures} once it has ended: after `durationMs`, or after `stop()`.
 * - `stop()`: ends it after its current operation and resolves with its figures (idempotent).
 *
 * Figures: `{ kind, pid, elapsedMs, commits, commitsPerSecond, errors: string[] (each failed
 * operation's message, e.g. "database is locked"), errorCount, errorsByMessage,
 * latenciesMs: { count, p50, p95, p99, max } }`. For writers, `latenciesMs` covers every
 * attempt from BEGIN to the end of COMMIT or to its error, so a wait shows even when it ended
 * in an error; `committedLatenciesMs` only the committed ones, `rows` the rows committed.
 *
 * - {@link startLegacyWriter}`({ database, table, intervalMs = 10, rowsPerCommit = 20, durationMs, timeoutMs = 5000 })`:
 *   Node, better-sqlite3 with SQLite's own busy handler, deferred `BEGIN`, no retry, into its
 *   own `table` (created when missing; the engine's tables are refused).
 * - {@link startPythonWriter}`(same options)`: the same as a Python `sqlite3` script with its
 *   defaults; `null` when python3 is missing.
 * - {@link startReader}`({ database, durationMs, intervalMs = 10, queries = 'group-by' })`: a
 *   read-only GROUP BY over the rows of `transactions` present when it started, in a loop.
 * - {@link startNotebook}`({ database, holdMs, holds = 1, pauseMs = 1000, startDelayMs = 0 })`:
 *   `BEGIN; SELECT ...` held for `holdMs`, `holds` times; also `released`, resolved when its
 *   last read transaction has ended. Its figures carry `holds: [{ openMs, heldMs,
 *   walBytesAtOpen, walBytesAtRelease }]`.
 *
 * The processes run from the build (`npm run build` first). Each exits by itself after its
 * duration and when the test process dies; still, stop every one in the test's cleanup.
 *
 * @example
 * const writer = startLegacyWriter({ database, table: 'legacy_notes', durationMs: 5000, timeoutMs: 5000 });
 * const notebook = startNotebook({ database, holdMs: 1500 });
 * await Promise.all([writer.ready, notebook.ready]);
 * // ... backfill beside them; expect an alert naming notebook.pid ...
 * const figures = await writer.stop();
 * expect(figures.errors).toEqual([]);
 * expect(figures.latenciesMs.max).toBeLessThan(1000);
 */
export {
  findPython, startLegacyWriter, startNotebook, startPythonWriter, startReader,
} from '../../bench/neighbours/spawners.js';
export type {
  Figures, Neighbour, NeighbourKind, NeighbourLatencies, NotebookFigures, NotebookNeighbour, NotebookOptions, ReaderFigures, ReaderOptions, WriterFigures, WriterOptions,
} from '../../bench/neighbours/spawners.js';
