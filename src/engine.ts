/**
 * The engine: fetch workers -> bounded queue -> the single writer thread, and the typed events
 * that report on all of it. Everything the command line does goes through this class.
 */
import { setMaxListeners } from 'node:events';
import { EventEmitter } from 'eventemitter3';
import { BackfillError, ClosedError, DatabaseLockedError, InvalidOptionError, type SerializedError, deserializeError } from './errors.js';
import { DEFAULT_FLAGS, assertFlagName, effectiveFlags, loadFlags, resolveFlagsPath, type Flags, type WorkloadName } from './flags/index.js';
import { assertSqliteVersionSafe } from './db/sqlite-version.js';
import { silentLogger, type Logger } from './logger.js';
import { sleep } from './util/sleep.js';
import { resolveTableNames, type TableNames } from './db/schema.js';
import type { AppliedSettings } from './db/open.js';
import { BatchQueue } from './queue/batch-queue.js';
import { Job, type JobHandle, type JobRequest, type JobSummary } from './queue/job.js';
import { demoSource, resolveDemoSourceOptions, type DemoSourceOptions } from './source/demo/index.js';
import type { SourceSpec } from './source/types.js';
import { FetchPool } from './workers/pool.js';
import type { FetchTransport, FetchTransportFactory } from './workers/transport.js';
import type { FetchTaskResult } from './workers/protocol.js';
import { DEFAULT_RETRY_POLICY, resolveRetryPolicy } from './db/locking/retry-policy.js';
import { WriterHandle } from './writer/writer.js';
import {
  CHECKPOINT_MODES, LOCK_WAIT_STRATEGIES, TRANSACTION_MODES,
  type BatchMessage, type BatchResult, type CheckpointInfo, type CheckpointMode, type ExecResult, type LockInfo, type LockWaitStrategy,
  type OperationInfo, type RetryPolicy, type TransactionMode, type WriterConfig,
} from './writer/protocol.js';

export interface EngineOptions {
  /** The SQLite database file. */
  readonly database: string;
  /** Where league data comes from. @default demoSource() */
  readonly source?: SourceSpec;
  /** The feature flags, or the path of a flags file. @default the flags file beside the database (recommended profile when absent) */
  readonly flags?: Flags | string;
  /** Fetch worker threads. @default 2 */
  readonly workers?: number;
  /** Requests per second across all fetch workers; 0 for no limit. @default 1 for yahoo, 0 otherwise */
  readonly requestsPerSecond?: number;
  /** Most rows per batch. @default 100 */
  readonly batchSize?: number;
  /** Transactions per page requested from the source (Yahoo serves 25). @default 25 */
  readonly pageSize?: number;
  /** Consecutive pages one fetch task brings back: more amortise the cost of a thread round trip. @default 1 for yahoo, 8 otherwise */
  readonly pagesPerTask?: number;
  /** Heap limit of each fetch worker in MB (the file source keeps its parsed input there). @default 256 */
  readonly workerHeapLimitMb?: number;
  /** Jobs fetched at the same time (each has one task in flight). @default 2 x workers */
  readonly concurrency?: number;
  /** Most rows waiting for the writer; fetching pauses beyond it. @default 20000 */
  readonly queueMaxRows?: number;
  /** Most rows the writer takes for one group commit. @default 10000 */
  readonly groupMaxRows?: number;
  /** Most time one transaction may hold the write lock before the writer commits and starts another. @default 100 */
  readonly transactionBudgetMs?: number;
  /**
   * While other processes use the database, the writer leaves the write lock free this long
   * after each transaction, so that a process waiting in SQLite's default busy handler (which
   * tries at most 25 ms apart during its first ~128 ms of waiting) gets it; alone, the writer
   * never waits. 0 turns this off. docs/lock-wait.md has the measurements. @default 25
   */
  readonly neighbourGapMs?: number;
  /** SQLite's busy_timeout (with pragma_optimizations). @default 5000 */
  readonly busyTimeoutMs?: number;
  /**
   * How the writer waits for a lock another process holds. `busy-slices` (SQLite's handler in
   * 2 ms slices, so a long waiter never sleeps 100 ms between tries) cut the commit p99 under
   * long-held locks from 214 ms to 28 ms (docs/lock-wait.md). @default 'busy-slices'
   */
  readonly lockWait?: LockWaitStrategy;
  /** A lock wait longer than this is counted as a lock even when it ended in success. @default 50 */
  readonly lockWaitThresholdMs?: number;
  /** Retry policy for lock errors (with retry_logic). @default 5 attempts, 100 ms, x2, 5 s cap, jitter 0.5 */
  readonly retry?: Partial<RetryPolicy>;
  /** Attempts per page for transient source errors. @default 3 */
  readonly fetchAttempts?: number;
  /** WAL size above which the writer checkpoints between transactions. @default 67108864 */
  readonly checkpointThresholdBytes?: number;
  /**
   * SQLite's own checkpoint trigger (pages). It runs inside COMMIT, so the write lock is held
   * through it; by default it is off and the writer checkpoints between transactions at the
   * threshold above, which kept every transaction within its 100 ms budget in bench/. @default 0
   */
  readonly walAutocheckpointPages?: number;
  /** Create the database's folder when missing. @default false */
  readonly createFolder?: boolean;
  /**
   * Where fetch tasks run: a factory called once when the engine starts. @default the
   * in-process Piscina pool (`workers` threads, one shared rate limit); `bullmqTransport()`
   * sends them through Redis to `league-backfill worker` processes.
   */
  readonly transport?: FetchTransportFactory;
  readonly tables?: Partial<TableNames>;
  /** @default a silent logger */
  readonly logger?: Logger;
  /** The SQLite version to check against the WAL-reset bug instead of the bundled one (tests of the guard). @default the bundled version */
  readonly sqliteVersion?: string;
}

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

