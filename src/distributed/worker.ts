/**
 * The workers' end of the distributed mode (what `league-backfill worker` runs): a BullMQ
 * worker on the tasks queue whose processor hands each task to a pool of fetch threads (a
 * Piscina pool running the in-process fetch task, its requests paced by one schedule in Redis
 * that every worker shares: see fetch-thread.ts), then puts the outcome on the
 * writer's results queue. The fetch never runs on this process's event loop, so BullMQ's lock
 * renewal (a timer on that loop) never stalls behind a slow page.
 */
import { hostname } from 'node:os';
import { EventEmitter } from 'eventemitter3';
import type { Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { InvalidOptionError, SourceError, serializeError, type SerializedError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { FetchTaskOutcome } from '../workers/protocol.js';
import { checkInteger, checkObject, checkQueuePrefix, rejectUnknown } from './options.js';
import { RequestSchedule } from './request-schedule.js';
import { FetchThreadPool } from './thread-pool.js';
import { PROTOCOL, RESULT_JOB_NAME, TASKS_QUEUE, heartbeatKey, runIdOfResultsQueue, type ResultEnvelope, type TaskEnvelope } from './protocol.js';
import { loadRedisLibraries, type RedisLibraries } from './libraries.js';
import { checkRedisUrl, createRedisClient, isConnectionError, probeRedis, redactRedisUrl, withTimeout } from './redis.js';
import { PACKAGE_VERSION } from './version.js';

export interface FetchWorkerOptions {
  /** Redis URL, the same server the writer uses. */
  readonly redis: string;
  /** Fetch threads of this process. @default 2 */
  readonly workers?: number;
  /** BullMQ key prefix: the writer's. @default 'league-backfill' */
  readonly queuePrefix?: string;
  /**
   * How long a task stays this worker's without a lock renewal. A worker that dies (SIGKILL,
   * power) holds its tasks this long before another worker runs them again. @default 30000
   */
  readonly lockDurationMs?: number;
  /** How often this worker looks for tasks of dead workers. @default lockDurationMs */
  readonly stalledIntervalMs?: number;
  /**
   * How long the whole queue pauses, on every machine, after a task met Yahoo's throttle
   * (HTTP 999 or 429) through all its retries. @default 60000
   */
  readonly throttlePauseMs?: number;
  /** Old-generation heap limit of each fetch thread (MB). @default 256 */
  readonly heapLimitMb?: number;
  /** How long the first connection may take before the start fails. @default 3000 */
  readonly connectTimeoutMs?: number;
  /** This worker's name in logs and in the outcomes it sends. @default `<host>-<pid>` */
  readonly name?: string;
  /** @default a silent logger */
  readonly logger?: Logger;
}

interface ResolvedFetchWorkerOptions {
  redis: string;
  workers: number;
  queuePrefix: string;
  lockDurationMs: number;
  stalledIntervalMs: number;
  throttlePauseMs: number;
  heapLimitMb: number;
  connectTimeoutMs: number;
  name: string;
  logger: Logger;
}

const OPTION_NAMES = [
  'redis', 'workers', 'queuePrefix', 'lockDurationMs', 'stalledIntervalMs', 'throttlePauseMs', 'heapLimitMb', 'connectTimeoutMs', 'name', 'logger',
] as const;

export function resolveFetchWorkerOptions(options: FetchWorkerOptions): ResolvedFetchWorkerOptions {
  const object = checkObject(options, 'fetch worker', '{ redis: "redis://127.0.0.1:6379" }');
  rejectUnknown(object, OPTION_NAMES, 'fetch worker');
  const lockDurationMs = checkInteger('lockDurationMs', object['lockDurationMs'], 30_000, 500, 600_000);
  const name = object['name'] ?? `${hostname()}-${process.pid}`;
  if (typeof name !== 'string' || !/^[\w.@-]{1,100}$/.test(name)) {
    throw new InvalidOptionError('name', 'a worker name of 1 to 100 letters, digits, "_", "-", "." or "@"', name);
  }
  return {
    redis: checkRedisUrl(object['redis'], 'redis'),
    workers: checkInteger('workers', object['workers'], 2, 1, 64),
    queuePrefix: checkQueuePrefix(object['queuePrefix'], 'queuePrefix'),
    lockDurationMs,
    stalledIntervalMs: checkInteger('stalledIntervalMs', object['stalledIntervalMs'], lockDurationMs, 100, 600_000),
    throttlePauseMs: checkInteger('throttlePauseMs', object['throttlePauseMs'], 60_000, 0, 3_600_000),
    heapLimitMb: checkInteger('heapLimitMb', object['heapLimitMb'], 256, 16, 65_536),
    connectTimeoutMs: checkInteger('connectTimeoutMs', object['connectTimeoutMs'], 3000, 100, 60_000),
    name,
    logger: (object['logger'] as Logger | undefined) ?? silentLogger(),
  };
}

/** What this worker has done since it started. */
export interface FetchWorkerStats {
  /** Tasks run and answered (successfully or with the task's error). */
  tasks: number;
  pages: number;
  rows: number;
  /** Tasks answered with an error. */
  failed: number;
  /** Tasks refused: another package version sent them. */
  refused: number;
  /** Times a task met the API's throttle and the queue was paused. */
  throttled: number;
  /** Tasks skipped because their writer is gone. */
  dropped: number;
}

export interface FetchTaskEvent {
  taskId: string;
  jobId: string;
  start: number;
  pages: number;
  rows: number;
  ms: number;
  error?: SerializedError;
}

export interface FetchWorkerEvents {
  /** A task was answered. */
  task: [event: FetchTaskEvent];
  /** The connection to Redis was lost; the worker keeps trying. */
  'redis:lost': [];
  'redis:back': [downMs: number];
  /** A fault no caller can receive. */
  error: [error: Error];
  closed: [];
}

/** Throttle rounds one task may go through before its error is sent to the writer after all. */
const MAX_THROTTLE_ROUNDS = 3;
const RESULTS_QUEUE_IDLE_MS = 60_000;
const CLOSE_TIMEOUT_MS = 60_000;
const EVENTS_MAX_LEN = 100;

/** Starts a fetch worker: resolves once it is connected and taking tasks. */
export async function startFetchWorker(options: FetchWorkerOptions): Promise<FetchWorker> {
  const resolved = resolveFetchWorkerOptions(options);
  const libraries = await loadRedisLibraries();
  await probeRedis(resolved.redis, resolved.connectTimeoutMs, '--redis (or LEAGUE_BACKFILL_REDIS)');
  const worker = new FetchWorker(resolved, libraries);
  try {
    await worker.ready();
  } catch (error) {
    await worker.close();
    throw error;
  }
  return worker;
}

export class FetchWorker extends EventEmitter<FetchWorkerEvents> implements AsyncDisposable {
  readonly name: string;
  readonly stats: FetchWorkerStats = { tasks: 0, pages: 0, rows: 0, failed: 0, refused: 0, throttled: 0, dropped: 0 };
  readonly #options: ResolvedFetchWorkerOptions;
  readonly #logger: Logger;
  readonly #display: string;
  readonly #libraries: RedisLibraries;
  readonly #client: Redis;
  readonly #pool: FetchThreadPool;
  readonly #schedule: RequestSchedule;
  readonly #tasks: Queue<TaskEnvelope>;
  readonly #worker: Worker<TaskEnvelope>;
  readonly #resultQueues = new Map<string, { queue: Queue<ResultEnvelope>; usedAt: number }>();
  readonly #sweeper: NodeJS.Timeout;
  #downSince: number | null = null;
  #closing: Promise<void> | undefined;

  /** @internal use `startFetchWorker()` */
  constructor(options: ResolvedFetchWorkerOptions, libraries: RedisLibraries) {
    super();
    const { Queue, Worker } = libraries;
    this.#libraries = libraries;
    this.#options = options;
    this.name = options.name;
    this.#logger = options.logger.child({ component: 'fetch-worker' });
    this.#display = redactRedisUrl(options.redis);
    this.on('error', (error) => this.#logger.error({ err: error.message }, 'fetch worker error'));
    this.#client = createRedisClient(libraries, options.redis, `${options.queuePrefix}:worker-${options.name}`);
    this.#client.on('error', () => undefined);
    this.#client.on('close', () => this.#onConnectionLost());
    this.#client.on('ready', () => this.#onConnectionBack());
    // The fetch runs in these threads, never on this event loop; each request they make takes
    // a slot of the one schedule every worker shares.
    this.#schedule = new RequestSchedule(this.#client, options.queuePrefix);
    this.#pool = new FetchThreadPool({ threads: options.workers, heapLimitMb: options.heapLimitMb, schedule: this.#schedule, logger: this.#logger });
    const prefix = options.queuePrefix;
    this.#tasks = new Queue<TaskEnvelope>(TASKS_QUEUE, { connection: this.#client, prefix, streams: { events: { maxLen: EVENTS_MAX_LEN } } });
    this.#worker = new Worker<TaskEnvelope>(TASKS_QUEUE, (job) => this.#process(job), {
      connection: this.#client,
      prefix,
      name: options.name,
      // Two per thread, as in-process: a thread starts its next task without waiting on Redis.
      concurrency: options.workers * 2,
      lockDuration: options.lockDurationMs,
      stalledInterval: options.stalledIntervalMs,
      // A task of a worker that died is run again once; a second stall fails it, and the
      // writer, finding it gone with no outcome, sends it again (a bounded number of times).
      maxStalledCount: 2,
      removeOnComplete: { count: 0 },
      removeOnFail: { count: 0 },
    });
    const onError = (error: Error): void => {
      if (this.#downSince === null && !isConnectionError(error)) this.#logger.warn({ err: error.message }, 'BullMQ reported an error');
    };
    this.#tasks.on('error', onError);
    this.#worker.on('error', onError);
    this.#sweeper = setInterval(() => this.#sweepResultQueues(), RESULTS_QUEUE_IDLE_MS / 2);
    this.#sweeper.unref();
  }

  /** Resolves once the worker's connections are up. */
  async ready(): Promise<void> {
    const ready = withTimeout(Promise.all([this.#worker.waitUntilReady(), this.#tasks.waitUntilReady()]).then(() => true), this.#options.connectTimeoutMs * 2);
    if ((await ready) === undefined) throw new SourceError(`Redis at ${this.#display} did not get ready within ${this.#options.connectTimeoutMs * 2} ms`);
    this.#logger.info({ redis: this.#display, queuePrefix: this.#options.queuePrefix, threads: this.#options.workers, name: this.name, version: PACKAGE_VERSION },
      'fetch worker ready: taking tasks from Redis');
  }

  /** Stops taking tasks, finishes (and answers) the tasks in hand, then closes. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- one task ------------------------------------------------------------------------------

  async #process(job: Job<TaskEnvelope>): Promise<void> {
    const envelope = job.data as Partial<TaskEnvelope> | null;
    if (envelope === null || typeof envelope !== 'object' || typeof envelope.taskId !== 'string' ||
        typeof envelope.replyTo !== 'string' || runIdOfResultsQueue(envelope.replyTo) === null) {
      this.#logger.error({ jobId: job.id }, 'a job on the tasks queue is not a league-backfill fetch task; it was failed and removed');
      throw new this.#libraries.UnrecoverableError('not a league-backfill fetch task');
    }
    const runId = runIdOfResultsQueue(envelope.replyTo)!;
    if (envelope.protocol !== PROTOCOL || envelope.version !== PACKAGE_VERSION) {
      this.stats.refused++;
      const message = `Worker ${this.name} runs league-backfill ${PACKAGE_VERSION} (protocol ${PROTOCOL}) and refused a task of ` +
        `version ${String(envelope.version)} (protocol ${String(envelope.protocol)}), which it may not read the same way: ` +
        `run workers of the writer's version (${String(envelope.version)}) and stop the others; the committed pages are kept`;
      this.#logger.error({ taskId: envelope.taskId, taskVersion: envelope.version }, message);
      await this.#reply(envelope.replyTo, envelope.taskId, { ok: false, error: serializeError(new SourceError(message)) });
      return;
    }
    if (!(await this.#writerAlive(runId))) {
      this.stats.dropped++;
      this.#logger.info({ taskId: envelope.taskId }, 'skipped a task whose writer is gone');
      return;
    }
    const task = envelope.task!;
    const started = performance.now();
    let outcome: FetchTaskOutcome;
    try {
      const rate = typeof envelope.requestsPerSecond === 'number' && envelope.requestsPerSecond > 0 ? envelope.requestsPerSecond : 0;
      outcome = { ok: true, result: await this.#pool.run(task, rate) };
    } catch (error) {
      outcome = { ok: false, error: serializeError(error) };
    }
    if (!outcome.ok && isThrottle(outcome.error) && job.attemptsStarted <= MAX_THROTTLE_ROUNDS) {
      // The API says every worker is too fast, not just this one: pause the whole queue, on
      // every machine, and put the task back (BullMQ does not count it as a failure).
      this.stats.throttled++;
      this.#logger.warn({ taskId: envelope.taskId, pauseMs: this.#options.throttlePauseMs, round: job.attemptsStarted },
        'the API throttled this task through all its retries; pausing the queue for every worker');
      await Promise.all([this.#tasks.rateLimit(this.#options.throttlePauseMs), this.#schedule.pause(this.#options.throttlePauseMs)]);
      throw this.#libraries.Worker.RateLimitError();
    }
    const pages = outcome.ok ? outcome.result.pages.length : 0;
    const rows = outcome.ok ? outcome.result.pages.reduce((sum, page) => sum + page.batches.reduce((n, batch) => n + batch.rowCount, 0), 0) : 0;
    if (!(await this.#writerAlive(runId))) {
      this.stats.dropped++;
      this.#logger.info({ taskId: envelope.taskId }, 'dropped the outcome of a task whose writer is gone');
      return;
    }
    await this.#reply(envelope.replyTo, envelope.taskId, outcome);
    this.stats.tasks++;
    this.stats.pages += pages;
    this.stats.rows += rows;
    if (!outcome.ok) this.stats.failed++;
    const event: FetchTaskEvent = {
      taskId: envelope.taskId, jobId: task.job.jobId, start: task.start, pages, rows, ms: performance.now() - started,
      ...(outcome.ok ? {} : { error: outcome.error }),
    };
    this.emit('task', event);
  }

  async #reply(replyTo: string, taskId: string, outcome: FetchTaskOutcome): Promise<void> {
    const result: ResultEnvelope = { protocol: PROTOCOL, version: PACKAGE_VERSION, taskId, worker: this.name, outcome };
    // The task id is the result's job id too: a task run twice (stalled) while its first
    // outcome still waits adds nothing, and a later one is ignored by the writer.
    await this.#resultsQueue(replyTo).add(RESULT_JOB_NAME, result, { jobId: taskId, removeOnComplete: true, removeOnFail: true });
  }

  #resultsQueue(name: string): Queue<ResultEnvelope> {
    let entry = this.#resultQueues.get(name);
    if (!entry) {
      entry = { queue: new this.#libraries.Queue<ResultEnvelope>(name, { connection: this.#client, prefix: this.#options.queuePrefix, streams: { events: { maxLen: EVENTS_MAX_LEN } } }), usedAt: 0 };
      entry.queue.on('error', () => undefined);
      this.#resultQueues.set(name, entry);
    }
    entry.usedAt = Date.now();
    return entry.queue;
  }

  /** Queue objects of writers not heard of lately are closed (they share the one connection). */
  #sweepResultQueues(): void {
    const now = Date.now();
    for (const [name, entry] of this.#resultQueues) {
      if (now - entry.usedAt < RESULTS_QUEUE_IDLE_MS) continue;
      this.#resultQueues.delete(name);
      void entry.queue.close().catch(() => undefined);
    }
  }

  async #writerAlive(runId: string): Promise<boolean> {
    return (await this.#client.exists(heartbeatKey(this.#options.queuePrefix, runId))) === 1;
  }

  // ---- connection ----------------------------------------------------------------------------

  #onConnectionLost(): void {
    if (this.#closing || this.#downSince !== null) return;
    this.#downSince = Date.now();
    this.#logger.warn({ redis: this.#display }, 'lost the connection to Redis; reconnecting (tasks in hand are answered once it is back)');
    this.emit('redis:lost');
  }

  #onConnectionBack(): void {
    if (this.#closing || this.#downSince === null) return;
    const downMs = Date.now() - this.#downSince;
    this.#downSince = null;
    this.#logger.info({ redis: this.#display, downMs }, 'Redis is back');
    this.emit('redis:back', downMs);
  }

  async #shutdown(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#logger.info({ name: this.name }, 'fetch worker stopping: finishing the tasks in hand');
    const graceful = await withTimeout(this.#worker.close().then(() => true), CLOSE_TIMEOUT_MS).catch(() => undefined);
    if (graceful === undefined) {
      this.#logger.warn({ timeoutMs: CLOSE_TIMEOUT_MS }, 'tasks in hand did not finish in time (is Redis gone?); stopping anyway');
      await withTimeout(this.#worker.close(true).catch(() => undefined), 5000);
    }
    const steps: Array<() => Promise<unknown>> = [
      () => this.#pool.close(),
      () => Promise.all([...this.#resultQueues.values()].map((entry) => entry.queue.close())),
      () => this.#tasks.close(),
      () => this.#client.quit(),
    ];
    for (const step of steps) {
      await withTimeout(step().catch(() => undefined), 5000);
    }
    this.#resultQueues.clear();
    this.#client.disconnect();
    this.#logger.info({ name: this.name, ...this.stats }, 'fetch worker stopped');
    this.emit('closed');
  }
}

/** An error that, after the client's own retries, still says the API throttles us. */
function isThrottle(error: SerializedError): boolean {
  return error.code === 'ERR_SOURCE' && error.transient === true && /HTTP (999|429)\b/.test(error.message);
}
