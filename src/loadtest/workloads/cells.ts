/**
 * One cell of the comparison (a profile under a mix): the figures of each run, and what the
 * runs come to. Rates and latencies are medians over the runs; what went wrong (errors, lock
 * errors, rows lost, a neighbour's problem, a pragma that did not take) is counted over all of
 * them, so one bad run is never hidden by two good ones.
 */
import { planWorkload, PROFILES, type WorkloadName } from '../../flags/index.js';
import type { ConnectionPragmas } from '../contenders/protocol.js';
import { NEIGHBOUR_WAIT_LIMIT_MS, neighbourVerdict } from '../results.js';
import type { ScenarioOutcome } from '../scenario.js';
import { median } from '../stats.js';
import type { ContentionMixName, WorkloadFigureName } from './mixes.js';

/** The flags every profile runs with: the default profile's, so only the workload differs. */
export const COMPARISON_FLAGS = PROFILES.recommended;

/** The figures of one run of one cell. */
export interface WorkloadRunFigures extends Record<WorkloadFigureName, number> {
  successRate: number;
  rowsLost: number;
  /** Jobs that failed with "database is locked" reaching the caller. */
  lockErrors: number;
  /** Locks the engine counted (failed attempts, and waits over its threshold). */
  locks: number;
  readerErrors: number;
  readerP99Samples: number;
  writerErrors: number;
  writerMaxMs: number;
  writerP99Samples: number;
  timedOut: boolean;
  durationMs: number;
  /**
   * Counted faults that rule a profile out: a neighbour's error, a failed quick_check. (The
   * neighbour writer's wait is judged over the runs, in `combineRuns`; the readers' p99 not at
   * all: in WAL mode readers never wait for the writer, so their p99 is their queries' own time,
   * a figure the profiles are compared by.)
   */
  problems: string[];
  pragmas: { engine: ConnectionPragmas; readers: ConnectionPragmas[] };
  /** Pragmas of the profile that SQLite did not report back as asked. */
  pragmaProblems: string[];
}

export interface WorkloadCell {
  mix: ContentionMixName;
  profile: WorkloadName;
  runs: number;
  /** Medians over the runs. */
  engineRowsPerSecond: number;
  readerQueriesPerSecond: number;
  readerP99Ms: number;
  writerCommitsPerSecond: number;
  writerP99Ms: number;
  walMaxBytes: number;
  /** The worst run's. */
  successRate: number;
  writerMaxMs: number;
  /** The median of the runs' longest neighbour-writer waits: past 1 s, the profile is ruled out. */
  writerMaxMsMedian: number;
  /** The fewest samples any run's p99 came from (a p99 from under 100 samples is the maximum). */
  readerP99Samples: number;
  writerP99Samples: number;
  /** Totals over the runs. */
  rowsLost: number;
  lockErrors: number;
  locks: number;
  readerErrors: number;
  writerErrors: number;
  timedOut: boolean;
  /**
   * What rules the profile out: every run's counted faults (an error in any run counts), and
   * the neighbour writer's longest wait past 1 s in the median run (a wait is a time, as noisy
   * as the machine: one run on a busy machine does not decide it alone).
   */
  problems: string[];
  /** The pragmas as SQLite reported them back, in the first run (the same in every run unless `pragmaProblems` says otherwise). */
  pragmas: { engine: ConnectionPragmas; readers: ConnectionPragmas[] };
  pragmasInForce: boolean;
  pragmaProblems: string[];
  perRun: WorkloadRunFigures[];
}

type PragmaName = 'cache_size' | 'mmap_size' | 'temp_store' | 'synchronous' | 'wal_autocheckpoint';

const FIELD: Readonly<Record<PragmaName, keyof ConnectionPragmas>> = {
  cache_size: 'cacheSize', mmap_size: 'mmapSize', temp_store: 'tempStore', synchronous: 'synchronous', wal_autocheckpoint: 'walAutocheckpoint',
};

/**
 * What the profile asks of each connection, against what SQLite reported back. The engine's
 * writer runs its own checkpoints (its wal_autocheckpoint is 0), so the profile leaves that alone there.
 */
export function pragmaProblemsOf(profile: WorkloadName, pragmas: { engine: ConnectionPragmas; readers: ConnectionPragmas[] }, expectedReaders: number): string[] {
  const problems: string[] = [];
  const check = (who: string, connection: ConnectionPragmas, readonly: boolean): void => {
    const plan = planWorkload(profile, { flags: COMPARISON_FLAGS, walOn: connection.journalMode === 'wal', readonly, walAutocheckpoint: 0 });
    for (const pragma of plan.pragmas) {
      const got = connection[FIELD[pragma.name]];
      if (got !== pragma.value) problems.push(`${who}: PRAGMA ${pragma.name} is ${String(got)}, the ${profile} profile asks for ${pragma.value}`);
    }
    if (connection.journalMode !== 'wal') problems.push(`${who}: journal_mode is ${connection.journalMode}, not wal`);
  };
  check('the engine', pragmas.engine, false);
  pragmas.readers.forEach((reader, index) => check(`reader ${index + 1}`, reader, true));
  if (pragmas.readers.length !== expectedReaders) problems.push(`${pragmas.readers.length} of ${expectedReaders} readers reported their pragmas`);
  return problems;
}

