/**
 * `--rate` across worker processes: every HTTP request of every worker (pages, league
 * metadata, retries) takes a slot of one schedule in Redis, and a worker that the API still
 * throttles after its retries pauses every worker. Against the local stand-in of the Yahoo API.
 */
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bullmqTransport, createEngine, PROFILES, yahooSource } from '../dist/src/index.js';
import { BIN } from './helpers/cli.js';
import { startFakeYahooServer, seasonFixtureKeys, type FakeYahooServer } from './helpers/fake-yahoo-server.js';
import { readTable } from './helpers/processes.js';
import { startRedisServer, startWorkerProcess, type RedisServer, type WorkerProcess } from './helpers/redis-server.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir();
const LEAGUE = '403.l.17457';

let redis: RedisServer;
let yahoo: FakeYahooServer;
const running: WorkerProcess[] = [];

beforeAll(async () => {
  redis = await startRedisServer();
  yahoo = await startFakeYahooServer();
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((worker) => worker.stop('SIGKILL')));
  yahoo.reset();
});

afterAll(async () => {
  await yahoo?.close();
  await redis?.close();
});

async function startWorkers(count: number, args: string[]): Promise<WorkerProcess[]> {
  const workers = await Promise.all(Array.from({ length: count }, () => startWorkerProcess(BIN, redis.url, args, { YAHOO_ACCESS_TOKEN: yahoo.accessToken })));
  running.push(...workers);
  return workers;
}

/** The most requests in any one-second window (each request opens one). */
function maxInOneSecond(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  for (let first = 0, last = 0; last < sorted.length; last++) {
    while (sorted[last]! - sorted[first]! >= 1000) first++;
    best = Math.max(best, last - first + 1);
  }
  return best;
}

async function backfillBothSeasons(prefix: string, requestsPerSecond: number, sourceOptions: Record<string, unknown> = {}, seasons = [2020, 2019]): Promise<string> {
  const db = join(tempDir(), `${prefix}.db`);
  const source = yahooSource({ apiBase: yahoo.apiBase, tokenUrl: yahoo.tokenUrl, accessToken: yahoo.accessToken, ...sourceOptions });
  const engine = await createEngine({
    database: db, source, flags: PROFILES.recommended, requestsPerSecond, concurrency: 4,
    transport: bullmqTransport({ redis: redis.url, queuePrefix: prefix }),
  });
  try {
    const summaries = await Promise.all(seasons.map((season) => engine.enqueue({ leagueKey: LEAGUE, season }).done));
    expect(summaries.map((summary) => summary.status)).toEqual(seasons.map(() => 'completed'));
  } finally {
    await engine.close();
  }
  return db;
}

describe('the rate limit across worker processes', () => {
  it('holds for every request, league metadata included, across three workers', async () => {
    await startWorkers(3, ['--workers', '2', '--queue-prefix', 'rate']);
    const rate = 5;
    const db = await backfillBothSeasons('rate', rate);
    expect(readTable(db).keys.filter((key) => key.startsWith('403.'))).toEqual(seasonFixtureKeys());
    const times = yahoo.requests.map((request) => request.time);
    const metadata = yahoo.requests.filter((request) => request.path.includes('/metadata')).length;
    expect(metadata).toBeGreaterThan(0);
    const spanSeconds = (Math.max(...times) - Math.min(...times)) / 1000;
    console.info(`rate ${rate}: ${times.length} requests (${metadata} metadata) in ${spanSeconds.toFixed(1)} s, most in one second: ${maxInOneSecond(times)}`);
    // Slots are 200 ms apart on Redis's clock; a request may reach the server a little late,
    // next to the following one, so a second can hold one or two more than the rate. Without
    // the shared schedule all of them come within a second or two.
    expect(maxInOneSecond(times)).toBeLessThanOrEqual(rate + 2);
    expect(times.length / spanSeconds).toBeLessThanOrEqual(rate * 1.1);
  }, 90_000);

  it('pauses every worker when the API still throttles after a task\'s retries, then completes', async () => {
    const pauseMs = 2000;
    await startWorkers(2, ['--workers', '1', '--queue-prefix', 'throttle', '--throttle-pause', String(pauseMs)]);
    // One job, so one task at a time: its first request gets two throttled answers, which use
    // up its two attempts.
    yahoo.script({ kind: 'throttle' }, { kind: 'throttle' });
    const db = await backfillBothSeasons('throttle', 50, { maxAttempts: 2, retryDelayMs: 10 }, [2020]);
    expect(readTable(db).keys).toEqual(seasonFixtureKeys());
    const throttled = yahoo.requests.findLastIndex((request) => request.misbehaviour === 'throttle');
    expect(throttled).toBeGreaterThanOrEqual(0);
    // After the second 999 no worker asked anything for about the pause (requests are 20 ms
    // apart otherwise); what was already on its way may still arrive just after it.
    const times = yahoo.requests.slice(throttled).map((request) => request.time);
    const gaps = times.slice(1).map((time, index) => time - times[index]!);
    expect(Math.max(...gaps)).toBeGreaterThan(pauseMs * 0.8);
    const finished = await Promise.all(running.map((worker) => worker.finish()));
    expect(finished.reduce((sum, { stats }) => sum + (stats?.['throttled'] ?? 0), 0)).toBe(1);
  }, 90_000);
});