interface ResolvedEngineOptions {
  database: string;
  source: SourceSpec;
  workers: number;
  requestsPerSecond: number;
  batchSize: number;
  pageSize: number;
  pagesPerTask: number;
  workerHeapLimitMb: number;
  concurrency: number;
  queueMaxRows: number;
  groupMaxRows: number;
  fetchAttempts: number;
  transport: FetchTransportFactory;
  writer: Omit<WriterConfig, 'flags' | 'logLevel' | 'workload'>;
  flags: Flags | string | undefined;
  logger: Logger;
}

const KNOWN_OPTIONS = new Set([
  'database', 'source', 'flags', 'workers', 'requestsPerSecond', 'batchSize', 'pageSize', 'pagesPerTask', 'workerHeapLimitMb', 'concurrency', 'queueMaxRows',
  'groupMaxRows', 'transactionBudgetMs', 'neighbourGapMs', 'busyTimeoutMs', 'lockWait', 'lockWaitThresholdMs', 'retry', 'fetchAttempts',
  'checkpointThresholdBytes', 'walAutocheckpointPages', 'createFolder', 'tables', 'logger', 'transport', 'sqliteVersion',
]);

function integer(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const resolved = value ?? fallback;
  if (typeof resolved !== 'number' || !Number.isInteger(resolved) || resolved < min || resolved > max) {
    throw new InvalidOptionError(name, `an integer from ${min} to ${max}`, resolved);
  }
  return resolved;
}