export function runFiguresOf(profile: WorkloadName, outcome: ScenarioOutcome, expectedReaders: number): WorkloadRunFigures {
  const { result } = outcome;
  return {
    engineRowsPerSecond: result.rowsPerSecond,
    readerQueriesPerSecond: result.readers.queriesPerSecond,
    readerP99Ms: result.readers.p99Ms,
    readerP99Samples: result.readers.p99Samples,
    writerCommitsPerSecond: result.legacyWriters.transactionsPerSecond,
    writerP99Ms: result.legacyWriters.p99Ms,
    writerP99Samples: result.legacyWriters.p99Samples,
    writerMaxMs: result.legacyWriters.maxMs,
    walMaxBytes: result.walMaxBytes,
    successRate: result.successRate,
    rowsLost: result.rowsLost + result.legacyWriters.rowsLost,
    lockErrors: result.lockErrors,
    locks: result.locks,
    readerErrors: result.readerErrors,
    writerErrors: result.legacyWriterErrors,
    timedOut: result.timedOut,
    durationMs: result.durationMs,
    problems: [
      ...neighbourVerdict({ ...result.readers, p99Ms: 0 }, { ...result.legacyWriters, maxMs: 0 }).problems,
      ...(result.integrity === 'ok' ? [] : [`quick_check: ${result.integrity}`]),
    ],
    pragmas: outcome.connections,
    pragmaProblems: pragmaProblemsOf(profile, outcome.connections, expectedReaders),
  };
}

const MEDIAN_FIGURES = ['engineRowsPerSecond', 'readerQueriesPerSecond', 'readerP99Ms', 'writerCommitsPerSecond', 'writerP99Ms', 'walMaxBytes'] as const;

export function combineRuns(mix: ContentionMixName, profile: WorkloadName, runs: readonly WorkloadRunFigures[]): WorkloadCell {
  if (runs.length === 0) throw new RangeError(`no run of profile ${profile} under the ${mix} mix to combine`);
  const sum = (pick: (run: WorkloadRunFigures) => number): number => runs.reduce((total, run) => total + pick(run), 0);
  const medians = Object.fromEntries(MEDIAN_FIGURES.map((name) => [name, Number(median(runs.map((run) => run[name])).toFixed(2))])) as Record<(typeof MEDIAN_FIGURES)[number], number>;
  const tagged = (pick: (run: WorkloadRunFigures) => string[]): string[] => [...new Set(runs.flatMap((run, index) => pick(run).map((problem) => (runs.length > 1 ? `run ${index + 1}: ${problem}` : problem))))];
  const pragmaProblems = tagged((run) => run.pragmaProblems);
  const writerMaxMsMedian = median(runs.map((run) => run.writerMaxMs));
  const waited = writerMaxMsMedian > NEIGHBOUR_WAIT_LIMIT_MS
    ? [`the neighbour writer waited up to ${(writerMaxMsMedian / 1000).toFixed(1)} s for a commit${runs.length > 1 ? ` (median of the ${runs.length} runs' longest waits)` : ''}`]
    : [];
  return {
    mix,
    profile,
    runs: runs.length,
    ...medians,
    successRate: Math.min(...runs.map((run) => run.successRate)),
    writerMaxMs: Math.max(...runs.map((run) => run.writerMaxMs)),
    writerMaxMsMedian,
    readerP99Samples: Math.min(...runs.map((run) => run.readerP99Samples)),
    writerP99Samples: Math.min(...runs.map((run) => run.writerP99Samples)),
    rowsLost: sum((run) => run.rowsLost),
    lockErrors: sum((run) => run.lockErrors),
    locks: sum((run) => run.locks),
    readerErrors: sum((run) => run.readerErrors),
    writerErrors: sum((run) => run.writerErrors),
    timedOut: runs.some((run) => run.timedOut),
    problems: [...tagged((run) => run.problems), ...waited],
    pragmas: runs[0]!.pragmas,
    pragmasInForce: pragmaProblems.length === 0,
    pragmaProblems,
    perRun: [...runs],
  };
}

/**
 * How far apart the runs of one cell landed for a figure: (max - min) / median, 0 with one run.
 * The comparison takes the largest over a mix's cells as that mix's noise.
 */
export function spreadOf(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const middle = median(values);
  if (middle === 0) return Math.max(...values) === Math.min(...values) ? 0 : 1;
  return (Math.max(...values) - Math.min(...values)) / Math.abs(middle);
}
