/**
 * What the engine reports: the typed event map (one line per event), and the shapes its events
 * and its write API carry.
 */
import type { EventEmitter } from 'eventemitter3';
import type { BackfillError } from '../errors.js';
import type { JobHandle, JobSummary } from '../queue/job.js';
import type { BatchResult, CheckpointInfo, ExecResult, LockInfo, TransactionMode } from '../writer/protocol.js';

export type AlertLevel = 'info' | 'warning' | 'critical';

export interface Alert {
  level: AlertLevel;
  message: string;
  figures: Record<string, number | string>;
}

export interface BatchCommittedEvent extends BatchResult {}

export interface EngineEvents {
  /** A job was accepted and waits for a slot. */
  'job:queued': [job: JobHandle];
  /** A job started fetching, from `cursor`. */
  'job:started': [job: JobHandle, cursor: number];
  /** A page of a job was committed. */
  'job:progress': [summary: JobSummary];
  'job:completed': [summary: JobSummary];
  'job:failed': [summary: JobSummary, error: BackfillError];
  /** A batch and its job's cursor were committed. */
  'batch:committed': [event: BatchCommittedEvent];
  /** Another process held the lock: an attempt failed, or waited longer than the threshold. */
  lock: [info: LockInfo];
  /** A locked operation is retried after `delayMs`. */
  retry: [info: LockInfo];
  alert: [alert: Alert];
  checkpoint: [info: CheckpointInfo];
  /** Every job enqueued so far has ended and every batch is committed. */
  drained: [];
  closed: [];
  /** A fault no caller can receive: the writer thread died, or an event listener threw. */
  error: [error: Error];
}

export interface SubmitRequest {
  sql: string;
  /** One parameter list per execution; all run in one transaction. @default [[]] */
  params?: unknown[][];
  /** @default 'immediate' */
  mode?: TransactionMode;
}

/** The statements of a `serializable()` transaction, run on the writer's connection. */
export interface TransactionHandle {
  run(sql: string, params?: unknown[]): Promise<ExecResult>;
  all<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
}

export interface RunTotals {
  jobs: number;
  completed: number;
  failed: number;
  cancelled: number;
  skipped: number;
  rowsFetched: number;
  rowsInserted: number;
  rowsIgnored: number;
  rowsRejected: number;
  lockCount: number;
  retries: number;
  maxRetryCount: number;
  totalRetryTime: number;
  transactions: number;
  maxLockHoldMs: number;
}

/** How the engine's parts report: the engine's own `emit`, which keeps a throwing listener from reaching them. */
export type EmitEngineEvent = <T extends keyof EngineEvents>(event: T, ...args: EventEmitter.ArgumentMap<EngineEvents>[Extract<T, keyof EngineEvents>]) => boolean;
