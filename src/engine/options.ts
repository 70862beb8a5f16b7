/**
 * The engine's options: what a program may set, their defaults, and the checks that reject a
 * bad or unknown option by name before any thread starts.
 */
import { InvalidOptionError } from '../errors.js';
import { DEFAULT_FLAGS, assertFlagName, type Flags } from '../flags/index.js';
import { resolveRetryPolicy } from '../db/locking/retry-policy.js';
import { resolveTableNames, type TableNames } from '../db/schema.js';
import { silentLogger, type Logger } from '../logger.js';
import { demoSource, resolveDemoSourceOptions, type DemoSourceOptions } from '../source/demo/index.js';
import { SOURCE_KINDS, type SourceSpec } from '../source/types.js';
import { availableParallelism } from 'node:os';
import { FetchPool } from '../workers/pool.js';
import type { FetchTransportFactory } from '../workers/transport.js';
import { LOCK_WAIT_STRATEGIES, type LockWaitStrategy, type RetryPolicy, type WriterConfig } from '../writer/protocol.js';

export interface EngineOptions {
  /** The SQLite database file. */
  readonly database: string;
  /** Where league data comes from. @default demoSource() */
  readonly source?: SourceSpec;
  /** The feature flags, or the path of a flags file. @default the flags file beside the database (recommended profile when absent) */
  readonly flags?: Flags | string;
  /** Fetch worker threads. @default defaultFetchWorkers(source.kind): 1 on two cores, 2 for yahoo */
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
  /**
   * How much lower the fetch worker threads run than the engine's other threads: a nice
   * increment, from 0 (the same) to 19. Beside other processes on two cores, the fetch
   * workers' parsing otherwise competes for the CPU with the writer thread while it holds the
   * lock, and with the other processes' commits. @default 10
   */
  readonly workerNice?: number;
  /** Jobs fetched at the same time (each has one task in flight). @default 2 x workers, at least 4 */
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

export interface ResolvedEngineOptions {
  database: string;
  source: SourceSpec;
  workers: number;
  requestsPerSecond: number;
  batchSize: number;
  pageSize: number;
  pagesPerTask: number;
  workerHeapLimitMb: number;
  workerNice: number;
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
  'database', 'source', 'flags', 'workers', 'requestsPerSecond', 'batchSize', 'pageSize', 'pagesPerTask', 'workerHeapLimitMb', 'workerNice', 'concurrency', 'queueMaxRows',
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

/**
 * Fetch workers when none are asked for. The writer is the bottleneck and never waits for rows,
 * while the fetch workers are about 80 % idle at full speed (docs/performance.md): on two cores
 * a second worker only takes CPU from the writer (measured: 0.78 of one transaction with one
 * worker and four jobs in flight against 0.69 with two) and adds about 30 MB. A rate-limited
 * API waits on the network, not the CPU, so the Yahoo source keeps two.
 */
export function defaultFetchWorkers(kind: SourceSpec['kind'], cores: number = availableParallelism()): number {
  return kind === 'yahoo' ? 2 : Math.max(1, Math.min(2, cores - 1));
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
  if (source === null || typeof source !== 'object' || !(SOURCE_KINDS as readonly string[]).includes((source as { kind?: unknown }).kind as string)) {
    throw new InvalidOptionError('source', 'a source made by demoSource(), yahooSource() or fileSource()', source);
  }
  // A demo source's options are checked here, in the caller's thread, not in a worker later.
  if (source.kind === 'demo') resolveDemoSourceOptions(source.options as DemoSourceOptions);
  const workers = integer('workers', options.workers, defaultFetchWorkers(source.kind), 1, 64);
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
    workerNice: integer('workerNice', options.workerNice, 10, 0, 19),
    // One worker with two jobs in flight left the writer short of rows: never fewer than four.
    // Sixteen filled each transaction's budget beside other processes, but alone each of them
    // touched more index pages: 20 % more bytes written and 15 % slower (docs/lock-wait.md).
    concurrency: integer('concurrency', options.concurrency, Math.max(4, workers * 2), 1, 1024),
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

/** A flags object from a program gets the same checks as a flags file: known names, booleans, all present. */
export function validateFlagsObject(flags: Flags): Flags {
  if (flags === null || Array.isArray(flags)) throw new InvalidOptionError('flags', 'an object of flag names to booleans, or a flags file path', flags);
  for (const [name, value] of Object.entries(flags)) {
    assertFlagName(name);
    if (typeof value !== 'boolean') throw new InvalidOptionError(`flags.${name}`, 'a boolean', value);
  }
  return { ...DEFAULT_FLAGS, ...flags };
}
