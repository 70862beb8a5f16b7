import { Worker } from 'node:worker_threads';
import { EventEmitter } from 'eventemitter3';
import { ClosedError, deserializeError, BackfillError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { AppliedSettings } from '../db/open.js';
import type { MigrationResult } from '../db/schema.js';
import type {
  AlertRecord,
  BatchMessage,
  CheckpointInfo,
  CheckpointMode,
  CommitResult,
  ExecResult,
  JobStartRequest,
  JobStartResult,
  LockInfo,
  OperationInfo,
  TransactionMode,
  WriterConfig,
  WriterNotice,
  WriterRequest,
  WriterResponses,
} from './protocol.js';

export interface WriterHandleEvents {
  lock: [info: LockInfo];
  alert: [alert: { level: 'info' | 'warning' | 'critical'; message: string; figures: Record<string, number | string> }];
  retry: [info: LockInfo];
  /** An operation that met a lock is over: its attempts and its whole wait. */
  operation: [info: OperationInfo];
  checkpoint: [info: CheckpointInfo];
  /** A fault no caller can receive: the writer thread died. */
  error: [error: Error];
}

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void };
type RequestType = WriterRequest['type'];
type RequestBody<T extends RequestType> = Omit<Extract<WriterRequest, { type: T }>, 'id' | 'type'>;

/**
 * The main thread's handle on the writer thread: requests become promises, notices become
 * events. The connection itself lives in the thread, so this object holds no SQLite state.
 */
export class WriterHandle extends EventEmitter<WriterHandleEvents> {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  readonly #logger: Logger;
  #nextId = 1;
  #closing: Promise<void> | undefined;
  #exited = false;
  settings!: AppliedSettings;
  migration: MigrationResult | null = null;

