/**
 * The engine: fetch workers -> bounded queue -> the single writer thread, and the typed events
 * that report on all of it. Everything the command line does goes through this class; the
 * jobs run in job-runner.ts, the group commits in pump.ts, the alert rules in alerts.ts.
 */
import { setMaxListeners } from 'node:events';
import { EventEmitter } from 'eventemitter3';
import { BackfillError, ClosedError, InvalidOptionError } from '../errors.js';
import { effectiveFlags, loadFlags, resolveFlagsPath, type Flags, type WorkloadName } from '../flags/index.js';
import { assertSqliteVersionSafe } from '../db/sqlite-version.js';
import type { AppliedSettings } from '../db/open.js';
import type { Logger } from '../logger.js';
import { BatchQueue } from '../queue/batch-queue.js';
import type { JobHandle, JobRequest } from '../queue/job.js';
import type { FetchTransport } from '../workers/transport.js';
import { WriterHandle } from '../writer/writer.js';
import {
  CHECKPOINT_MODES, TRANSACTION_MODES, type CheckpointInfo, type CheckpointMode, type ExecResult, type TransactionMode,
} from '../writer/protocol.js';
import { Alerts } from './alerts.js';
import type { EmitEngineEvent, EngineEvents, RunTotals, SubmitRequest, TransactionHandle } from './events.js';
import { JobRunner } from './job-runner.js';
import { resolveEngineOptions, validateFlagsObject, type EngineOptions, type ResolvedEngineOptions } from './options.js';
import { runPump, type QueuedBatch } from './pump.js';

/**
 * Creates an engine: opens (and migrates) the database in the writer thread and starts the
 * fetch workers. Fails with a typed error when the flags file or the database is bad.
 */
export async function createEngine(options: EngineOptions): Promise<Engine> {
  const resolved = resolveEngineOptions(options);
  let flags: Flags;
  let workload: WorkloadName = 'mixed';
  let flagsFile: string | null = null;
  if (typeof resolved.flags === 'object') {
    flags = validateFlagsObject(resolved.flags);
  } else {
    flagsFile = resolveFlagsPath({ flagsPath: resolved.flags, databasePath: resolved.database });
    const state = await loadFlags(flagsFile);
    flags = state.flags;
    workload = state.workload;
    if (!state.exists) resolved.logger.info({ flagsFile }, 'no flags file: running the recommended profile');
  }
  // SQLite 3.7.0 to 3.51.2 can lose committed writes in WAL mode (the WAL-reset bug): refuse
  // to start over such a library rather than find out from a missing row.
  assertSqliteVersionSafe({ walMode: effectiveFlags(flags).wal_mode, ...(options.sqliteVersion !== undefined ? { version: options.sqliteVersion } : {}) });
  const writer = await WriterHandle.start({ ...resolved.writer, flags, workload, logLevel: resolved.logger.level }, resolved.logger.child({ component: 'writer' }));
  let transport: FetchTransport;
  try {
    transport = await resolved.transport({ workers: resolved.workers, requestsPerSecond: resolved.requestsPerSecond, heapLimitMb: resolved.workerHeapLimitMb, niceIncrement: resolved.workerNice });
  } catch (error) {
    await writer.close().catch(() => undefined);
    throw error;
  }
  return new Engine(resolved, writer, transport, flagsFile);
}

export class Engine extends EventEmitter<EngineEvents> implements AsyncDisposable {
  readonly #logger: Logger;
  readonly #writer: WriterHandle;
  readonly #pool: FetchTransport;
  readonly #queue: BatchQueue<QueuedBatch>;
  readonly #stopping = new AbortController();
  readonly #runner: JobRunner;
  readonly #alerts: Alerts;
  readonly #pump: Promise<void>;
  #closing: Promise<void> | undefined;
  readonly totals: RunTotals = {
    jobs: 0, completed: 0, failed: 0, cancelled: 0, skipped: 0, rowsFetched: 0, rowsInserted: 0, rowsIgnored: 0,
    rowsRejected: 0, lockCount: 0, retries: 0, maxRetryCount: 0, totalRetryTime: 0, transactions: 0, maxLockHoldMs: 0,
  };
  /** The flags file read at start, or null when flags were given as an object. */
  readonly flagsFile: string | null;