export function resolveEngineOptions(options: EngineOptions): ResolvedEngineOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new InvalidOptionError('options', 'an object such as { database: "data/league_analytics.db" }', options);
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) throw new InvalidOptionError(key, `one of the engine options (${[...KNOWN_OPTIONS].join(', ')})`, key);
  }
  if (typeof options.database !== 'string' || options.database.length === 0) {
    throw new InvalidOptionError('database', 'a file path', options.database);
  }
  const source = options.source ?? demoSource();
  if (source === null || typeof source !== 'object' || !['demo', 'yahoo', 'file'].includes((source as { kind?: unknown }).kind as string)) {
    throw new InvalidOptionError('source', 'a source made by demoSource(), yahooSource() or fileSource()', source);
  }
  // A demo source's options are checked here, in the caller's thread, not in a worker later.
  if (source.kind === 'demo') resolveDemoSourceOptions(source.options as DemoSourceOptions);
  const workers = integer('workers', options.workers, 2, 1, 64);
  const rate = options.requestsPerSecond ?? (source.kind === 'yahoo' ? 1 : 0);
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0) throw new InvalidOptionError('requestsPerSecond', 'a number >= 0', rate);
  const lockWait = options.lockWait ?? 'busy-slices';
  if (!LOCK_WAIT_STRATEGIES.includes(lockWait)) throw new InvalidOptionError('lockWait', `one of ${LOCK_WAIT_STRATEGIES.map((name) => `'${name}'`).join(', ')}`, lockWait);
  const busyTimeoutMs = integer('busyTimeoutMs', options.busyTimeoutMs, 5000, 0, 600_000);
  if (options.transport !== undefined && typeof options.transport !== 'function') {
    throw new InvalidOptionError('transport', 'a transport factory such as bullmqTransport({ redis: "redis://127.0.0.1:6379" })', options.transport);
  }
  const checkpointThresholdBytes = integer('checkpointThresholdBytes', options.checkpointThresholdBytes, 64 * 1024 * 1024, 1024 * 1024, Number.MAX_SAFE_INTEGER);
  return {
    database: options.database,
    source,
    workers,
    requestsPerSecond: rate,
    batchSize: integer('batchSize', options.batchSize, 100, 1, 100),
    pageSize: integer('pageSize', options.pageSize, 25, 1, 1000),
    pagesPerTask: integer('pagesPerTask', options.pagesPerTask, source.kind === 'yahoo' ? 1 : 8, 1, 1000),
    workerHeapLimitMb: integer('workerHeapLimitMb', options.workerHeapLimitMb, 256, 16, 65_536),
    concurrency: integer('concurrency', options.concurrency, workers * 2, 1, 1024),
    queueMaxRows: integer('queueMaxRows', options.queueMaxRows, 20_000, 100, 10_000_000),
    groupMaxRows: integer('groupMaxRows', options.groupMaxRows, 10_000, 1, 10_000_000),
    fetchAttempts: integer('fetchAttempts', options.fetchAttempts, 3, 1, 100),
    transport: options.transport ?? ((context) => new FetchPool(context)),
    flags: options.flags,
    logger: options.logger ?? silentLogger(),
    writer: {
      path: options.database,
      tables: resolveTableNames(options.tables),
      createFolder: options.createFolder ?? false,
      busyTimeoutMs,
      lockWait,
      lockWaitDeadlineMs: busyTimeoutMs,
      lockWaitThresholdMs: integer('lockWaitThresholdMs', options.lockWaitThresholdMs, 50, 0, 600_000),
      retry: resolveRetryPolicy(options.retry),
      transactionBudgetMs: integer('transactionBudgetMs', options.transactionBudgetMs, 100, 1, 60_000),
      neighbourGapMs: integer('neighbourGapMs', options.neighbourGapMs, 25, 0, 10_000),
      checkpointThresholdBytes,
      // The WAL file keeps its size when SQLite starts it over, and is trimmed to
      // journal_size_limit only then. A limit below the threshold makes the file's size the
      // measure the checkpoint policy needs: after a reset it is small again, so the threshold
      // is crossed only when the WAL really filled up (a limit equal to the threshold left the
      // file at the threshold and checkpointed after every transaction).
      journalSizeLimit: Math.floor(checkpointThresholdBytes / 4),
      walAutocheckpointPages: integer('walAutocheckpointPages', options.walAutocheckpointPages, 0, 0, 1_000_000),
    },
  };
}

interface QueuedBatch {
  readonly batch: BatchMessage;
  readonly rowCount: number;
  resolve(result: BatchResult): void;
  reject(error: Error): void;
}

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
    transport = await resolved.transport({ workers: resolved.workers, requestsPerSecond: resolved.requestsPerSecond, heapLimitMb: resolved.workerHeapLimitMb });
  } catch (error) {
    await writer.close().catch(() => undefined);
    throw error;
  }
  return new Engine(resolved, writer, transport, flagsFile);
}

