/** What one configuration's run comes to: the figures of the report, from what was measured and counted. */
import type { Engine } from '../engine/index.js';
import type { LockWaitStrategy } from '../writer/protocol.js';
import { flagsOn } from './configurations.js';
import type { LegacyWriterReport, ReaderReport } from './contenders/protocol.js';
import type { StoredCounts } from './database.js';
import type { EngineRecorder } from './engine-recorder.js';
import type { ScenarioOptions } from './scenario.js';
import { summarizeLatencies, type LatencySummary } from './stats.js';
import type { TimelinePoint } from './timeline.js';

export interface ReaderFigures {
  count: number;
  queries: number;
  queriesPerSecond: number;
  errors: number;
  errorCodes: Record<string, number>;
  errorsByMessage: Record<string, number>;
  /** The worst reader's p99 query latency (ms), and the fewest queries any reader's p99 came from. */
  p99Ms: number;
  p99Samples: number;
  /** The longest query of any reader (ms). */
  maxMs: number;
}

export interface LegacyWriterFigures {
  count: number;
  transactions: number;
  /** Transactions committed per second, over all legacy writers. */
  transactionsPerSecond: number;
  rowsCommitted: number;
  errors: number;
  errorCodes: Record<string, number>;
  errorsByMessage: Record<string, number>;
  /**
   * The worst legacy writer's p50 and p99 latency (ms) over every transaction attempt, BEGIN to
   * the end of COMMIT or to its error: a wait shows even when it ended in "database is locked".
   */
  p50Ms: number;
  p99Ms: number;
  /** The fewest attempts any writer's p99 came from. */
  p99Samples: number;
  /** The longest wait of any legacy writer's attempt (ms). */
  maxMs: number;
  /** Rows a legacy writer reported committed that are not in its table. */
  rowsLost: number;
}

/** The neighbours' verdict: a configuration that makes one fail or wait past 1 s is not recommended. */
export interface NeighbourVerdict {
  ok: boolean;
  /** What went wrong, in words, e.g. "the legacy writer waited up to 4.1 s". */
  problems: string[];
}

/** The longest a neighbour may wait for one operation before the configuration is not recommended (ms). */
export const NEIGHBOUR_WAIT_LIMIT_MS = 1000;

export interface ScenarioResult {
  name: string;
  description: string;
  flags: string[];
  lockWait: LockWaitStrategy | 'default';
  journalMode: string;
  rowsOffered: number;
  /** Rows of the workload found in the table afterwards. */
  rowsCommitted: number;
  /** rowsCommitted / rowsOffered. */
  successRate: number;
  jobs: { total: number; completed: number; failed: number; cancelled: number };
  /** Jobs that failed with a lock error: "database is locked" reaching the caller. */
  lockErrors: number;
  /** Jobs that failed for another reason. */
  otherErrors: number;
  errorSamples: string[];
  /** Attempts the writer retried after a lock error. */
  retries: number;
  /** Locks the engine counted (failed attempts and waits over its threshold). */
  locks: number;
  /** The backfill hit the time limit and was stopped. */
  timedOut: boolean;
  durationMs: number;
  rowsPerSecond: number;
  transactions: number;
  /** Lock wait + lock hold of each transaction (ms). */
  commitLatencyMs: LatencySummary;
  /** The wait for the write lock alone, per transaction (ms). */
  lockWaitMs: LatencySummary;
  p50CommitMs: number;
  /** Null when computed from too few transactions to differ from the maximum (p95 needs 20, p99 100). */
  p95CommitMs: number | null;
  p99CommitMs: number | null;
  maxCommitMs: number;
  /** Peak RSS of this process (every thread) above its level before the engine started (MB). */
  memoryDeltaMB: number;
  /** The largest the `-wal` file grew during the run (bytes, sampled every 50 ms). */
  walMaxBytes: number;
  readerQueriesPerSecond: number;
  readerErrors: number;
  legacyWriterErrors: number;
  /** Rows the engine reported committed, or of jobs it reported completed, that are not in the table. */
  rowsLost: number;
  readers: ReaderFigures;
  legacyWriters: LegacyWriterFigures;
  neighbours: NeighbourVerdict;
  integrity: string;
  /** Width of the timeline's buckets (ms). */
  timelineBucketMs: number;
  timeline: TimelinePoint[];
}

