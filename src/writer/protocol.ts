/**
 * The messages between the main thread and the writer thread, in one place. Everything here
 * crosses `postMessage`, so it is plain data: no classes, errors as `SerializedError`.
 */
import type { SerializedError } from '../errors.js';
import type { Flags, WorkloadName } from '../flags/index.js';
import type { AppliedSettings } from '../db/open.js';
import type { MigrationResult, TableNames } from '../db/schema.js';
import type { RejectedRecord } from '../model/index.js';
import type { LockWaitStrategy } from '../db/locking/lock-waiters.js';
import type { RetryPolicy } from '../db/locking/retry-policy.js';

/** How the writer waits for a lock another process holds (see lock-wait.ts). */
// Defined with the code that waits for locks and retries, and shared with the thread's callers.
export { LOCK_WAIT_STRATEGIES } from '../db/locking/lock-waiters.js';
export type { LockWaitStrategy } from '../db/locking/lock-waiters.js';
export type { RetryPolicy } from '../db/locking/retry-policy.js';

export const TRANSACTION_MODES = ['deferred', 'immediate', 'exclusive'] as const;
export type TransactionMode = (typeof TRANSACTION_MODES)[number];

export const CHECKPOINT_MODES = ['PASSIVE', 'FULL', 'RESTART', 'TRUNCATE'] as const;
export type CheckpointMode = (typeof CHECKPOINT_MODES)[number];

export interface WriterConfig {
  path: string;
  flags: Flags;
  /** The flags file's workload profile. */
  workload: WorkloadName;
  tables: TableNames;
  createFolder: boolean;
  busyTimeoutMs: number;
  lockWait: LockWaitStrategy;
  /** With `fair-poll`: the longest the writer polls for the lock before one attempt counts as failed. */
  lockWaitDeadlineMs: number;
  /** A wait for the write lock longer than this counts as a lock, even when it ended in success. */
  lockWaitThresholdMs: number;
  retry: RetryPolicy;
  /** Most time one transaction may hold the write lock before the writer commits and starts another. */
  transactionBudgetMs: number;
  /** The gap left with the lock free after each transaction while other processes use the file (ms); 0: never. */
  neighbourGapMs: number;
  /** WAL size (bytes) above which the writer checkpoints between transactions. */
  checkpointThresholdBytes: number;
  journalSizeLimit: number;
  walAutocheckpointPages: number;
  logLevel: string;
}

/** A batch of at most 100 rows of one job, and where the job stands once it is committed. */
export interface BatchMessage {
  jobId: string;
  /** The job's season and its league's key across seasons: stored on every row for analysis. */
  season: number;
  leagueSeries: string;
  /**
   * Rows as the JSON of `RowTuple[]`, UTF-8 bytes or text. Bytes are moved to the writer thread
   * (transferred, not copied); an array of row objects would be cloned key by key, which costs
   * several times more (see bench/).
   */
  rows: string | Uint8Array;
  rowCount: number;
  rejected: RejectedRecord[];
  /** The job's cursor once this batch is committed; null for a batch that does not end a page. */
  cursor: number | null;
  /** True when this batch ends the job's last page: the job is complete once it commits. */
  final: boolean;
}

export interface BatchResult {
  jobId: string;
  rowCount: number;
  inserted: number;
  ignored: number;
  rejected: number;
  /** Attempts the transaction that committed this batch needed (1 = no retry). */
  attempts: number;
  waitMs: number;
  commitMs: number;
}

export interface JobStartRequest {
  jobId: string;
  leagueKey: string;
  season: number;
  source: string;
  force: boolean;
  /** The league holds rows from another source: delete this job's rows of it and start over instead of refusing. */
  replaceSource: boolean;
}

export interface JobStartResult {
  /** The job was already completed (and `force` was off): nothing to do. */
  alreadyCompleted: boolean;
  /** Where fetching resumes. */
  cursor: number;
  /** Attempts that recording the start needed (1: no lock met). */
  attempts: number;
}

export interface ExecResult {
  changes: number;
  /** The rowid of the last row inserted; absent when no statement inserted a row. */
  lastInsertRowid?: number;
}

