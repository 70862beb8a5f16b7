/**
 * How far a backfill is, on one status line at the bottom of the terminal (log lines and
 * messages are written above it), or as a log line every few seconds when stderr is not a
 * terminal. A job already complete before the run counts as done, as it does in the summary, so
 * a resumed run that succeeds ends at 100 %; failed and cancelled jobs are shown as such.
 */
import type { Logger } from '../index.js';
import type { TerminalLines } from './output.js';

export interface ProgressCounts {
  /** Jobs in the run. */
  jobs: number;
  /** Completed in this run. */
  completed: number;
  /** Already complete before this run (skipped). */
  alreadyComplete: number;
  failed: number;
  cancelled: number;
  rows: number;
  locks: number;
}

export interface ProgressOptions {
  /** Status line on a terminal (`bar`), periodic log lines (`log`), or nothing. */
  mode: 'bar' | 'log' | 'none';
  lines: TerminalLines;
  logger: Logger;
  read: () => ProgressCounts;
  /** @default 200 */
  redrawMs?: number;
  /** @default 5000 */
  logEveryMs?: number;
  /** When the run started (performance.now()), so rows per second is reckoned as in the summary. @default now */
  startedAt?: number;
}

export interface Progress {
  /** Draws the final state (it agrees with the summary) and leaves it on screen. Idempotent. */
  stop(): void;
}

export function startProgress(options: ProgressOptions): Progress {
  const started = options.startedAt ?? performance.now();
  const elapsed = (): number => performance.now() - started;
  if (options.mode === 'none') return { stop: () => {} };
  if (options.mode === 'log') {
    const timer = setInterval(() => {
      const counts = options.read();
      options.logger.info({ ...progressFigures(counts), elapsedS: Math.round(elapsed() / 100) / 10 }, 'backfill progress');
    }, options.logEveryMs ?? 5000);
    timer.unref();
    return { stop: () => clearInterval(timer) };
  }
  const draw = (): void => options.lines.status(formatProgressLine(options.read(), elapsed(), options.lines.columns));
  draw();
  const timer = setInterval(draw, options.redrawMs ?? 200);
  timer.unref();
  let stopped = false;
  return {
    stop: () => {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      draw();
      options.lines.endStatus(true);
    },
  };
}

/** The figures of a progress log line, named as in the summary. */
export function progressFigures(counts: ProgressCounts): Record<string, number> {
  return {
    jobsDone: counts.completed + counts.alreadyComplete,
    jobs: counts.jobs,
    completed: counts.completed,
    alreadyComplete: counts.alreadyComplete,
    failed: counts.failed,
    cancelled: counts.cancelled,
    rowsFetched: counts.rows,
    locks: counts.locks,
  };
}

const n = (value: number): string => value.toLocaleString('en-US');

/**
 * `backfill ██████████░░░░░░░░░░  50 % 12/24 jobs done (4 already complete) | 2 cancelled | 12,345 rows, 6,100/s | 0 locks | 2.0 s`
 * (already complete, failed and cancelled only when there are some).
 */
export function formatProgressLine(counts: ProgressCounts, elapsedMs: number, columns = 120): string {
  const done = counts.completed + counts.alreadyComplete;
  const share = counts.jobs === 0 ? 1 : Math.min(1, done / counts.jobs);
  const width = columns >= 100 ? 20 : 10;
  const filled = Math.round(share * width);
  const seconds = elapsedMs / 1000;
  const parts = [
    `backfill ${'\u2588'.repeat(filled)}${'\u2591'.repeat(width - filled)} ${String(Math.floor(share * 100)).padStart(3)} % ${n(done)}/${n(counts.jobs)} jobs done` +
      (counts.alreadyComplete > 0 ? ` (${n(counts.alreadyComplete)} already complete)` : ''),
    ...(counts.failed > 0 ? [`${n(counts.failed)} failed`] : []),
    ...(counts.cancelled > 0 ? [`${n(counts.cancelled)} cancelled`] : []),
    `${n(counts.rows)} rows, ${n(Math.round(counts.rows / Math.max(0.001, seconds)))}/s`,
    `${n(counts.locks)} locks`,
    `${seconds.toFixed(1)} s`,
  ];
  return parts.join(' | ');
}