export interface Measured {
  options: ScenarioOptions;
  engine: Engine;
  recorder: EngineRecorder;
  counted: StoredCounts;
  reports: { readers: ReaderReport[]; writers: LegacyWriterReport[] };
  durationMs: number;
  memoryDeltaMB: number;
  walMaxBytes: number;
  timeline: TimelinePoint[];
  bucketMs: number;
  timedOut: boolean;
  jobs: string[];
}

export function summarize(measured: Measured): ScenarioResult {
  const { options, engine, recorder, counted, reports } = measured;
  const { configuration, workload } = options;
  const rowsCommitted = workload.jobs.reduce((sum, job) => sum + (counted.rowsByJob.get(job.jobId) ?? 0), 0);
  // A job reported completed claims all its rows; any other job claims what its commits reported.
  const rowsLost = workload.jobs.reduce((sum, job) => {
    const claimed = recorder.completedJobs.has(job.jobId) ? job.rows : (recorder.insertedByJob.get(job.jobId) ?? 0);
    return sum + Math.max(0, claimed - (counted.rowsByJob.get(job.jobId) ?? 0));
  }, 0);
  const latency = summarizeLatencies(recorder.transactionLatenciesMs);
  const readers = readerFigures(reports.readers);
  const legacyWriters = legacyWriterFigures(reports.writers, counted);
  const lockErrors = recorder.lockErrors;
  return {
    name: configuration.name,
    description: configuration.description,
    flags: flagsOn(configuration.flags),
    lockWait: options.engine?.lockWait ?? 'default',
    journalMode: counted.journalMode,
    rowsOffered: workload.rows,
    rowsCommitted,
    successRate: workload.rows === 0 ? 1 : Number((rowsCommitted / workload.rows).toFixed(4)),
    jobs: {
      total: measured.jobs.length,
      completed: measured.jobs.filter((state) => state === 'completed').length,
      failed: measured.jobs.filter((state) => state === 'failed').length,
      cancelled: measured.jobs.filter((state) => state === 'cancelled').length,
    },
    lockErrors,
    otherErrors: recorder.failures.length - lockErrors,
    errorSamples: [...new Set(recorder.failures.map((failure) => `${failure.code}: ${failure.message}`))].slice(0, 3),
    retries: engine.totals.retries,
    locks: engine.totals.lockCount,
    timedOut: measured.timedOut,
    durationMs: Math.round(measured.durationMs),
    rowsPerSecond: Math.round(rowsCommitted / (measured.durationMs / 1000)),
    transactions: latency.count,
    commitLatencyMs: latency,
    lockWaitMs: summarizeLatencies(recorder.lockWaitsMs),
    p50CommitMs: latency.p50,
    p95CommitMs: percentileShown(latency.count, 95) ? latency.p95 : null,
    p99CommitMs: percentileShown(latency.count, 99) ? latency.p99 : null,
    maxCommitMs: latency.max,
    memoryDeltaMB: Number(measured.memoryDeltaMB.toFixed(1)),
    walMaxBytes: measured.walMaxBytes,
    readerQueriesPerSecond: readers.queriesPerSecond,
    readerErrors: readers.errors,
    legacyWriterErrors: legacyWriters.errors,
    rowsLost,
    readers,
    legacyWriters,
    neighbours: neighbourVerdict(readers, legacyWriters),
    integrity: counted.integrity,
    timelineBucketMs: measured.bucketMs,
    timeline: measured.timeline,
  };
}

/**
 * True when the nearest-rank `p`th percentile of `count` samples can differ from their
 * maximum: p95 needs 20 samples, p99 100. Below that it is the maximum under another name.
 */
export function percentileShown(count: number, p: number): boolean {
  return Math.ceil((p * count) / 100) < count;
}

