/**
 * Backfills through real `league-backfill worker` processes and a real redis-server end with
 * exactly the table an in-process run leaves, also when a worker is SIGKILLed mid-run, and
 * Redis keeps nothing of the rows afterwards.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bullmqTransport, createEngine, demoSource, PROFILES, type EngineOptions, type FetchTransportFactory } from '../dist/src/index.js';
import type { BullmqTransport } from '../dist/src/distributed/transport.js';
import { BIN } from './helpers/cli.js';
import { committedRows } from './helpers/processes.js';
import { dumpRedis, startRedisServer, startWorkerProcess, type RedisServer, type WorkerProcess } from './helpers/redis-server.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir();
const LEAGUES = ['461.l.301', '461.l.302', '461.l.303'];
const SEASONS = [2020, 2021, 2022, 2023, 2024, 2025];
const SEED = 29;

export interface TableDump {
  transactions: unknown[];
  rejected: unknown[];
  jobs: unknown[];
}

/** Everything a backfill decides: every row of every column, the rejected records, each job's outcome. */
export function dumpTables(path: string): TableDump {
  const db = new Database(path, { readonly: true });
  try {
    return {
      transactions: db.prepare('SELECT * FROM transactions ORDER BY transaction_key, player_id').raw().all(),
      rejected: db.prepare('SELECT job_id, raw, reason FROM rejected_rows ORDER BY job_id, raw').raw().all(),
      jobs: db.prepare('SELECT job_id, status, cursor, pages_fetched, rows_fetched, rows_inserted, rows_ignored, rows_rejected FROM job_log ORDER BY job_id').raw().all(),
    };
  } finally {
    db.close();
  }
}

/** One backfill of every league and season; resolves with the engine's totals. */
async function backfill(database: string, options: Partial<EngineOptions> = {}, latencyMs = 0): Promise<{ failed: string[] }> {
  const engine = await createEngine({ database, source: demoSource({ seed: SEED, latencyMs }), flags: PROFILES.recommended, ...options });
  try {
    const handles = LEAGUES.flatMap((leagueKey) => SEASONS.map((season) => engine.enqueue({ leagueKey, season })));
    const outcomes = await Promise.allSettled(handles.map((handle) => handle.done));
    return { failed: outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [String((outcome.reason as Error).message)] : [])) };
  } finally {
    await engine.close();
  }
}

/** The factory, keeping hold of the transport it made so a test can read its counters. */
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

/** What a promise that must fail rejects with (a promise that resolves fails the test). */
async function rejectionOf<E = Error & { code?: string; cause?: unknown }>(promise: Promise<unknown>): Promise<E> {
  return promise.then(
    () => { throw new Error('expected a rejection, but the promise resolved'); },
    (caught: unknown) => caught as E,
  );
}

let redis: RedisServer;
let reference: TableDump;
const running: WorkerProcess[] = [];

/** A worker process for this test; whatever is still running when the test ends is stopped. */
async function startWorker(args: string[]): Promise<WorkerProcess> {
  const worker = await startWorkerProcess(BIN, redis.url, args);
  running.push(worker);
  return worker;
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((worker) => worker.stop('SIGKILL')));
});

beforeAll(async () => {
  redis = await startRedisServer();
  const db = join(tempDir(), 'in-process.db');
  const { failed } = await backfill(db);
  expect(failed).toEqual([]);
  reference = dumpTables(db);
  expect(reference.transactions.length).toBeGreaterThan(5000);
});

afterAll(async () => {
  await redis?.close();
});

