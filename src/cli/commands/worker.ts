import type { Command } from 'commander';
import { DEFAULT_QUEUE_PREFIX, InvalidOptionError, PACKAGE_VERSION, startFetchWorker, type FetchWorkerStats } from '../../index.js';
import { printJson, type CliContext } from '../context.js';
import { addExamples, addExitCodes, withDefault } from '../help.js';
import { EXIT } from '../exit-codes.js';
import { parseInteger } from '../parse.js';

/** How often a worker with something new to say logs its totals. */
const PROGRESS_INTERVAL_MS = 10_000;

export function describe(command: Command): void {
  command
    .option('--redis <url>', `the Redis server of the writer, e.g. redis://10.0.0.5:6379${withDefault('none', 'LEAGUE_BACKFILL_REDIS')}`)
    .option('--workers <n>', 'fetch threads in this process (1-64)', (v) => parseInteger(v, '--workers', 1, 64), 2)
    .option('--queue-prefix <prefix>', `BullMQ key prefix: the writer's${withDefault(DEFAULT_QUEUE_PREFIX, 'LEAGUE_BACKFILL_QUEUE_PREFIX')}`)
    .option('--lock-duration <ms>', 'how long a task of a worker that died stays locked before another worker runs it again',
      (v) => parseInteger(v, '--lock-duration', 500, 600_000), 30_000)
    .option('--throttle-pause <ms>', 'how long every worker pauses when the API still throttles (HTTP 999/429) after its retries',
      (v) => parseInteger(v, '--throttle-pause', 0, 3_600_000), 60_000);
  command.addHelpText('after', `
Takes fetch tasks from Redis, fetches and parses the pages in its own threads (the same fetch
task as an in-process backfill), and sends the rows back to the one writer, which commits them
(\`league-backfill backfill --redis URL\` on the machine that has the database). Start as many
workers, on as many machines, as the source allows; the writer's --rate holds across all of them.
Runs until SIGINT or SIGTERM, then finishes and answers the tasks in hand before it exits.

Yahoo credentials come from this machine's environment (YAHOO_CLIENT_ID, YAHOO_CLIENT_SECRET and
YAHOO_REFRESH_TOKEN, or YAHOO_ACCESS_TOKEN; see docs/yahoo.md): no token or secret is ever
written to Redis. A worker serves only tasks of its own version (${PACKAGE_VERSION}) and refuses others.`);
  addExamples(command, [
    ['league-backfill worker --redis redis://10.0.0.5:6379', 'two fetch threads for the writer at 10.0.0.5'],
    ['LEAGUE_BACKFILL_REDIS=redis://10.0.0.5:6379 league-backfill worker --workers 4', 'the URL from the environment'],
    ['league-backfill worker --redis redis://:secret@redis.internal:6379/2 --queue-prefix nightly', 'a password, a database number, a prefix'],
  ]);
  addExitCodes(command, [
    [EXIT.ok, 'stopped by SIGINT or SIGTERM after answering the tasks in hand'],
    [EXIT.failed, 'the worker failed while running'],
    [EXIT.usage, 'bad usage, or Redis unreachable at start (the message names the URL)'],
  ]);
}

interface WorkerCliOptions {
  redis?: string;
  workers: number;
  queuePrefix?: string;
  lockDuration: number;
  throttlePause: number;
}

export async function run(context: CliContext, raw: Record<string, unknown>): Promise<number> {
  const options = raw as unknown as WorkerCliOptions;
  const redis = options.redis ?? nonEmpty(context.env.LEAGUE_BACKFILL_REDIS);
  if (redis === undefined) {
    throw new InvalidOptionError('--redis', 'the URL of the writer\'s Redis server, such as redis://127.0.0.1:6379 (or set LEAGUE_BACKFILL_REDIS)', undefined);
  }
  const queuePrefix = options.queuePrefix ?? nonEmpty(context.env.LEAGUE_BACKFILL_QUEUE_PREFIX);
  if (context.signal.aborted) return EXIT.ok;
  const worker = await startFetchWorker({
    redis,
    workers: options.workers,
    lockDurationMs: options.lockDuration,
    throttlePauseMs: options.throttlePause,
    logger: context.logger,
    ...(queuePrefix !== undefined ? { queuePrefix } : {}),
  });
  worker.on('task', (event) => {
    if (event.error) context.logger.warn({ taskId: event.taskId, jobId: event.jobId, start: event.start, code: event.error.code }, event.error.message);
    else context.logger.debug({ taskId: event.taskId, jobId: event.jobId, start: event.start, pages: event.pages, rows: event.rows, ms: Math.round(event.ms) }, 'task done');
  });
  let reported = '';
  const progress = setInterval(() => {
    const now = JSON.stringify(worker.stats);
    if (now === reported) return;
    reported = now;
    context.logger.info({ ...worker.stats }, 'worker progress');
  }, PROGRESS_INTERVAL_MS);
  progress.unref();
  try {
    await new Promise<void>((resolve) => {
      if (context.signal.aborted) resolve();
      else context.signal.addEventListener('abort', () => resolve(), { once: true });
    });
  } finally {
    clearInterval(progress);
    await worker.close();
  }
  if (context.json) printJson(context, summary(worker.name, worker.stats));
  return EXIT.ok;
}

function summary(name: string, stats: FetchWorkerStats): Record<string, unknown> {
  return { worker: name, version: PACKAGE_VERSION, ...stats };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}