const seconds = (ms: number): string => (ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);

function describeErrors(count: number, byMessage: Record<string, number>): string {
  const messages = Object.entries(byMessage).map(([message, n]) => `"${message}" x${n}`).join(', ');
  return `${count} ${count === 1 ? 'error' : 'errors'}${messages ? ` (${messages})` : ''}`;
}

/** What the neighbours suffered that rules a configuration out: any error, or a wait past 1 s. */
export function neighbourVerdict(readers: ReaderFigures, writers: LegacyWriterFigures): NeighbourVerdict {
  const problems: string[] = [];
  const writer = writers.count === 1 ? 'the legacy writer' : 'the legacy writers';
  if (writers.errors > 0) problems.push(`${writer}: ${describeErrors(writers.errors, writers.errorsByMessage)}`);
  if (writers.maxMs > NEIGHBOUR_WAIT_LIMIT_MS) problems.push(`${writer} waited up to ${seconds(writers.maxMs)} for a commit`);
  const reader = readers.count === 1 ? 'the reader' : 'the readers';
  if (readers.errors > 0) problems.push(`${reader}: ${describeErrors(readers.errors, readers.errorsByMessage)}`);
  if (readers.p99Ms > NEIGHBOUR_WAIT_LIMIT_MS) problems.push(`${readers.count === 1 ? "the reader's" : "the readers'"} queries took ${seconds(readers.p99Ms)} at p99`);
  return { ok: problems.length === 0, problems };
}

function addCodes(into: Record<string, number>, codes: Record<string, number>): Record<string, number> {
  for (const [code, count] of Object.entries(codes)) into[code] = (into[code] ?? 0) + count;
  return into;
}

function readerFigures(reports: ReaderReport[]): ReaderFigures {
  return {
    count: reports.length,
    queries: reports.reduce((sum, r) => sum + r.queries, 0),
    queriesPerSecond: Math.round(reports.reduce((sum, r) => sum + r.queries / Math.max(0.001, r.elapsedMs / 1000), 0)),
    errors: reports.reduce((sum, r) => sum + r.errors, 0),
    errorCodes: reports.reduce((codes, r) => addCodes(codes, r.errorCodes), {}),
    errorsByMessage: reports.reduce((messages, r) => addCodes(messages, r.errorsByMessage), {}),
    p99Ms: Math.max(0, ...reports.map((r) => r.latency.p99)),
    p99Samples: reports.length === 0 ? 0 : Math.min(...reports.map((r) => r.latency.count)),
    maxMs: Math.max(0, ...reports.map((r) => r.latency.max)),
  };
}

function legacyWriterFigures(reports: LegacyWriterReport[], counted: StoredCounts): LegacyWriterFigures {
  return {
    count: reports.length,
    transactions: reports.reduce((sum, r) => sum + r.transactions, 0),
    transactionsPerSecond: Number(reports.reduce((sum, r) => sum + r.transactions / Math.max(0.001, r.elapsedMs / 1000), 0).toFixed(1)),
    rowsCommitted: reports.reduce((sum, r) => sum + r.rowsCommitted, 0),
    errors: reports.reduce((sum, r) => sum + r.errors, 0),
    errorCodes: reports.reduce((codes, r) => addCodes(codes, r.errorCodes), {}),
    errorsByMessage: reports.reduce((messages, r) => addCodes(messages, r.errorsByMessage), {}),
    p50Ms: Math.max(0, ...reports.map((r) => r.attemptLatency.p50)),
    p99Ms: Math.max(0, ...reports.map((r) => r.attemptLatency.p99)),
    p99Samples: reports.length === 0 ? 0 : Math.min(...reports.map((r) => r.attemptLatency.count)),
    maxMs: Math.max(0, ...reports.map((r) => r.attemptLatency.max)),
    rowsLost: reports.reduce((sum, r) => sum + Math.max(0, r.rowsCommitted - (counted.legacyRowsByWriter.get(r.writer) ?? 0)), 0),
  };
}