describe('a distributed backfill', () => {
  it('through two worker processes ends with exactly the in-process table, and leaves no row in Redis', async () => {
    const prefix = 'two-workers';
    const workers = [
      await startWorker(['--workers', '2', '--queue-prefix', prefix]),
      await startWorker(['--workers', '2', '--queue-prefix', prefix]),
    ];
    const db = join(tempDir(), 'distributed.db');
    const { failed } = await backfill(db, { pagesPerTask: 2, concurrency: 8, transport: bullmqTransport({ redis: redis.url, queuePrefix: prefix }) });
    expect(failed).toEqual([]);
    expect(dumpTables(db)).toEqual(reference);

    const client = redis.client();
    const left = await dumpRedis(client);
    const keys = Object.keys(left).sort();
    // The tasks queue's own bookkeeping stays (metadata, trimmed events, id counter); no task,
    // no result, no results queue, no heartbeat of the finished run.
    expect(keys.every((key) => key.startsWith(`${prefix}:tasks:`)), keys.join(', ')).toBe(true);
    expect(keys.filter((key) => /:tasks:[0-9a-f]{16}-/.test(key))).toEqual([]);
    const text = Object.values(left).join('\n');
    expect(text).not.toMatch(/\.tr\.\d+/); // a transaction key of any row
    expect(text).not.toMatch(/"rows"/);
    const usedMemory = Number(/used_memory:(\d+)/.exec(await client.info('memory'))?.[1]);
    console.info(`redis after a ${reference.transactions.length}-row run: ${keys.length} keys (${keys.join(', ')}), used_memory ${(usedMemory / 1024 / 1024).toFixed(2)} MB`);
    expect(usedMemory).toBeLessThan(8 * 1024 * 1024);

    const finished = await Promise.all(workers.map((worker) => worker.finish()));
    for (const { code, stats } of finished) {
      expect(code).toBe(0);
      // Both workers did part of the work.
      expect(stats?.['tasks']).toBeGreaterThan(0);
      expect(stats?.['refused']).toBe(0);
    }
    expect(finished.reduce((sum, { stats }) => sum + (stats?.['rows'] ?? 0), 0)).toBeGreaterThanOrEqual(reference.transactions.length);
  }, 120_000);

  it('still ends with that table when a worker is SIGKILLed mid-run (its tasks run again elsewhere)', async () => {
    const prefix = 'killed-worker';
    const args = ['--workers', '2', '--queue-prefix', prefix, '--lock-duration', '1000'];
    const victim = await startWorker([...args, '--log-level', 'debug']);
    const survivor = await startWorker(args);
    const db = join(tempDir(), 'killed.db');
    const run = backfill(db, { pagesPerTask: 2, concurrency: 8, transport: bullmqTransport({ redis: redis.url, queuePrefix: prefix, checkIntervalMs: 500 }) }, 15);
    // Kill it once it has tasks in hand and some pages are committed.
    const until = Date.now() + 30_000;
    while (committedRows(db) < reference.transactions.length / 5 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(committedRows(db)).toBeLessThan(reference.transactions.length);
    expect(victim.output.stderr).toMatch(/"msg":"task done"/); // it had its share of the work
    process.kill(victim.pid, 'SIGKILL');
    const { failed } = await run;
    expect(failed).toEqual([]);
    expect(await victim.exited).not.toBe(0);
    expect(dumpTables(db)).toEqual(reference);
    const { code, stats } = await survivor.finish();
    expect(code).toBe(0);
    expect(stats?.['tasks']).toBeGreaterThan(0);
  }, 120_000);
});

describe('one writer per database', () => {
  it('a second distributed writer on the same database fails at once, naming the first (the lease is on the file)', async () => {
    const db = join(tempDir(), 'one-writer.db');
    const first = await createEngine({ database: db, source: demoSource(), transport: bullmqTransport({ redis: redis.url, queuePrefix: 'one-writer' }) });
    try {
      const started = performance.now();
      const error = await rejectionOf(createEngine({ database: db, source: demoSource(), transport: bullmqTransport({ redis: redis.url, queuePrefix: 'other-prefix' }) }));
      expect(performance.now() - started).toBeLessThan(5000);
      expect(error.code).toBe('ERR_WRITER_RUNNING');
      expect(error.message).toContain(String(process.pid));
    } finally {
      await first.close();
    }
  });
});

describe('a worker process', () => {
  it('logs its progress and stops cleanly on SIGTERM', async () => {
    const worker = await startWorker(['--queue-prefix', 'quiet']);
    expect(worker.output.stderr).toMatch(/"msg":"fetch worker ready: taking tasks from Redis"/);
    const { code, stats } = await worker.finish();
    expect(code).toBe(0);
    expect(stats).toMatchObject({ tasks: 0, refused: 0 });
    expect(worker.output.stderr).toMatch(/fetch worker stopped/);
  });
});

describe('the BullMQ transport in Redis', () => {
  it('removes what a killed writer left (its results queue) when the next writer starts', async () => {
    const prefix = 'dead-writer';
    const client = redis.client();
    // What a writer SIGKILLed mid-run leaves: a results queue with an outcome in it, and no heartbeat.
    const dead = 'results-00000000deadbeef';
    await client.hset(`${prefix}:${dead}:meta`, 'opts.maxLenEvents', '100');
    await client.hset(`${prefix}:${dead}:00000000deadbeef-1`, 'data', '{"rows":"[]"}');
    await client.lpush(`${prefix}:${dead}:wait`, '00000000deadbeef-1');
    const captive = captured(bullmqTransport({ redis: redis.url, queuePrefix: prefix }));
    const transport = await captive.factory({ workers: 1, requestsPerSecond: 2, heapLimitMb: 64, niceIncrement: 0 });
    try {
      const keys = Object.keys(await dumpRedis(client));
      expect(keys.filter((key) => key.includes(dead))).toEqual([]);
      expect(keys).toContain(`${prefix}:writers:${captive.transport().runId}`);
      // --rate 2: one task per 500 ms for every worker, kept in the queue's metadata.
      expect(await client.hmget(`${prefix}:tasks:meta`, 'max', 'duration')).toEqual(['1', '500']);
    } finally {
      await transport.close();
    }
    expect(Object.keys(await dumpRedis(client)).filter((key) => key.includes('writers') || key.includes('results-'))).toEqual([]);
  });
});
