/**
 * Faults of the distributed mode, against a real redis-server and real worker processes:
 * Redis restarting mid-run, Redis gone for good, Redis not there at start, a worker of
 * another version, and credentials that must never reach Redis.
 */
import { cpSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  bullmqTransport, createEngine, demoSource, PACKAGE_VERSION, PROFILES, yahooSource, type EngineOptions, type FetchTransportFactory, type SourceSpec,
} from '../dist/src/index.js';
import type { BullmqTransport } from '../dist/src/distributed/transport.js';
import { BIN, runCli } from './helpers/cli.js';
import { startFakeYahooServer, seasonFixtureKeys, type FakeYahooServer } from './helpers/fake-yahoo-server.js';
import { committedRows, readTable } from './helpers/processes.js';
import { freePort, startRedisServer, startWorkerProcess, type RedisServer, type WorkerProcess } from './helpers/redis-server.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir();
const LEAGUES = ['461.l.501', '461.l.502'];
const SEASONS = [2021, 2022, 2023, 2024];
const SEED = 41;

/** What a promise that must fail rejects with (a promise that resolves fails the test). */
async function rejectionOf<E = Error & { code?: string; cause?: unknown }>(promise: Promise<unknown>): Promise<E> {
  return promise.then(
    () => { throw new Error('expected a rejection, but the promise resolved'); },
    (caught: unknown) => caught as E,
  );
}

let redis: RedisServer;
let referenceKeys: string[];
const running: WorkerProcess[] = [];

async function startWorker(args: string[], env: NodeJS.ProcessEnv = {}, bin = BIN): Promise<WorkerProcess> {
  const worker = await startWorkerProcess(bin, redis.url, args, env);
  running.push(worker);
  return worker;
}

interface RunOutcome {
  failed: string[];
  completed: number;
}

async function backfill(database: string, options: Partial<EngineOptions> = {}, latencyMs = 0, jobs = LEAGUES.flatMap((leagueKey) => SEASONS.map((season) => ({ leagueKey, season })))): Promise<RunOutcome> {
  const engine = await createEngine({ database, source: demoSource({ seed: SEED, latencyMs }), flags: PROFILES.recommended, ...options });
  try {
    const outcomes = await Promise.allSettled(jobs.map((job) => engine.enqueue(job).done));
    return {
      failed: outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [String((outcome.reason as Error).message)] : [])),
      completed: engine.totals.completed,
    };
  } finally {
    await engine.close();
  }
}

function captured(factory: FetchTransportFactory): { factory: FetchTransportFactory; transport: () => BullmqTransport } {
  let made: BullmqTransport | undefined;
  return {
    factory: async (context) => {
      made = (await factory(context)) as BullmqTransport;
      return made;
    },
    transport: () => made!,
  };
}

