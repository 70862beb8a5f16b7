/**
 * The writer's end of the distributed mode: a FetchTransport that puts fetch tasks on a BullMQ
 * queue in Redis and takes their outcomes from a results queue of its own.
 *
 * - One task per `run()`; the engine keeps one in flight per job, so what waits in Redis and
 *   in `#pending` is bounded by the engine's concurrency.
 * - Outcomes come back as job data on `results-<run>` (never return values or QueueEvents),
 *   matched by task id; one that arrives twice or late (a stalled task run again) finds no
 *   pending task and is dropped. Tasks and results are removed from Redis as they finish.
 * - A task that vanishes from Redis without an outcome (Redis restarted empty, a task failed
 *   by BullMQ's stall limit) is sent again, a few times, then reported as a transient error.
 * - Redis gone for longer than `outageTimeoutMs`: every pending and new task fails with a clear
 *   error; what was committed stays, and the next run resumes.
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { BackfillError, ClosedError, SourceError, deserializeError } from '../errors.js';
import { silentLogger, type Logger } from '../logger.js';
import type { SourceSpec } from '../source/types.js';
import type { FetchTask, FetchTaskResult } from '../workers/protocol.js';
import type { FetchTransport, FetchTransportContext, FetchTransportFactory } from '../workers/transport.js';
import { assertNoSecrets, stripCredentials } from './credentials.js';
import { checkInteger, checkObject, checkQueuePrefix, rejectUnknown } from './options.js';
import {
  PROTOCOL, RESULT_JOB_NAME, TASKS_QUEUE, TASK_JOB_NAME, heartbeatKey, resultsQueueName, runIdOfResultsQueue,
  type ResultEnvelope, type TaskEnvelope,
} from './protocol.js';
import { isUnlimited, limiterFor } from './rate-limit.js';
import { loadRedisLibraries, type RedisLibraries } from './libraries.js';
import { checkRedisUrl, createRedisClient, isConnectionError, probeRedis, redactRedisUrl, withTimeout } from './redis.js';
import { PACKAGE_VERSION } from './version.js';

export interface BullmqTransportOptions {
  /** Redis URL, `redis://host:port[/db]` (a password in it is never logged). */
  readonly redis: string;
  /**
   * BullMQ key prefix: the writer and its workers must use the same one. Writers that share a
   * prefix share the tasks queue and its rate limit. @default 'league-backfill'
   */
  readonly queuePrefix?: string;
  /** How long the first connection may take before the start fails. @default 3000 */
  readonly connectTimeoutMs?: number;
  /** How long Redis may be unreachable mid-run before pending tasks fail (resumable). @default 30000 */
  readonly outageTimeoutMs?: number;
  /** How often pending tasks are checked for having vanished from Redis. @default 2000 */
  readonly checkIntervalMs?: number;
  /** Times a vanished task is sent again before it fails as transient. @default 3 */
  readonly maxResends?: number;
  /** @default a silent logger */
  readonly logger?: Logger;
}

export interface ResolvedBullmqTransportOptions {
  redis: string;
  queuePrefix: string;
  connectTimeoutMs: number;
  outageTimeoutMs: number;
  checkIntervalMs: number;
  maxResends: number;
  logger: Logger;
}

const OPTION_NAMES = ['redis', 'queuePrefix', 'connectTimeoutMs', 'outageTimeoutMs', 'checkIntervalMs', 'maxResends', 'logger'] as const;

export function resolveBullmqTransportOptions(options: BullmqTransportOptions): ResolvedBullmqTransportOptions {
  const object = checkObject(options, 'bullmqTransport', '{ redis: "redis://127.0.0.1:6379" }');
  rejectUnknown(object, OPTION_NAMES, 'bullmqTransport');
  return {
    redis: checkRedisUrl(object['redis'], 'redis'),
    queuePrefix: checkQueuePrefix(object['queuePrefix'], 'queuePrefix'),
    connectTimeoutMs: checkInteger('connectTimeoutMs', object['connectTimeoutMs'], 3000, 100, 60_000),
    outageTimeoutMs: checkInteger('outageTimeoutMs', object['outageTimeoutMs'], 30_000, 1000, 3_600_000),
    checkIntervalMs: checkInteger('checkIntervalMs', object['checkIntervalMs'], 2000, 50, 60_000),
    maxResends: checkInteger('maxResends', object['maxResends'], 3, 0, 100),
    logger: (object['logger'] as Logger | undefined) ?? silentLogger(),
  };
}