export class Engine extends EventEmitter<EngineEvents> implements AsyncDisposable {
  readonly #options: ResolvedEngineOptions;
  readonly #logger: Logger;
  readonly #writer: WriterHandle;
  readonly #pool: FetchTransport;
  readonly #queue: BatchQueue<QueuedBatch>;
  readonly #stopping = new AbortController();
  readonly #waiting: Job[] = [];
  readonly #jobs = new Map<string, Job>();
  readonly #failedJobs = new Set<string>();
  readonly #pump: Promise<void>;
  readonly #recentLocks: number[] = [];
  #lastRateAlert: { level: AlertLevel; at: number } | undefined;
  #fetching = 0;
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
    this.#options = options;
    this.#logger = options.logger;
    this.#writer = writer;
    this.flagsFile = flagsFile;
    this.#queue = new BatchQueue({ maxRows: options.queueMaxRows });
    this.#pool = transport;
    // Every running job listens to this signal; their number is bounded by `concurrency`.
    setMaxListeners(0, this.#stopping.signal);
    // eventemitter3 does not throw on an unheard 'error': log it so a fault is never silent.
    this.on('error', (error) => this.#logger.error({ err: error }, 'engine error'));
    writer.on('lock', (info) => this.#onLock(info));
    writer.on('retry', (info) => {
      this.totals.retries++;
      this.emit('retry', info);
    });
    writer.on('operation', (info) => this.#onOperation(info));
    writer.on('checkpoint', (info) => this.emit('checkpoint', info));
    writer.on('alert', (alert) => this.#alert(alert.level, alert.message, alert.figures, false));
    writer.on('error', (error) => this.emit('error', error));
    this.#pump = this.#runPump();
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
    const job = new Job(request, this.#options.source.kind);
    const existing = this.#jobs.get(job.id);
    if (existing && (existing.state === 'queued' || existing.state === 'running')) return existing.handle;
    this.#jobs.set(job.id, job);
    this.#failedJobs.delete(job.id);
    this.totals.jobs++;
    this.#waiting.push(job);
    this.emit('job:queued', job.handle);
    this.#startWaitingJobs();
    return job.handle;
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
    const pending = [...this.#jobs.values()].filter((job) => !job.ended).map((job) => job.settled);
    await Promise.all(pending);
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

  // ---- jobs ---------------------------------------------------------------------------------

  /**
   * Starts waiting jobs while fewer than `concurrency` are fetching. A job gives its slot back
   * as soon as it has fetched its last page, not when its last batch commits: otherwise every
   * job boundary would stall fetching until the writer caught up.
   */
  #startWaitingJobs(): void {
    while (this.#fetching < this.#options.concurrency && this.#waiting.length > 0 && !this.#stopping.signal.aborted) {
      const job = this.#waiting.shift()!;
      this.#fetching++;
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        this.#fetching--;
        this.#startWaitingJobs();
      };
      void this.#runJob(job, release).finally(release);
    }
  }

  async #runJob(job: Job, releaseFetchSlot: () => void): Promise<void> {
    const signal = this.#stopping.signal;
    const startedAt = performance.now();
    try {
      const start = await this.#writer.startJob({
        jobId: job.id, leagueKey: job.request.leagueKey, season: job.request.season, source: job.sourceKind,
        force: job.request.force ?? false, replaceSource: job.request.replaceSource ?? false,
      });
      job.addAttempts(start.attempts);
      if (start.alreadyCompleted) {
        this.totals.skipped++;
        this.#finish(job, 'completed', startedAt, { skipped: true });
        return;
      }
      job.markRunning(start.cursor);
      this.emit('job:started', job.handle, start.cursor);
      const commits: Array<Promise<void>> = [];
      let cursor = start.cursor;
      for (;;) {
        signal.throwIfAborted();
        if (job.error) throw job.error;
        const fetched = await this.#fetch(job, cursor, signal);
        let final = false;
        for (const page of fetched.pages) {
          const nextCursor = cursor + page.recordCount;
          final = page.recordCount < this.#options.pageSize;
          // An empty page still commits its cursor and its rejected records.
          const batches = page.batches.length > 0 ? page.batches : [{ rows: '[]', rowCount: 0 }];
          const messages = batches.map((encoded, index): BatchMessage => {
            const last = index === batches.length - 1;
            return {
              jobId: job.id,
              season: job.request.season,
              leagueSeries: job.request.leagueKey,
              rows: encoded.rows,
              rowCount: encoded.rowCount,
              rejected: index === 0 ? page.rejected : [],
              cursor: last ? nextCursor : null,
              final: last && final,
            };
          });
          // A page enters the queue whole and is committed whole (its rows, its rejected
          // records and its cursor in one transaction). Waits while the queue is full: this is
          // the backpressure that keeps memory flat.
          const pending = await this.#enqueuePage(messages, signal);
          pending.forEach((committed, index) => {
            const cursorAfter = index === messages.length - 1 ? nextCursor : null;
            const commit = job.track(committed).then((result) => this.#onCommitted(job, result, cursorAfter));
            // A failed commit stops the job before it fetches further (and is never an unhandled rejection).
            commit.catch((error: Error) => job.fail(error));
            commits.push(commit);
          });
          cursor = nextCursor;
        }
        if (final) break;
      }
      releaseFetchSlot();
      await Promise.all(commits);
      this.totals.completed++;
      this.#finish(job, 'completed', startedAt);
    } catch (caught) {
      await this.#endJob(job, caught, startedAt);
    }
  }

  async #fetch(job: Job, start: number, signal: AbortSignal): Promise<FetchTaskResult> {
    const task = {
      source: this.#options.source, job: job.ref, start, pageSize: this.#options.pageSize, batchSize: this.#options.batchSize, maxPages: this.#options.pagesPerTask,
    };
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#pool.run(task, signal);
      } catch (error) {
        const transient = (error as { transient?: boolean }).transient === true;
        if (!transient || attempt >= this.#options.fetchAttempts || signal.aborted) throw error;
        const delayMs = Math.min(5000, 200 * 2 ** (attempt - 1)) * (0.5 + Math.random());
        this.#logger.warn({ jobId: job.id, start, attempt, delayMs: Math.round(delayMs), err: (error as Error).message }, 'page fetch failed; retrying');
        await sleep(delayMs, signal);
      }
    }
  }

  /**
   * Queues a page's batches as one unit, waiting for room; resolves with one commit promise
   * per batch, so that awaiting the room does not also await the commits.
   */
  async #enqueuePage(batches: BatchMessage[], signal: AbortSignal): Promise<Array<Promise<BatchResult>>> {
    const items: QueuedBatch[] = [];
    const committed = batches.map((batch) => new Promise<BatchResult>((resolve, reject) => {
      items.push({ batch, rowCount: batch.rowCount, resolve, reject });
    }));
    await this.#queue.pushUnit(items, signal);
    return committed;
  }