async function waitForRows(db: string, rows: number): Promise<void> {
  const until = Date.now() + 30_000;
  while (committedRows(db) < rows) {
    if (Date.now() > until) throw new Error(`fewer than ${rows} rows committed in time`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

beforeAll(async () => {
  redis = await startRedisServer();
  const db = join(tempDir(), 'reference.db');
  expect((await backfill(db)).failed).toEqual([]);
  referenceKeys = readTable(db).keys;
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((worker) => worker.stop('SIGKILL')));
  await redis.start();
});

afterAll(async () => {
  await redis?.close();
});

describe('Redis stopping mid-run', () => {
  it('for a few seconds: workers and writer reconnect, lost tasks are sent again, the run completes with the whole table', async () => {
    const prefix = 'restart';
    // Two workers of one thread take 4 tasks at a time; 8 jobs in flight leave tasks waiting in
    // Redis, which the restart loses.
    const args = ['--workers', '1', '--queue-prefix', prefix, '--lock-duration', '2000'];
    await startWorker(args);
    await startWorker(args);
    const db = join(tempDir(), 'restart.db');
    const captive = captured(bullmqTransport({ redis: redis.url, queuePrefix: prefix, checkIntervalMs: 300 }));
    const run = backfill(db, { pagesPerTask: 2, concurrency: 8, transport: captive.factory }, 15);
    await waitForRows(db, referenceKeys.length / 5);
    // No persistence: it comes back empty, every waiting task and result gone.
    await redis.stop();
    const atStop = committedRows(db);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    await redis.start();
    const { failed } = await run;
    expect(failed).toEqual([]);
    expect(atStop).toBeLessThan(referenceKeys.length);
    expect(captive.transport().resentTasks).toBeGreaterThan(0);
    const table = readTable(db);
    expect(table.keys).toEqual(referenceKeys);
    expect(table.statuses).toEqual({ completed: LEAGUES.length * SEASONS.length });
  }, 120_000);

  it('for longer than the writer waits: the run fails with a clear, resumable error, and the next run completes the table', async () => {
    const prefix = 'outage';
    const args = ['--workers', '2', '--queue-prefix', prefix];
    await startWorker(args);
    const db = join(tempDir(), 'outage.db');
    const run = backfill(db, { pagesPerTask: 1, concurrency: 4, transport: bullmqTransport({ redis: redis.url, queuePrefix: prefix, outageTimeoutMs: 1500, checkIntervalMs: 200 }) }, 20);
    await waitForRows(db, 1000);
    await redis.stop();
    const started = performance.now();
    const outcome = await run;
    expect(performance.now() - started).toBeLessThan(15_000);
    expect(outcome.failed.length).toBeGreaterThan(0);
    expect(outcome.failed.length + outcome.completed).toBe(LEAGUES.length * SEASONS.length);
    for (const message of outcome.failed) {
      expect(message).toMatch(new RegExp(`Lost Redis at ${redis.url.replace(/[/.]/g, '\\$&')} for more than \\d+ s; the pages committed so far are kept: start Redis again and run the same command to resume`));
    }
    const afterFailure = readTable(db);
    expect(afterFailure.keys.length).toBeLessThan(referenceKeys.length);
    expect(afterFailure.statuses['failed']).toBe(outcome.failed.length);

    await redis.start();
    const again = await backfill(db, { transport: bullmqTransport({ redis: redis.url, queuePrefix: prefix }) });
    expect(again.failed).toEqual([]);
    const table = readTable(db);
    expect(table.keys).toEqual(referenceKeys);
    expect(table.distinctKeys).toBe(table.rows);
  }, 120_000);
});

describe('Redis unreachable at start', () => {
  it('fails the engine start fast with ERR_INVALID_OPTION naming the URL', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const db = join(tempDir(), 'unreachable.db');
    const started = performance.now();
    const error = await createEngine({ database: db, source: demoSource(), transport: bullmqTransport({ redis: url }) }).catch((caught: unknown) => caught);
    expect(performance.now() - started).toBeLessThan(5000);
    expect(error).toMatchObject({ code: 'ERR_INVALID_OPTION' });
    expect((error as Error).message).toContain(`Cannot reach Redis at ${url} (ECONNREFUSED)`);
  });

  it('makes the worker command exit 2 within a few seconds, naming the URL but never its password', async () => {
    const port = await freePort();
    const started = performance.now();
    const result = await runCli(['worker', '--redis', `redis://:s3cret-pass@127.0.0.1:${port}`], { timeoutMs: 20_000 });
    expect(performance.now() - started).toBeLessThan(8000);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`Cannot reach Redis at redis://:***@127.0.0.1:${port} (ECONNREFUSED)`);
    expect(result.stderr).not.toContain('s3cret-pass');
  });

  it('makes the worker command exit 2 without a URL, or with one that is not Redis\'s', async () => {
    const missing = await runCli(['worker'], { env: { LEAGUE_BACKFILL_REDIS: '' } });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/Expected `--redis` to be the URL of the writer's Redis server/);
    const wrong = await runCli(['worker', '--redis', 'http://127.0.0.1:6379']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/Redis URL such as redis:\/\/127.0.0.1:6379/);
  });
});

describe('a worker of another version', () => {
  it('refuses the task, and the job fails with a message naming both versions', async () => {
    // A real install of another version: the built package with another package.json.
    const root = tempDir();
    const pkg = join(root, 'league-backfill-old');
    mkdirSync(join(pkg, 'dist'), { recursive: true });
    cpSync(fileURLToPath(new URL('../dist/src', import.meta.url)), join(pkg, 'dist', 'src'), { recursive: true });
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'league-backfill', version: '0.0.1-old', type: 'module' }));
    symlinkSync(fileURLToPath(new URL('../node_modules', import.meta.url)), join(pkg, 'node_modules'));
    const old = await startWorker(['--queue-prefix', 'versions'], {}, join(pkg, 'dist', 'src', 'cli', 'bin.js'));
    expect(old.output.stderr).toMatch(/"version":"0.0.1-old"/);

    const db = join(tempDir(), 'versions.db');
    const outcome = await backfill(db, { transport: bullmqTransport({ redis: redis.url, queuePrefix: 'versions' }) }, 0, [{ leagueKey: LEAGUES[0]!, season: 2024 }]);
    expect(outcome.failed).toHaveLength(1);
    expect(outcome.failed[0]).toContain(`runs league-backfill 0.0.1-old (protocol 1) and refused a task of version ${PACKAGE_VERSION}`);
    expect(outcome.failed[0]).toContain(`run workers of the writer's version (${PACKAGE_VERSION})`);
    expect(readTable(db).rows).toBe(0);
    const check = new Database(db, { readonly: true });
    const job = check.prepare('SELECT status, error FROM job_log').get() as { status: string; error: string };
    check.close();
    expect(job.status).toBe('failed');
    expect(job.error).toContain('refused a task of version');
    const { stats } = await old.finish();
    expect(stats).toMatchObject({ refused: 1, tasks: 0 });
  }, 60_000);
});