export interface AlertRecord {
  level: 'info' | 'warning' | 'critical';
  message: string;
  figures: Record<string, number | string>;
}

export type WriterRequest =
  | { type: 'commit'; id: number; batches: BatchMessage[] }
  | { type: 'job:start'; id: number; job: JobStartRequest }
  | { type: 'job:end'; id: number; jobId: string; status: 'failed' | 'cancelled'; error: string | null }
  | { type: 'exec'; id: number; sql: string; params: unknown[][]; mode: TransactionMode }
  | { type: 'checkpoint'; id: number; mode: CheckpointMode }
  /**
   * Opens an interactive transaction: the writer takes nothing else until `tx:end` (or the
   * timeout). It answers with the session's id, which every later message of it must carry.
   */
  | { type: 'tx:begin'; id: number; mode: TransactionMode; timeoutMs: number }
  | { type: 'tx:run'; id: number; sessionId: number; sql: string; params: unknown[]; returnRows: boolean }
  | { type: 'tx:end'; id: number; sessionId: number; commit: boolean }
  /** An alert raised in the main thread, stored with the writer's own for other processes to read. */
  | { type: 'alert'; id: number; alert: AlertRecord }
  /** Served at once, outside the queue: stop waiting (backoff, lock waits) and fail what waits. */
  | { type: 'abort'; id: number }
  | { type: 'close'; id: number };

/** What each request answers with: WriterHandle's promises are typed by it, with no casts. */
export interface WriterResponses {
  commit: CommitResult;
  'job:start': JobStartResult;
  'job:end': { attempts: number };
  exec: ExecResult;
  checkpoint: CheckpointInfo;
  'tx:begin': { sessionId: number };
  'tx:run': ExecResult | Array<Record<string, unknown>>;
  'tx:end': null;
  alert: null;
  abort: null;
  close: null;
}

export interface CheckpointInfo {
  mode: string;
  busy: boolean;
  walPages: number;
  checkpointedPages: number;
  walBytesBefore: number;
  /** The WAL file's size after a `TRIM` (the transaction that cuts the file back to its limit). */
  walBytesAfter?: number;
  durationMs: number;
}

export interface LockInfo {
  operation: string;
  attempt: number;
  delayMs: number;
  waitMs: number;
  jobIds: string[];
  code: string;
  /** The other processes holding a write-side lock on the database when it was seen (Linux). */
  holders: Array<{ pid: number; command: string; lock: string }>;
}

/** One write operation that met a lock, once it is over: the figures that count it, defined once. */
export interface OperationInfo {
  operation: string;
  /** Attempts made (1: the first one got the lock, after a wait). */
  attempts: number;
  /** Time spent waiting for the write lock, busy waits and backoff included (ms). */
  waitMs: number;
  ok: boolean;
  /** The job the waits are charged to in job_log (none for submitted writes). */
  jobId: string | null;
}

export type WriterNotice =
  | { type: 'ready'; settings: AppliedSettings; migration: MigrationResult | null }
  | { type: 'fatal'; error: SerializedError }
  | { type: 'result'; id: number; ok: true; value: unknown }
  | { type: 'result'; id: number; ok: false; error: SerializedError }
  | { type: 'lock'; info: LockInfo }
  | { type: 'retry'; info: LockInfo }
  | { type: 'operation'; info: OperationInfo }
  | { type: 'checkpoint'; info: CheckpointInfo }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; message: string; data?: Record<string, unknown> }
  | { type: 'alert'; level: 'info' | 'warning' | 'critical'; message: string; figures: Record<string, number | string> };

export type BatchOutcome = ({ ok: true } & BatchResult) | { ok: false; jobId: string; error: SerializedError };

export interface CommitResult {
  /**
   * One outcome per batch of the group, in order: the batches the writer kept from the group
   * before, then those sent. A failed transaction fails only its own batches. Batches past the
   * last outcome were not written: the writer keeps them and writes them first in the next
   * commit (beside other processes, a group's tail that did not fit its transaction waits for
   * the next one rather than cost a gap of its own).
   */
  outcomes: BatchOutcome[];
  /** How many transactions the group took (more than one when the time budget cut it). */
  transactions: number;
  /** The longest any of them held the write lock. */
  maxHoldMs: number;
}