  #onCommitted(job: Job, result: BatchResult, cursor: number | null): void {
    job.addCommitted(result, cursor);
    this.totals.rowsFetched += result.rowCount;
    this.totals.rowsInserted += result.inserted;
    this.totals.rowsIgnored += result.ignored;
    this.totals.rowsRejected += result.rejected;
    this.emit('batch:committed', result);
    if (cursor !== null) this.emit('job:progress', job.summary(job.elapsedMs));
  }

  async #endJob(job: Job, caught: unknown, startedAt: number): Promise<void> {
    const aborted = this.#stopping.signal.aborted && !(job.error && job.error.code !== 'ERR_ABORTED');
    const error = job.error ?? toBackfillError(caught);
    const status = aborted ? 'cancelled' : 'failed';
    if (!aborted) this.#failedJobs.add(job.id);
    // Wait until this job's batches already queued are committed (cancelled) or dropped (failed):
    // the job's row in job_log must not say `failed` while a batch of it is still being written.
    await job.quiesce();
    try {
      const ended = await this.#writer.endJob(job.id, status, aborted ? 'stopped before completion; run again to resume' : error.message);
      job.addAttempts(ended.attempts);
    } catch (endError) {
      this.#logger.warn({ jobId: job.id, err: (endError as Error).message }, 'could not record the end of the job in job_log; it stays resumable');
    }
    if (status === 'failed') this.totals.failed++;
    else this.totals.cancelled++;
    this.#finish(job, status, startedAt, { error });
  }

  #finish(job: Job, status: 'completed' | 'failed' | 'cancelled', startedAt: number, extra: { skipped?: boolean; error?: BackfillError } = {}): void {
    const summary = job.end(status, performance.now() - startedAt, extra);
    // An ended job is the caller's (through its handle); keeping it here would grow with the run.
    if (this.#jobs.get(job.id) === job) this.#jobs.delete(job.id);
    if (status === 'completed') this.emit('job:completed', summary);
    else if (status === 'failed') this.emit('job:failed', summary, extra.error!);
  }

  // ---- the writer pump ------------------------------------------------------------------------

  /**
   * Takes every batch waiting in the queue and hands it to the writer as one group commit, one
   * group at a time: the writer is never idle while batches wait, and never has more than one
   * group to work on.
   */
  async #runPump(): Promise<void> {
    for (;;) {
      const taken = await this.#queue.take(this.#options.groupMaxRows);
      if (taken === null) return;
      // A batch of a job that has failed must not commit: its cursor would skip the page that failed.
      const items = taken.filter((item) => {
        if (!this.#failedJobs.has(item.batch.jobId)) return true;
        item.reject(new BackfillError('ERR_JOB_FAILED', `Job ${item.batch.jobId} failed earlier; batch dropped`));
        return false;
      });
      if (items.length === 0) continue;
      try {
        const result = await this.#writer.commit(items.map((item) => item.batch));
        this.totals.transactions += result.transactions;
        this.totals.maxLockHoldMs = Math.max(this.totals.maxLockHoldMs, result.maxHoldMs);
        result.outcomes.forEach((outcome, index) => {
          const item = items[index]!;
          if (outcome.ok) {
            item.resolve(outcome);
          } else {
            this.#failedJobs.add(outcome.jobId);
            item.reject(commitError(outcome.error));
          }
        });
      } catch (error) {
        for (const item of items) {
          this.#failedJobs.add(item.batch.jobId);
          item.reject(toBackfillError(error));
        }
      }
    }
  }

  // ---- locks and alerts ---------------------------------------------------------------------

  #onLock(info: LockInfo): void {
    this.totals.lockCount++;
    this.emit('lock', info);
    const now = Date.now();
    this.#recentLocks.push(now);
    while (this.#recentLocks.length > 0 && this.#recentLocks[0]! < now - 60_000) this.#recentLocks.shift();
    const perMinute = this.#recentLocks.length;
    const level: AlertLevel | null = perMinute > 10 ? 'critical' : perMinute > 5 ? 'warning' : null;
    if (level) {
      const last = this.#lastRateAlert;
      // One alert per level per minute: a lock storm must not become an alert storm.
      if (!last || last.at < now - 60_000 || (last.level === 'warning' && level === 'critical')) {
        this.#lastRateAlert = { level, at: now };
        this.#alert(level, `${perMinute} locks in the last minute (warning above 5, critical above 10)`, { locksPerMinute: perMinute });
      }
    }
  }

  /** An operation that met a lock is over: the run's retry figures come from here, as job_log's do. */
  #onOperation(info: OperationInfo): void {
    this.totals.maxRetryCount = Math.max(this.totals.maxRetryCount, info.attempts - 1);
    this.totals.totalRetryTime += info.waitMs / 1000;
    if (info.attempts > 3) {
      this.#alert('info', `${info.operation} needed ${info.attempts} attempts to get the write lock${info.ok ? '' : ' and then failed'}`,
        { operation: info.operation, attempts: info.attempts, waitMs: Math.round(info.waitMs) }, true);
    }
  }

  /** `fromWriter`: the writer raised (and stored) it already; the engine's own are stored through the writer. */
  #alert(level: AlertLevel, message: string, figures: Record<string, number | string>, store = true): void {
    const log = level === 'info' ? 'info' : level === 'warning' ? 'warn' : 'error';
    this.#logger[log]({ alert: level, ...figures }, message);
    if (store) void this.#writer.recordAlert({ level, message, figures }).catch(() => undefined);
    this.emit('alert', { level, message, figures });
  }

  // ---- closing ------------------------------------------------------------------------------

  #assertOpen(): void {
    if (this.#closing) throw new ClosedError('The engine');
  }

  async #shutdown(): Promise<void> {
    this.#stopping.abort(new BackfillError('ERR_ABORTED', 'The engine is closing'));
    for (const job of this.#waiting.splice(0)) {
      this.totals.cancelled++;
      job.end('cancelled', 0, { error: new BackfillError('ERR_ABORTED', 'The engine closed before the job started') });
    }
    const steps: Array<[string, () => Promise<unknown>]> = [
      ['jobs', () => Promise.all([...this.#jobs.values()].map((job) => job.settled))],
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

/** A flags object from a program gets the same checks as a flags file: known names, booleans, all present. */
function validateFlagsObject(flags: Flags): Flags {
  if (flags === null || Array.isArray(flags)) throw new InvalidOptionError('flags', 'an object of flag names to booleans, or a flags file path', flags);
  for (const [name, value] of Object.entries(flags)) {
    assertFlagName(name);
    if (typeof value !== 'boolean') throw new InvalidOptionError(`flags.${name}`, 'a boolean', value);
  }
  return { ...DEFAULT_FLAGS, ...flags };
}

function toBackfillError(error: unknown): BackfillError {
  if (error instanceof BackfillError) return error;
  if (error instanceof Error && error.name === 'AbortError') return new BackfillError('ERR_ABORTED', error.message, { cause: error });
  return new BackfillError('ERR_INTERNAL', error instanceof Error ? error.message : String(error), { cause: error });
}

function commitError(serialized: SerializedError): BackfillError {
  const error = deserializeError(serialized);
  if (error.code === 'ERR_DATABASE_LOCKED') return new DatabaseLockedError(serialized.message, { cause: error });
  return new BackfillError(error.code === 'ERR_INTERNAL' ? 'ERR_DATABASE_WRITE' : error.code,
    `the batch could not be written (${serialized.message}); it was rolled back, nothing half-written`, { cause: error });
}

export { DEFAULT_FLAGS };