  private constructor(config: WriterConfig, logger: Logger) {
    super();
    this.#logger = logger;
    // The writer holds one group of batches at a time: a bounded heap keeps its footprint flat.
    this.#worker = new Worker(new URL('./writer-thread.js', import.meta.url), {
      workerData: config,
      // The writer receives each group as up to 10,000 rows of JSON and decodes them: with an
      // 8 MB young generation they lived through a scavenge or two and were promoted, and GC
      // took a tenth of the writer's time. With 24 MB a group dies young: 303,094 rows in a
      // median 6.9 s against 7.8 s (3 interleaved runs), as fast as 32 MB, whose extra heap took
      // a 1,000,000-row backfill's peak from 185 to 204 MB (docs/performance.md).
      resourceLimits: { maxYoungGenerationSizeMb: 24, maxOldGenerationSizeMb: 128 },
    });
  }

  /** Starts the writer thread and resolves once its connection is open and migrated. */
  static async start(config: WriterConfig, logger: Logger): Promise<WriterHandle> {
    const handle = new WriterHandle(config, logger);
    await new Promise<void>((resolve, reject) => {
      handle.#worker.on('message', (notice: WriterNotice) => {
        if (notice.type === 'ready') {
          handle.settings = notice.settings;
          handle.migration = notice.migration;
          resolve();
        } else if (notice.type === 'fatal') {
          reject(deserializeError(notice.error));
        } else {
          handle.#onNotice(notice);
        }
      });
      handle.#worker.once('error', reject);
      handle.#worker.once('exit', (code) => {
        handle.#exited = true;
        const error = new BackfillError('ERR_INTERNAL', `The writer thread exited (code ${code})`);
        reject(error);
        for (const pending of handle.#pending.values()) pending.reject(error);
        handle.#pending.clear();
      });
    });
    handle.#worker.on('error', (error) => {
      logger.error({ err: error }, 'writer thread failed');
      handle.emit('error', error);
    });
    return handle;
  }

  #onNotice(notice: WriterNotice): void {
    switch (notice.type) {
      case 'result': {
        const pending = this.#pending.get(notice.id);
        if (!pending) return;
        this.#pending.delete(notice.id);
        if (notice.ok) pending.resolve(notice.value);
        else pending.reject(deserializeError(notice.error));
        return;
      }
      case 'lock':
        this.emit('lock', notice.info);
        return;
      case 'retry':
        this.emit('retry', notice.info);
        return;
      case 'operation':
        this.emit('operation', notice.info);
        return;
      case 'checkpoint':
        this.emit('checkpoint', notice.info);
        return;
      case 'log':
        this.#logger[notice.level](notice.data ?? {}, notice.message);
        return;
      case 'alert':
        this.emit('alert', { level: notice.level, message: notice.message, figures: notice.figures });
        return;
      default:
        return;
    }
  }

  /** Sends a request; the promise is typed by the request's response in WriterResponses. */
  #request<T extends RequestType>(type: T, body: RequestBody<T>, transfer: ArrayBuffer[] = []): Promise<WriterResponses[T]> {
    if (this.#exited) return Promise.reject(new ClosedError('The writer'));
    const id = this.#nextId++;
    return new Promise<WriterResponses[T]>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.#worker.postMessage({ ...body, type, id }, transfer);
    });
  }

  /** Commits the batches in as few transactions as the writer's time budget allows (group commit). */
  commit(batches: BatchMessage[]): Promise<CommitResult> {
    this.#assertOpen();
    // Row bytes move to the writer: the main thread is done with them once they are sent (a
    // failed batch fails its job, which fetches its pages again).
    const transfer: ArrayBuffer[] = [];
    for (const batch of batches) {
      if (typeof batch.rows !== 'string' && batch.rows.byteOffset === 0 && batch.rows.byteLength === batch.rows.buffer.byteLength) {
        transfer.push(batch.rows.buffer as ArrayBuffer);
      }
    }
    return this.#request('commit', { batches }, transfer);
  }

  startJob(job: JobStartRequest): Promise<JobStartResult> {
    this.#assertOpen();
    return this.#request('job:start', { job });
  }

  endJob(jobId: string, status: 'failed' | 'cancelled', error: string | null): Promise<{ attempts: number }> {
    return this.#request('job:end', { jobId, status, error });
  }

  exec(sql: string, params: unknown[][], mode: TransactionMode): Promise<ExecResult> {
    this.#assertOpen();
    return this.#request('exec', { sql, params, mode });
  }

  /** Opens an interactive transaction; resolves with its session id once the writer holds the lock. */
  async beginTransaction(mode: TransactionMode, timeoutMs: number): Promise<number> {
    this.#assertOpen();
    return (await this.#request('tx:begin', { mode, timeoutMs })).sessionId;
  }

  runInTransaction(sessionId: number, sql: string, params: unknown[], returnRows: boolean): Promise<WriterResponses['tx:run']> {
    return this.#request('tx:run', { sessionId, sql, params, returnRows });
  }

  async endTransaction(sessionId: number, commit: boolean): Promise<void> {
    await this.#request('tx:end', { sessionId, commit });
  }

  /** Stores an alert raised in the main thread beside the writer's own (writer_alerts). */
  async recordAlert(alert: AlertRecord): Promise<void> {
    if (this.#closing || this.#exited) return;
    await this.#request('alert', { alert });
  }

  /** Tells the writer to stop waiting: backoff sleeps end, and what waits for the lock fails. */
  async abort(): Promise<void> {
    if (this.#exited) return;
    await this.#request('abort', {});
  }

  checkpoint(mode: CheckpointMode = 'PASSIVE'): Promise<CheckpointInfo> {
    this.#assertOpen();
    return this.#request('checkpoint', { mode });
  }

  /** Ends the thread at once, without waiting for what it is doing (an open transaction rolls back). */
  async terminate(): Promise<void> {
    if (!this.#exited) await this.#worker.terminate();
  }

  /** Checkpoints passively, runs PRAGMA optimize, closes the connection and ends the thread. Safe to call twice. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (!this.#exited) {
        try {
          await this.#request('close', {});
        } catch (error) {
          this.#logger.warn({ err: error }, 'writer close failed; terminating the thread');
        }
      }
      if (!this.#exited) await this.#worker.terminate();
    })();
    return this.#closing;
  }

  #assertOpen(): void {
    if (this.#closing || this.#exited) throw new ClosedError('The writer');
  }
}