describe('credentials', () => {
  let yahoo: FakeYahooServer;
  beforeAll(async () => {
    yahoo = await startFakeYahooServer();
  });
  afterAll(async () => {
    await yahoo?.close();
  });

  it('never reach Redis: the writer\'s are stripped, each worker uses its own from its environment', async () => {
    const prefix = 'secrets';
    // The worker's own credentials: the ones the API accepts.
    await startWorker(['--queue-prefix', prefix], { YAHOO_ACCESS_TOKEN: yahoo.accessToken, YAHOO_CLIENT_ID: '', YAHOO_CLIENT_SECRET: '', YAHOO_REFRESH_TOKEN: '' });
    // The writer's: different, and never to be seen by Redis.
    const writerSecrets = {
      accessToken: 'writer-access-token-QmV5aW5nIHNlY3JldA', clientId: 'writer-client-id-dj0yJmk9Zm9v',
      clientSecret: 'writer-client-secret-8c7b6a5f4e', refreshToken: 'writer-refresh-token-AOk9Zz1x',
    };
    const source: SourceSpec = yahooSource({ apiBase: yahoo.apiBase, tokenUrl: yahoo.tokenUrl, ...writerSecrets, retryDelayMs: 10 });
    const monitor = redis.client();
    const seen: string[] = [];
    const watcher = await monitor.monitor();
    watcher.on('monitor', (_time: string, args: string[]) => seen.push(args.join(' ')));
    // ioredis may take a MONITOR line that arrives with the reply to MONITOR itself for a reply
    // with no command waiting, and emit it as an error ("Command queue state error ... Last
    // reply: <the line>"): that line is a command Redis saw too, so it is checked like the others.
    watcher.on('error', (error: Error) => seen.push(error.message));

    const db = join(tempDir(), 'yahoo.db');
    const engine = await createEngine({ database: db, source, flags: PROFILES.recommended, requestsPerSecond: 0, transport: bullmqTransport({ redis: redis.url, queuePrefix: prefix }) });
    try {
      const summaries = await Promise.all([2020, 2019].map((season) => engine.enqueue({ leagueKey: '403.l.17457', season }).done));
      expect(summaries.every((summary) => summary.status === 'completed')).toBe(true);
    } finally {
      await engine.close();
      watcher.disconnect();
    }
    const table = readTable(db);
    expect(table.keys.filter((key) => key.startsWith('403.'))).toEqual(seasonFixtureKeys());
    expect(seen.some((command) => command.includes('403.l.17457'))).toBe(true); // the monitor saw the tasks
    for (const secret of [...Object.values(writerSecrets), yahoo.accessToken]) {
      expect(seen.filter((command) => command.includes(secret))).toEqual([]);
    }
    // Every API request carried the worker's token, none the writer's.
    const api = yahoo.requests.filter((request) => request.path.startsWith('/fantasy/v2'));
    expect(api.length).toBeGreaterThan(0);
    expect(api.every((request) => request.authorization === `Bearer ${yahoo.accessToken}`)).toBe(true);
  }, 60_000);

  it('missing on a worker: the job fails with the worker\'s ERR_AUTH message naming the variables', async () => {
    const prefix = 'no-secrets';
    await startWorker(['--queue-prefix', prefix], { YAHOO_ACCESS_TOKEN: '', YAHOO_CLIENT_ID: '', YAHOO_CLIENT_SECRET: '', YAHOO_REFRESH_TOKEN: '' });
    const source = yahooSource({ apiBase: yahoo.apiBase, tokenUrl: yahoo.tokenUrl, accessToken: yahoo.accessToken });
    const db = join(tempDir(), 'no-secrets.db');
    const engine = await createEngine({ database: db, source, flags: PROFILES.recommended, transport: bullmqTransport({ redis: redis.url, queuePrefix: prefix }) });
    try {
      const error = await rejectionOf(engine.enqueue({ leagueKey: '403.l.17457', season: 2020 }).done);
      expect(`${error.message} ${String((error.cause as Error | undefined)?.message)}`).toMatch(/No Yahoo credentials: set YAHOO_CLIENT_ID/);
    } finally {
      await engine.close();
    }
  }, 60_000);
});
