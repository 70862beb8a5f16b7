/**
 * The two contention mixes `loadtest --workloads` measures each workload profile under, and
 * the figures it compares them by. A mix says who else uses the file while the engine
 * backfills: many readers and a trickle of writes, or a writer at full speed and a neighbour
 * that writes too.
 */
import type { ContentionOptions } from '../scenario.js';

export const CONTENTION_MIX_NAMES = ['read-heavy', 'write-heavy'] as const;
export type ContentionMixName = (typeof CONTENTION_MIX_NAMES)[number];

/** The figures of one run that a verdict may compare profiles by. */
export type WorkloadFigureName = 'engineRowsPerSecond' | 'readerQueriesPerSecond' | 'readerP99Ms' | 'writerCommitsPerSecond' | 'writerP99Ms' | 'walMaxBytes';

export interface WorkloadFigure {
  /** How the verdict names it: "the readers' queries/s". */
  readonly label: string;
  readonly higherIsBetter: boolean;
  /** Formats a value with its unit. */
  readonly format: (value: number) => string;
}

const integer = (value: number): string => Math.round(value).toLocaleString('en-US');

export const WORKLOAD_FIGURES: Readonly<Record<WorkloadFigureName, WorkloadFigure>> = Object.freeze({
  engineRowsPerSecond: { label: "the engine's rows/s", higherIsBetter: true, format: (v: number) => `${integer(v)} rows/s` },
  readerQueriesPerSecond: { label: "the readers' queries/s", higherIsBetter: true, format: (v: number) => `${integer(v)} queries/s` },
  readerP99Ms: { label: "the readers' p99 query time", higherIsBetter: false, format: (v: number) => `${v.toFixed(1)} ms` },
  writerCommitsPerSecond: { label: "the neighbour writer's commits/s", higherIsBetter: true, format: (v: number) => `${v.toFixed(1)} commits/s` },
  writerP99Ms: { label: "the neighbour writer's p99 commit time", higherIsBetter: false, format: (v: number) => `${integer(v)} ms` },
  walMaxBytes: { label: 'the largest WAL', higherIsBetter: false, format: (v: number) => `${(v / (1024 * 1024)).toFixed(1)} MB` },
});

export interface ContentionMix {
  readonly name: ContentionMixName;
  /** Who contends, in words, for the report. */
  readonly description: string;
  readonly contention: Readonly<ContentionOptions>;
  /**
   * Simulated latency of each page fetch (ms): the engine's own pace. In the read-heavy mix the
   * backfill trickles in, as a rate-limited one does; in the write-heavy mix it writes as fast
   * as the writer commits.
   */
  readonly sourceLatencyMs: number;
  /**
   * The share of the workload's leagues the engine backfills under this mix (at least 4, or all
   * when fewer): a trickling backfill of the whole workload would make this mix's runs minutes long.
   */
  readonly leagueShare: number;
  /** The figure that decides between profiles under this mix. */
  readonly decidingFigure: WorkloadFigureName;
  /** A second figure the verdict reports beside the deciding one, so a gain paid for elsewhere shows. */
  readonly secondFigure: WorkloadFigureName;
}

export const CONTENTION_MIXES: Readonly<Record<ContentionMixName, ContentionMix>> = Object.freeze({
  'read-heavy': {
    name: 'read-heavy',
    description: '3 readers running the analytics queries in a loop (10 ms pause), a neighbour writer committing 20 rows every 250 ms, the engine fetching at 20 ms a page',
    contention: { readers: 3, legacyWriters: 1, readerPauseMs: 10, legacyPauseMs: 250, legacyRowsPerTransaction: 20, neighbourTimeoutMs: 5000 },
    sourceLatencyMs: 20,
    leagueShare: 0.25,
    decidingFigure: 'readerQueriesPerSecond',
    secondFigure: 'readerP99Ms',
  },
  'write-heavy': {
    name: 'write-heavy',
    description: 'the engine backfilling as fast as it commits, a legacy-style writer process committing 20 rows every 10 ms, 1 reader',
    contention: { readers: 1, legacyWriters: 1, readerPauseMs: 10, legacyPauseMs: 10, legacyRowsPerTransaction: 20, neighbourTimeoutMs: 5000 },
    sourceLatencyMs: 0,
    leagueShare: 1,
    decidingFigure: 'engineRowsPerSecond',
    secondFigure: 'writerCommitsPerSecond',
  },
});

/** The leagues the engine backfills under `mix` when the workload has `leagues`. */
export function mixLeagues(mix: ContentionMix, leagues: number): number {
  return Math.min(leagues, Math.max(4, Math.ceil(leagues * mix.leagueShare)));
}
