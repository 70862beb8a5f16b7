/** What one configuration's run comes to: the figures of the report, from what was measured and counted. */
import type { Engine } from '../engine.js';
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
  /** The worst reader's p99 query latency (ms). */
  p99Ms: number;
}

export interface LegacyWriterFigures {
  count: number;
  transactions: number;
  rowsCommitted: number;
  errors: number;
  errorCodes: Record<string, number>;
  /** The worst legacy writer's p50 and p99 transaction latency (ms). */
  p50Ms: number;
  p99Ms: number;
  /** Rows a legacy writer reported committed that are not in its table. */
  rowsLost: number;
}

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
  p95CommitMs: number;
  p99CommitMs: number;
  /** Peak RSS of this process (every thread) above its level before the engine started (MB). */
  memoryDeltaMB: number;
  readerQueriesPerSecond: number;
  readerErrors: number;
  legacyWriterErrors: number;
  /** Rows the engine reported committed, or of jobs it reported completed, that are not in the table. */
  rowsLost: number;
  readers: ReaderFigures;
  legacyWriters: LegacyWriterFigures;
  integrity: string;
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
  timeline: TimelinePoint[];
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
    p95CommitMs: latency.p95,
    p99CommitMs: latency.p99,
    memoryDeltaMB: Number(measured.memoryDeltaMB.toFixed(1)),
    readerQueriesPerSecond: readers.queriesPerSecond,
    readerErrors: readers.errors,
    legacyWriterErrors: legacyWriters.errors,
    rowsLost,
    readers,
    legacyWriters,
    integrity: counted.integrity,
    timeline: measured.timeline,
  };
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
    p99Ms: Math.max(0, ...reports.map((r) => r.latency.p99)),
  };
}

function legacyWriterFigures(reports: LegacyWriterReport[], counted: StoredCounts): LegacyWriterFigures {
  return {
    count: reports.length,
    transactions: reports.reduce((sum, r) => sum + r.transactions, 0),
    rowsCommitted: reports.reduce((sum, r) => sum + r.rowsCommitted, 0),
    errors: reports.reduce((sum, r) => sum + r.errors, 0),
    errorCodes: reports.reduce((codes, r) => addCodes(codes, r.errorCodes), {}),
    p50Ms: Math.max(0, ...reports.map((r) => r.latency.p50)),
    p99Ms: Math.max(0, ...reports.map((r) => r.latency.p99)),
    rowsLost: reports.reduce((sum, r) => sum + Math.max(0, r.rowsCommitted - (counted.legacyRowsByWriter.get(r.writer) ?? 0)), 0),
  };
}
