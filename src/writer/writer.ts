import { Worker } from 'node:worker_threads';
import { EventEmitter } from 'eventemitter3';
import { ClosedError, deserializeError, BackfillError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { AppliedSettings } from '../db/open.js';
import type { MigrationResult } from '../db/schema.js';
import type {
  BatchMessage,
  CheckpointInfo,
  CommitResult,
  JobStartRequest,
  JobStartResult,
  LockInfo,
  TransactionMode,
  WriterConfig,
  WriterNotice,
  WriterRequest,
} from './protocol.js';

export interface WriterHandleEvents {
  lock: [info: LockInfo];
  alert: [alert: { level: 'info' | 'warning' | 'critical'; message: string; figures: Record<string, number | string> }];
  retry: [info: LockInfo];
  checkpoint: [info: CheckpointInfo];
  /** A fault no caller can receive: the writer thread died. */
  error: [error: Error];
}

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void };
type RequestBody<T extends WriterRequest['type']> = Omit<Extract<WriterRequest, { type: T }>, 'id' | 'type'>;

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
      resourceLimits: { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 128 },
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

  #request<T>(type: WriterRequest['type'], body: object): Promise<T> {
    if (this.#exited) return Promise.reject(new ClosedError('The writer'));
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.#worker.postMessage({ ...body, type, id });
    });
  }

  /** Commits the batches in as few transactions as the writer's time budget allows (group commit). */
  commit(batches: BatchMessage[]): Promise<CommitResult> {
    this.#assertOpen();
    return this.#request<CommitResult>('commit', { batches } satisfies RequestBody<'commit'>);
  }

  startJob(job: JobStartRequest): Promise<JobStartResult> {
    this.#assertOpen();
    return this.#request('job:start', { job } satisfies RequestBody<'job:start'>);
  }

  endJob(jobId: string, status: 'failed' | 'cancelled', error: string | null): Promise<void> {
    return this.#request('job:end', { jobId, status, error } satisfies RequestBody<'job:end'>);
  }

  exec(sql: string, params: unknown[][], mode: TransactionMode): Promise<{ changes: number; lastInsertRowid: number }> {
    this.#assertOpen();
    return this.#request('exec', { sql, params, mode } satisfies RequestBody<'exec'>);
  }

  /** Opens an interactive transaction; resolves once the writer holds the lock. */
  beginTransaction(mode: TransactionMode, timeoutMs: number): Promise<void> {
    this.#assertOpen();
    return this.#request('tx:begin', { mode, timeoutMs } satisfies RequestBody<'tx:begin'>);
  }

  runInTransaction(sql: string, params: unknown[], returnRows: boolean): Promise<unknown> {
    return this.#request('tx:run', { sql, params, returnRows } satisfies RequestBody<'tx:run'>);
  }

  endTransaction(commit: boolean): Promise<void> {
    return this.#request('tx:end', { commit } satisfies RequestBody<'tx:end'>);
  }

  checkpoint(mode: 'PASSIVE' | 'FULL' | 'RESTART' | 'TRUNCATE' = 'PASSIVE'): Promise<CheckpointInfo> {
    this.#assertOpen();
    return this.#request('checkpoint', { mode } satisfies RequestBody<'checkpoint'>);
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