  /** @internal use `createEngine()` */
  constructor(options: ResolvedEngineOptions, writer: WriterHandle, transport: FetchTransport, flagsFile: string | null) {
    super();
    this.#logger = options.logger;
    this.#writer = writer;
    this.flagsFile = flagsFile;
    this.#queue = new BatchQueue({ maxRows: options.queueMaxRows });
    this.#pool = transport;
    // Every running job listens to this signal; their number is bounded by `concurrency`.
    setMaxListeners(0, this.#stopping.signal);
    // eventemitter3 does not throw on an unheard 'error': log it so a fault is never silent.
    this.on('error', (error) => this.#logger.error({ err: error }, 'engine error'));
    const failedJobs = new Set<string>();
    const emit: EmitEngineEvent = this.emit.bind(this);
    this.#runner = new JobRunner({
      options, writer, transport, queue: this.#queue, stopping: this.#stopping.signal, failedJobs, totals: this.totals, logger: this.#logger, emit,
    });
    this.#alerts = new Alerts({
      now: () => Date.now(),
      log: (level, figures, message) => this.#logger[level](figures, message),
      store: (alert) => void writer.recordAlert(alert).catch(() => undefined),
      emit: (alert) => this.emit('alert', alert),
    });
    writer.on('lock', (info) => {
      this.totals.lockCount++;
      this.emit('lock', info);
      this.#alerts.onLock();
    });
    writer.on('retry', (info) => {
      this.totals.retries++;
      this.emit('retry', info);
    });
    writer.on('operation', (info) => {
      // The run's retry figures come from operations that met a lock, as job_log's do.
      this.totals.maxRetryCount = Math.max(this.totals.maxRetryCount, info.attempts - 1);
      this.totals.totalRetryTime += info.waitMs / 1000;
      this.#alerts.onOperation(info);
    });
    writer.on('checkpoint', (info) => this.emit('checkpoint', info));
    // The writer raised and stored these already.
    writer.on('alert', (alert) => this.#alerts.raise({ level: alert.level, message: alert.message, figures: alert.figures }, false));
    writer.on('error', (error) => this.emit('error', error));
    this.#pump = runPump({ queue: this.#queue, writer, groupMaxRows: options.groupMaxRows, failedJobs, totals: this.totals });
  }

  /**
   * Every event goes out through here. A listener that throws is the listener's fault: it is
   * reported as `'error'` and never reaches the code that emitted, so it cannot turn a
   * committed batch or a completed job into a failure, nor end the process as an unhandled
   * rejection (BullMQ's QueueBase.emit does the same).
   */
  override emit<T extends keyof EngineEvents>(event: T, ...args: EventEmitter.ArgumentMap<EngineEvents>[Extract<T, keyof EngineEvents>]): boolean {
    try {
      return super.emit(event, ...args);
    } catch (error) {
      if (event === 'error') {
        this.#logger.error({ err: error }, 'an error listener threw');
        return true;
      }
      const wrapped = new BackfillError('ERR_INTERNAL', `A listener of '${String(event)}' threw: ${(error as Error)?.message ?? String(error)}`, { cause: error });
      try {
        super.emit('error', wrapped);
      } catch (listenerError) {
        this.#logger.error({ err: listenerError }, 'an error listener threw');
      }
      return true;
    }
  }

  /** The pragmas as SQLite reported them back, and the flags as they took effect. */
  get settings(): AppliedSettings {
    return this.#writer.settings;
  }

  get flags(): Flags {
    return this.#writer.settings.effectiveFlags;
  }

  /** Adds a job (one league, one season). It starts when a slot is free; `done` settles when it ends. */
  enqueue(request: JobRequest): JobHandle {
    this.#assertOpen();
    return this.#runner.enqueue(request);
  }

  /** Runs any write through the engine's single writer, in one transaction, retried on locks like the engine's own. */
  async submit(request: SubmitRequest): Promise<ExecResult> {
    this.#assertOpen();
    if (typeof request?.sql !== 'string' || request.sql.trim() === '') throw new InvalidOptionError('sql', 'a SQL statement', request?.sql);
    const params = request.params ?? [];
    if (!Array.isArray(params) || !params.every(Array.isArray)) throw new InvalidOptionError('params', 'an array of parameter arrays', params);
    const mode = request.mode ?? 'immediate';
    if (!TRANSACTION_MODES.includes(mode)) throw new InvalidOptionError('mode', "'deferred', 'immediate' or 'exclusive'", mode);
    // Without isolation_levels every write uses the engine's default transaction.
    return this.#writer.exec(request.sql, params, this.flags.isolation_levels ? mode : 'immediate');
  }

  /**
   * Runs `fn` in one transaction on the writer's connection: EXCLUSIVE by default, so nothing
   * else writes in between (and, outside WAL mode, nothing reads). The writer serves no other
   * write until `fn` settles: commit when it resolves, rollback when it throws. With the
   * `isolation_levels` flag off, the mode is the engine's default (IMMEDIATE).
   */
  async serializable<T>(fn: (tx: TransactionHandle) => Promise<T>, options: { mode?: TransactionMode; timeoutMs?: number } = {}): Promise<T> {
    this.#assertOpen();
    if (typeof fn !== 'function') throw new InvalidOptionError('fn', 'an async function that receives the transaction', fn);
    const mode = this.flags.isolation_levels ? options.mode ?? 'exclusive' : 'immediate';
    if (!TRANSACTION_MODES.includes(mode)) throw new InvalidOptionError('mode', "'deferred', 'immediate' or 'exclusive'", mode);
    const timeoutMs = options.timeoutMs ?? 30_000;
    const writer = this.#writer;
    // Every statement carries the session's id: one that arrives after the session timed out
    // fails with ERR_TRANSACTION_CLOSED instead of running inside the next caller's transaction.
    const session = await writer.beginTransaction(mode, timeoutMs);
    const tx: TransactionHandle = {
      run: async (sql, params = []) => (await writer.runInTransaction(session, sql, params, false)) as ExecResult,
      all: async <R>(sql: string, params: unknown[] = []) => (await writer.runInTransaction(session, sql, params, true)) as R[],
    };
    let result: T;
    try {
      result = await fn(tx);
    } catch (error) {
      await writer.endTransaction(session, false).catch(() => undefined);
      throw error;
    }
    // A session that timed out was rolled back: this rejects, and the caller learns it did not commit.
    await writer.endTransaction(session, true);
    return result;
  }

  /** Checkpoints the WAL through the writer's connection. */
  checkpoint(mode: CheckpointMode = 'PASSIVE'): Promise<CheckpointInfo> {
    this.#assertOpen();
    if (!CHECKPOINT_MODES.includes(mode)) throw new InvalidOptionError('mode', 'PASSIVE, FULL, RESTART or TRUNCATE', mode);
    return this.#writer.checkpoint(mode);
  }

  /** Resolves once every job enqueued so far has ended (completed, failed or cancelled). */
  async drain(): Promise<void> {
    await this.#runner.settled();
    this.emit('drained');
  }

  /**
   * Stops fetching, lets the writer commit every batch already fetched, marks unfinished jobs
   * `cancelled` (they resume on the next run), checkpoints, closes the threads. Idempotent.
   */
  close(options: { timeoutMs?: number } = {}): Promise<void> {
    const timeoutMs = options.timeoutMs;
    if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs < 0)) {
      throw new InvalidOptionError('timeoutMs', 'a number of ms >= 0', timeoutMs);
    }
    this.#closing ??= this.#shutdown();
    if (timeoutMs === undefined) return this.#closing;
    // Past the timeout, stop waiting for anything: the writer's open transaction rolls back
    // (every batch is one transaction, so nothing is half-written) and unfinished jobs stay
    // resumable in job_log.
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#logger.warn({ timeoutMs }, 'close timed out; stopping the threads without waiting');
        void this.#forceStop().then(resolve, reject);
      }, timeoutMs);
      this.#closing!.then(() => {
        clearTimeout(timer);
        resolve();
      }, (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  async #forceStop(): Promise<void> {
    await this.#writer.abort().catch(() => undefined);
    await Promise.allSettled([this.#pool.close(), this.#writer.terminate()]);
    this.#queue.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- closing ------------------------------------------------------------------------------

  #assertOpen(): void {
    if (this.#closing) throw new ClosedError('The engine');
  }

  async #shutdown(): Promise<void> {
    this.#stopping.abort(new BackfillError('ERR_ABORTED', 'The engine is closing'));
    this.#runner.cancelWaiting();
    const steps: Array<[string, () => Promise<unknown>]> = [
      ['jobs', () => this.#runner.allEnded()],
      ['queue', async () => {
        this.#queue.close();
        await this.#pump;
      }],
      ['fetch pool', () => this.#pool.close()],
      ['writer', () => this.#writer.close()],
    ];
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (error) {
        this.#logger.warn({ err: error, step: name }, 'a close step failed; continuing');
      }
    }
    this.emit('closed');
  }
}