/**
 * Fetch tasks through Redis, to `league-backfill worker` processes on any machine:
 * `createEngine({ database, source, transport: bullmqTransport({ redis: 'redis://127.0.0.1:6379' }) })`.
 * The options are checked here; Redis is reached when the engine starts (an unreachable
 * server fails the start within `connectTimeoutMs` with `ERR_INVALID_OPTION` naming the URL).
 * The engine's `requestsPerSecond` becomes the tasks queue's global rate limit.
 */
export function bullmqTransport(options: BullmqTransportOptions): FetchTransportFactory {
  const resolved = resolveBullmqTransportOptions(options);
  return (context) => BullmqTransport.start(resolved, context);
}

interface Pending {
  readonly envelope: TaskEnvelope;
  resolve(result: FetchTaskResult): void;
  reject(error: Error): void;
  /** Set once the task is in Redis: only then can it be missed. */
  added: boolean;
  /** When the task was first seen missing from Redis with no outcome in. */
  missingSince: number | null;
  resends: number;
  detach(): void;
}

/** How long before the heartbeat key expires; refreshed three times as often. */
const HEARTBEAT_TTL_MS = 30_000;
const CLOSE_STEP_TIMEOUT_MS = 5000;
const EVENTS_MAX_LEN = 100;

export class BullmqTransport implements FetchTransport {
  readonly #options: ResolvedBullmqTransportOptions;
  readonly #logger: Logger;
  readonly #libraries: RedisLibraries;
  readonly #client: Redis;
  readonly #tasks: Queue<TaskEnvelope>;
  readonly #resultsQueue: Queue<ResultEnvelope>;
  readonly #results: Worker<ResultEnvelope>;
  readonly #runId: string;
  readonly #display: string;
  readonly #requestsPerSecond: number;
  readonly #pending = new Map<string, Pending>();
  readonly #stripped = new WeakMap<SourceSpec, { spec: SourceSpec; secrets: string[] }>();
  readonly #timers: NodeJS.Timeout[] = [];
  #seq = 0;
  #downSince: number | null = null;
  #outage: BackfillError | null = null;
  #checking = false;
  #closing: Promise<void> | undefined;
  /** Outcomes that matched no pending task (late or repeated), for the curious. */
  ignoredResults = 0;
  resentTasks = 0;

  /** @internal use `bullmqTransport()` */
  private constructor(libraries: RedisLibraries, options: ResolvedBullmqTransportOptions, client: Redis, runId: string, requestsPerSecond: number) {
    const { Queue, Worker } = libraries;
    this.#libraries = libraries;
    this.#options = options;
    this.#logger = options.logger.child({ component: 'bullmq-transport' });
    this.#client = client;
    this.#runId = runId;
    this.#display = redactRedisUrl(options.redis);
    this.#requestsPerSecond = requestsPerSecond;
    const prefix = options.queuePrefix;
    this.#tasks = new Queue<TaskEnvelope>(TASKS_QUEUE, {
      connection: client, prefix, streams: { events: { maxLen: EVENTS_MAX_LEN } },
      defaultJobOptions: { removeOnComplete: true, removeOnFail: true, attempts: 1 },
    });
    const resultsName = resultsQueueName(runId);
    this.#resultsQueue = new Queue<ResultEnvelope>(resultsName, { connection: client, prefix, streams: { events: { maxLen: EVENTS_MAX_LEN } } });
    this.#results = new Worker<ResultEnvelope>(resultsName, (job) => this.#onResult(job), {
      connection: client, prefix,
      // Taking an outcome is a map lookup: many at once costs nothing and keeps Redis empty.
      concurrency: 64,
      removeOnComplete: { count: 0 }, removeOnFail: { count: 0 },
      name: `writer-${runId}`,
    });
    // Connection errors are reported once per outage (below); others are worth a line.
    const onError = (error: Error): void => {
      if (this.#downSince === null && !isConnectionError(error)) this.#logger.warn({ err: error.message }, 'BullMQ reported an error');
    };
    this.#tasks.on('error', onError);
    this.#resultsQueue.on('error', onError);
    this.#results.on('error', onError);
    client.on('close', () => this.#onConnectionLost());
    client.on('ready', () => this.#onConnectionBack());
  }

  /** Connects, registers this run in Redis and starts taking results. */
  static async start(options: ResolvedBullmqTransportOptions, context: FetchTransportContext): Promise<BullmqTransport> {
    const libraries = await loadRedisLibraries();
    await probeRedis(options.redis, options.connectTimeoutMs, '--redis (or LEAGUE_BACKFILL_REDIS)');
    const runId = randomBytes(8).toString('hex');
    const client = createRedisClient(libraries, options.redis, `${options.queuePrefix}:writer-${runId}`);
    // ioredis reports every failed reconnection as an 'error' event; the transport logs outages itself.
    client.on('error', () => undefined);
    const transport = new BullmqTransport(libraries, options, client, runId, context.requestsPerSecond);
    try {
      await withTimeout(transport.#register(), options.connectTimeoutMs * 2);
      if (transport.#downSince !== null) throw new Error('the connection was lost while starting');
    } catch (error) {
      await transport.close();
      throw new BackfillError('ERR_INVALID_OPTION', `Could not start the distributed run on Redis at ${transport.#display}: ${(error as Error).message}`, { cause: error });
    }
    return transport;
  }

  /** The run's id: its results queue is `results-<id>`. */
  get runId(): string {
    return this.#runId;
  }

  /** Tasks sent and not yet answered. */
  get pendingTasks(): number {
    return this.#pending.size;
  }

  run(task: FetchTask, signal?: AbortSignal): Promise<FetchTaskResult> {
    if (this.#closing) return Promise.reject(new ClosedError('The BullMQ transport'));
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#outage) return Promise.reject(this.#outage);
    let envelope: TaskEnvelope;
    try {
      const { spec, secrets } = this.#strip(task.source);
      envelope = {
        protocol: PROTOCOL,
        version: PACKAGE_VERSION,
        taskId: `${this.#runId}-${(++this.#seq).toString(36)}`,
        runId: this.#runId,
        replyTo: resultsQueueName(this.#runId),
        task: { ...task, source: spec },
        requestsPerSecond: this.#requestsPerSecond,
      };
      if (secrets.length > 0) assertNoSecrets(JSON.stringify(envelope), secrets);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<FetchTaskResult>((resolve, reject) => {
      const onAbort = (): void => {
        if (!this.#settle(envelope.taskId)) return;
        // A task still waiting is taken back; one already running ends unheard.
        this.#tasks.remove(envelope.taskId).catch(() => undefined);
        reject(signal!.reason);
      };
      const entry: Pending = {
        envelope, resolve, reject, added: false, missingSince: null, resends: 0,
        detach: () => signal?.removeEventListener('abort', onAbort),
      };
      this.#pending.set(envelope.taskId, entry);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#send(entry);
    });
  }

  /** Stops taking results, takes back tasks not yet run, removes this run's keys from Redis. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ---- sending and receiving ------------------------------------------------------------------

  #strip(source: SourceSpec): { spec: SourceSpec; secrets: string[] } {
    let stripped = this.#stripped.get(source);
    if (!stripped) {
      stripped = stripCredentials(source);
      this.#stripped.set(source, stripped);
    }
    return stripped;
  }

  #send(entry: Pending): void {
    const { taskId } = entry.envelope;
    this.#tasks.add(TASK_JOB_NAME, entry.envelope, { jobId: taskId }).then(
      () => {
        entry.added = true;
      },
      (error: Error) => {
        // Connection errors never land here (commands wait for the reconnection); this is Redis
        // refusing the write, e.g. out of memory.
        if (!this.#settle(taskId)) return;
        entry.reject(new SourceError(`Redis at ${this.#display} refused the fetch task (${error.message})`, { transient: true, cause: error }));
      },
    );
  }

  /** Removes a pending task; false when it was already settled. */
  #settle(taskId: string): boolean {
    const entry = this.#pending.get(taskId);
    if (!entry) return false;
    this.#pending.delete(taskId);
    entry.detach();
    return true;
  }

  async #onResult(job: Job<ResultEnvelope>): Promise<void> {
    const result = job.data;
    const taskId = typeof result?.taskId === 'string' ? result.taskId : String(job.id);
    const entry = this.#pending.get(taskId);
    if (!entry || !this.#settle(taskId)) {
      this.ignoredResults++;
      this.#logger.debug({ taskId }, 'an outcome for no pending task (late, or sent twice) was ignored');
      return;
    }
    const outcome = result.outcome;
    const foreign = result.protocol !== PROTOCOL || result.version !== PACKAGE_VERSION;
    if (foreign && !(outcome?.ok === false && typeof outcome.error?.message === 'string')) {
      // Rows from a worker of another version are never committed: it may have read the task otherwise.
      entry.reject(new SourceError(
        `Worker ${String(result.worker)} answered with league-backfill ${String(result.version)} (protocol ${String(result.protocol)}), ` +
        `but this writer runs ${PACKAGE_VERSION} (protocol ${PROTOCOL}): run workers of version ${PACKAGE_VERSION}`));
      return;
    }
    // A failure is passed on whoever sent it: a refusal by a worker of another version says best what to do.
    if (outcome?.ok === true && Array.isArray(outcome.result?.pages)) {
      entry.resolve(outcome.result);
    } else if (outcome?.ok === false && typeof outcome.error?.message === 'string') {
      entry.reject(deserializeError(outcome.error));
    } else {
      entry.reject(new SourceError(`Worker ${String(result.worker)} sent an outcome this writer cannot read for task ${taskId}`));
    }
  }

  // ---- Redis state ----------------------------------------------------------------------------

  async #register(): Promise<void> {
    await this.#beat();
    await this.#applyRateLimit();
    await this.#collectGarbage();
    const every = (ms: number, fn: () => Promise<void>): void => {
      const timer = setInterval(() => void fn().catch((error: Error) => this.#logger.debug({ err: error.message }, 'background step failed')), ms);
      timer.unref();
      this.#timers.push(timer);
    };
    every(HEARTBEAT_TTL_MS / 3, () => this.#beat());
    every(this.#options.checkIntervalMs, () => this.#check());
    this.#logger.info({ redis: this.#display, queuePrefix: this.#options.queuePrefix, runId: this.#runId, requestsPerSecond: this.#requestsPerSecond },
      'fetch tasks go through Redis to league-backfill worker processes');
  }

  async #beat(): Promise<void> {
    if (this.#downSince !== null) return;
    const value = JSON.stringify({ pid: process.pid, host: hostname(), version: PACKAGE_VERSION, startedAt: new Date().toISOString() });
    await this.#client.set(heartbeatKey(this.#options.queuePrefix, this.#runId), value, 'PX', HEARTBEAT_TTL_MS);
  }

  async #applyRateLimit(): Promise<void> {
    const wanted = limiterFor(this.#requestsPerSecond);
    const current = await this.#tasks.getGlobalRateLimit().catch(() => null);
    if (current && (current.max !== wanted.max || current.duration !== wanted.duration) && !isUnlimited(current as { max: number; duration: number })) {
      this.#logger.warn({ previous: current, now: wanted },
        'the tasks queue had another rate limit: writers that share a queue prefix share one rate limit (the last to start sets it)');
    }
    await this.#tasks.setGlobalRateLimit(wanted.max, wanted.duration);
  }

  /** Removes the results queues of runs whose writer is gone (killed): what they hold is nobody's. */
  async #collectGarbage(): Promise<void> {
    const prefix = this.#options.queuePrefix;
    const dead = new Set<string>();
    let cursor = '0';
    do {
      const [next, keys] = await this.#client.scan(cursor, 'MATCH', `${prefix}:results-*`, 'COUNT', 1000);
      cursor = next;
      for (const key of keys) {
        const name = key.slice(prefix.length + 1).split(':')[0] ?? '';
        const runId = runIdOfResultsQueue(name);
        if (runId !== null && runId !== this.#runId) dead.add(runId);
      }
    } while (cursor !== '0');
    for (const runId of dead) {
      if ((await this.#client.exists(heartbeatKey(prefix, runId))) === 1) continue;
      const queue = new this.#libraries.Queue(resultsQueueName(runId), { connection: this.#client, prefix });
      try {
        await queue.obliterate({ force: true });
        this.#logger.info({ runId }, 'removed the results queue of a writer that is gone');
      } finally {
        await queue.close();
      }
    }
  }

  #onConnectionLost(): void {
    if (this.#closing || this.#downSince !== null) return;
    this.#downSince = Date.now();
    this.#logger.warn({ redis: this.#display, waitMs: this.#options.outageTimeoutMs }, 'lost the connection to Redis; reconnecting (pending tasks wait)');
  }

  #onConnectionBack(): void {
    if (this.#closing || this.#downSince === null) return;
    const downMs = Date.now() - this.#downSince;
    this.#downSince = null;
    this.#logger.info({ redis: this.#display, downMs }, 'Redis is back');
    // A restarted Redis without persistence has forgotten the rate limit and the heartbeat.
    void this.#beat().then(() => this.#applyRateLimit()).catch((error: Error) => this.#logger.warn({ err: error.message }, 'could not restore the run\'s keys in Redis'));
  }

  /** Fails every pending task after a long outage, and sends again the tasks Redis lost. */
  async #check(): Promise<void> {
    if (this.#checking || this.#closing) return;
    this.#checking = true;
    try {
      const now = Date.now();
      if (this.#downSince !== null) {
        if (now - this.#downSince > this.#options.outageTimeoutMs && !this.#outage) this.#failEverything(now - this.#downSince);
        return;
      }
      const entries = [...this.#pending.values()].filter((entry) => entry.added);
      if (entries.length === 0) return;
      const states = await withTimeout(Promise.all(entries.map((entry) => this.#tasks.getJobState(entry.envelope.taskId))), this.#options.checkIntervalMs * 2);
      if (!states) return;
      entries.forEach((entry, index) => {
        if (this.#pending.get(entry.envelope.taskId) !== entry) return;
        if (states[index] !== 'unknown') {
          entry.missingSince = null;
          return;
        }
        // Gone from Redis: finished, with its outcome on the way, or lost. Wait a little for the outcome.
        if (entry.missingSince === null) {
          entry.missingSince = now;
          return;
        }
        if (now - entry.missingSince < this.#options.checkIntervalMs) return;
        const { taskId } = entry.envelope;
        if (entry.resends >= this.#options.maxResends) {
          if (!this.#settle(taskId)) return;
          entry.reject(new SourceError(`The fetch task ${taskId} (job ${entry.envelope.task.job.jobId}, start ${entry.envelope.task.start}) ` +
            `vanished from Redis at ${this.#display} ${entry.resends + 1} times without an outcome`, { transient: true }));
          return;
        }
        entry.resends++;
        entry.missingSince = null;
        entry.added = false;
        this.resentTasks++;
        this.#logger.warn({ taskId, jobId: entry.envelope.task.job.jobId, start: entry.envelope.task.start, resend: entry.resends },
          'a fetch task vanished from Redis without an outcome (Redis restarted, or the task stalled too often); sending it again');
        this.#send(entry);
      });
    } finally {
      this.#checking = false;
    }
  }

  #failEverything(downMs: number): void {
    this.#outage = new BackfillError('ERR_SOURCE',
      `Lost Redis at ${this.#display} for more than ${Math.round(downMs / 1000)} s; the pages committed so far are kept: ` +
      'start Redis again and run the same command to resume');
    this.#logger.error({ redis: this.#display, downMs }, this.#outage.message);
    for (const [taskId, entry] of [...this.#pending]) {
      if (this.#settle(taskId)) entry.reject(this.#outage);
    }
  }

  // ---- closing --------------------------------------------------------------------------------

  async #shutdown(): Promise<void> {
    for (const timer of this.#timers.splice(0)) clearInterval(timer);
    const leftover = [...this.#pending];
    for (const [taskId, entry] of leftover) {
      if (this.#settle(taskId)) entry.reject(new ClosedError('The BullMQ transport'));
    }
    const reachable = this.#downSince === null;
    const steps: Array<[string, () => Promise<unknown>]> = reachable
      ? [
        ['take back tasks', () => Promise.all(leftover.map(([taskId]) => this.#tasks.remove(taskId).catch(() => 0)))],
        ['results worker', () => this.#results.close()],
        ['results queue', () => this.#resultsQueue.obliterate({ force: true })],
        ['heartbeat', () => this.#client.del(heartbeatKey(this.#options.queuePrefix, this.#runId))],
        ['queues', () => Promise.all([this.#tasks.close(), this.#resultsQueue.close()])],
        ['connection', () => this.#client.quit()],
      ]
      : [];
    for (const [name, step] of steps) {
      try {
        if ((await withTimeout(step().then(() => true), CLOSE_STEP_TIMEOUT_MS)) === undefined) {
          this.#logger.warn({ step: name }, 'a close step did not finish in time; continuing');
        }
      } catch (error) {
        this.#logger.warn({ step: name, err: (error as Error).message }, 'a close step failed; continuing');
      }
    }
    // Whatever is still open (Redis gone, or a step that timed out) is cut.
    await withTimeout(this.#results.close(true).catch(() => undefined), CLOSE_STEP_TIMEOUT_MS);
    this.#client.disconnect();
  }
}
