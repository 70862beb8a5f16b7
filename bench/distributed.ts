/**
 * In-process against distributed, side by side in one run (DESIGN section 9, issue 13):
 *
 * 1. Throughput, demo source, no rate limit: one writer process with its in-process fetch pool
 *    against one writer process plus two `league-backfill worker` processes over a real
 *    redis-server (runs interleaved, medians): rows/s of each and their ratio (target >= 0.8).
 * 2. What Redis holds after the largest of those runs: `INFO memory` and the keys left.
 * 3. The rate limit across machines: the yahoo source against a local stand-in of the API at
 *    `--rate 2`, three worker processes: the most requests the server saw in any one-second
 *    window (target <= 3: two, plus one at a window's edge).
 *
 * `node dist/bench/distributed.js [--quick] [--runs N] [--json]`, or
 * `npm run bench -- --only distributed`. The writer runs in a child process (this file with
 * `--writer`), so both modes pay for the same process start and the same engine.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg, setPriority } from 'node:os';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bullmqTransport } from '../src/distributed/index.js';
import { createEngine } from '../src/engine/index.js';
import { PROFILES } from '../src/flags/index.js';
import { demoLeagueKeys, demoSource } from '../src/source/demo/index.js';
import { yahooSource } from '../src/source/yahoo/source.js';
import type { SourceSpec } from '../src/source/types.js';
import { dumpRedis, startRedisServer, startWorkerProcess, type RedisServer, type WorkerProcess } from '../test/helpers/redis-server.js';
import { formatRate, median, scratchDir } from './lib.js';

const SELF = fileURLToPath(import.meta.url);
/** Jobs in flight for the distributed writer: two per fetch thread of the two 2-thread workers. */
const DISTRIBUTED_CONCURRENCY = 8;
/** Pages per task for the distributed writer (the engine's default is 8). */
const DISTRIBUTED_PAGES_PER_TASK = 32;
const BIN = join(dirname(SELF), '..', 'src', 'cli', 'bin.js');

export interface DistributedSectionOptions {
  quick?: boolean;
  /** Runs of each mode for the throughput medians. @default 5 (1 with quick) */
  runs?: number;
  /** Demo leagues of the throughput workload (10 seasons each, about 12,000 rows a league). @default 25 (3 with quick) */
  leagues?: number;
  log(line: string): void;
}

// ---- the writer child -------------------------------------------------------------------------

interface WriterConfig {
  database: string;
  source: { kind: 'demo'; seed: number } | { kind: 'yahoo'; apiBase: string; tokenUrl: string };
  jobs: Array<{ leagueKey: string; season: number }>;
  redis?: string;
  queuePrefix?: string;
  requestsPerSecond?: number;
  concurrency?: number;
  pagesPerTask?: number;
}

interface WriterReport {
  seconds: number;
  rowsInserted: number;
  rowsFetched: number;
  failed: number;
  errors: string[];
}

/** Runs one backfill as a writer process would and prints its report as one JSON line. */
async function writerChild(config: WriterConfig): Promise<void> {
  const source: SourceSpec = config.source.kind === 'demo'
    ? demoSource({ seed: config.source.seed })
    : yahooSource({ apiBase: config.source.apiBase, tokenUrl: config.source.tokenUrl });
  const started = performance.now();
  const engine = await createEngine({
    database: config.database,
    source,
    flags: PROFILES.recommended,
    ...(config.requestsPerSecond !== undefined ? { requestsPerSecond: config.requestsPerSecond } : {}),
    ...(config.concurrency !== undefined ? { concurrency: config.concurrency } : {}),
    ...(config.pagesPerTask !== undefined ? { pagesPerTask: config.pagesPerTask } : {}),
    ...(config.redis ? { transport: bullmqTransport({ redis: config.redis, ...(config.queuePrefix ? { queuePrefix: config.queuePrefix } : {}) }) } : {}),
  });
  const outcomes = await Promise.allSettled(config.jobs.map((job) => engine.enqueue(job).done));
  await engine.close();
  const report: WriterReport = {
    seconds: (performance.now() - started) / 1000,
    rowsInserted: engine.totals.rowsInserted,
    rowsFetched: engine.totals.rowsFetched,
    failed: engine.totals.failed,
    errors: outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [String((outcome.reason as Error).message)] : [])).slice(0, 3),
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

function runWriter(config: WriterConfig, env: NodeJS.ProcessEnv = {}): Promise<WriterReport> {
  const child = spawn(process.execPath, [SELF, '--writer', JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const line = stdout.trim().split('\n').at(-1) ?? '';
      try {
        const report = JSON.parse(line) as WriterReport;
        if (code !== 0 || report.failed > 0) reject(new Error(`writer failed (exit ${code}): ${report.errors.join('; ')}\n${stderr}`));
        else resolve(report);
      } catch {
        reject(new Error(`writer exited ${code} without a report:\n${stderr}`));
      }
    });
  });
}

// ---- a stand-in for the Yahoo API ---------------------------------------------------------------

interface StandIn {
  apiBase: string;
  tokenUrl: string;
  accessToken: string;
  /** Arrival time (ms) and path of every request. */
  requests: Array<{ time: number; path: string }>;
  close(): Promise<void>;
}

/** The package's own test fixture: a real season of a real league (438 transactions). */
function seasonFixture(): { metadata: Record<string, unknown>; records: unknown[] } {
  for (let dir = dirname(SELF); dirname(dir) !== dir; dir = dirname(dir)) {
    try {
      const body = JSON.parse(readFileSync(join(dir, 'test', 'fixtures', 'yahoo', 'yfantasy-api-league-transactions-2020-nhl.json'), 'utf8')) as {
        fantasy_content: { league: [Record<string, unknown>, { transactions: Record<string, unknown> }] };
      };
      const [metadata, { transactions }] = body.fantasy_content.league;
      const records = Object.keys(transactions).filter((key) => /^\d+$/.test(key)).sort((a, b) => Number(a) - Number(b)).map((key) => transactions[key]);
      return { metadata, records };
    } catch {
      // not here: keep looking upwards
    }
  }
  throw new Error('test/fixtures/yahoo/yfantasy-api-league-transactions-2020-nhl.json not found: run the bench from the repository');
}

/**
 * Serves any league `403.l.<id>` as the fixture's season re-keyed to it (2020, no earlier
 * season), page by page as the API does, and records when each request arrived.
 */
async function startStandIn(): Promise<StandIn> {
  const fixture = seasonFixture();
  const accessToken = 'bench-access-token-9d8c7b6a5f';
  const requests: StandIn['requests'] = [];
  const server: Server = createServer((req, res) => {
    requests.push({ time: performance.timeOrigin + performance.now(), path: req.url ?? '' });
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const route = /^\/fantasy\/v2\/league\/(403\.l\.\d+)\/(metadata|transactions((?:;[a-z]+=\d+)*))$/.exec(decodeURIComponent(url.pathname));
    if (req.headers.authorization !== `Bearer ${accessToken}` || route === null) {
      res.writeHead(route === null ? 404 : 401, { 'content-type': 'application/json' }).end('{"error":{"description":"no"}}');
      return;
    }
    const key = route[1]!;
    const metadata = { ...fixture.metadata, league_key: key, league_id: key.split('.').at(-1), renew: '', season: '2020' };
    const content: Record<string, unknown> = { 'yahoo:uri': url.pathname };
    if (route[2] === 'metadata') {
      content['league'] = [metadata];
    } else {
      const matrix = new Map((route[3] ?? '').split(';').filter(Boolean).map((part) => part.split('=') as [string, string]));
      const start = Number(matrix.get('start') ?? 0);
      const page = fixture.records.slice(start, start + Number(matrix.get('count') ?? 25))
        .map((record) => JSON.parse(JSON.stringify(record).replaceAll('403.l.17457', key)) as unknown);
      const transactions = page.length === 0 ? [] : { ...Object.fromEntries(page.map((record, index) => [String(index), record])), count: page.length };
      content['league'] = [metadata, { transactions }];
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ fantasy_content: content }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    apiBase: `${origin}/fantasy/v2`,
    tokenUrl: `${origin}/oauth2/get_token`,
    accessToken,
    requests,
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** The most requests in any window of `windowMs` (sliding: every request starts a window). */
export function maxInWindow(times: readonly number[], windowMs = 1000): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let first = 0;
  for (let last = 0; last < sorted.length; last++) {
    while (sorted[last]! - sorted[first]! >= windowMs) first++;
    best = Math.max(best, last - first + 1);
  }
  return best;
}

// ---- the section ---------------------------------------------------------------------------------

/**
 * Worker processes on this machine, at a lower priority than the writer: here they share two
 * cores with it, and the writer thread is what limits the run (docs/scale-out.md gives the same
 * advice for workers that run beside their writer).
 */
async function startWorkers(redis: RedisServer, count: number, prefix: string, env: NodeJS.ProcessEnv = {}): Promise<WorkerProcess[]> {
  const workers = await Promise.all(Array.from({ length: count }, () => startWorkerProcess(BIN, redis.url, ['--workers', '2', '--queue-prefix', prefix], env)));
  for (const worker of workers) setPriority(worker.pid, 10);
  return workers;
}

export async function distributedSection(options: DistributedSectionOptions): Promise<Record<string, unknown>> {
  const { log } = options;
  const quick = options.quick ?? false;
  const runs = options.runs ?? (quick ? 1 : 5);
  const leagueCount = options.leagues ?? (quick ? 3 : 25);
  const seasons = quick ? [2021, 2022, 2023, 2024, 2025] : [2016, 2017, 2018, 2019, 2020, 2021, 2022, 2023, 2024, 2025];
  const leagues = demoLeagueKeys(leagueCount, 1);
  const jobs = leagues.flatMap((leagueKey) => seasons.map((season) => ({ leagueKey, season })));
  const redis = await startRedisServer();
  const scratch = scratchDir();
  const workers: WorkerProcess[] = [];
  try {
    // 1. Throughput.
    workers.push(...await startWorkers(redis, 2, 'bench'));
    log(`Distributed: demo source, ${leagueCount} leagues x ${seasons.length} seasons, no rate limit; in-process (1 writer process, 2 fetch threads, ` +
      `engine defaults) against 1 writer process + 2 worker processes (2 threads each) over redis-server (concurrency ${DISTRIBUTED_CONCURRENCY}, ` +
      `${DISTRIBUTED_PAGES_PER_TASK} pages a task); ${runs} run(s) each, interleaved`);
    const inProcess: number[] = [];
    const distributed: number[] = [];
    let rows = 0;
    for (let run = 0; run < runs; run++) {
      const local = await runWriter({ database: join(scratch.dir, `in-process-${run}.db`), source: { kind: 'demo', seed: 1 }, jobs });
      // Each mode as docs/scale-out.md recommends: two jobs in flight per fetch thread (in-process
      // 4 for its 2 threads, the engine's default; distributed 8 for the workers' 4), and, since a
      // task is a round trip through Redis rather than a thread hop, tasks of 32 pages, not 8.
      const remote = await runWriter({
        database: join(scratch.dir, `distributed-${run}.db`), source: { kind: 'demo', seed: 1 }, jobs, redis: redis.url, queuePrefix: 'bench',
        concurrency: DISTRIBUTED_CONCURRENCY, pagesPerTask: DISTRIBUTED_PAGES_PER_TASK,
      });
      if (remote.rowsInserted !== local.rowsInserted) throw new Error(`distributed run stored ${remote.rowsInserted} rows, in-process ${local.rowsInserted}`);
      rows = local.rowsInserted;
      inProcess.push(rows / local.seconds);
      distributed.push(rows / remote.seconds);
      log(`  run ${run + 1} (load average ${loadavg()[0]!.toFixed(1)}): ${rows.toLocaleString('en-US')} rows: in-process ${formatRate(inProcess.at(-1)!)} (${local.seconds.toFixed(1)} s), ` +
        `distributed ${formatRate(distributed.at(-1)!)} (${remote.seconds.toFixed(1)} s)`);
    }
    // 2. What Redis kept.
    const client = redis.client();
    const left = await dumpRedis(client);
    const usedMemory = Number(/used_memory:(\d+)/.exec(await client.info('memory'))?.[1] ?? 0);
    const keys = Object.keys(left).sort();
    const rowsInRedis = Object.values(left).filter((value) => /\.tr\.\d+/.test(value)).length;
    for (const worker of workers.splice(0)) await worker.stop();

    // 3. The rate limit across three worker processes.
    const standIn = await startStandIn();
    let rate: Record<string, unknown>;
    try {
      const yahooLeagues = Array.from({ length: quick ? 3 : 6 }, (_, index) => `403.l.${70001 + index}`);
      workers.push(...await startWorkers(redis, 3, 'bench-rate', { YAHOO_ACCESS_TOKEN: standIn.accessToken }));
      standIn.requests.length = 0;
      const report = await runWriter({
        database: join(scratch.dir, 'yahoo.db'),
        source: { kind: 'yahoo', apiBase: standIn.apiBase, tokenUrl: standIn.tokenUrl },
        jobs: yahooLeagues.map((leagueKey) => ({ leagueKey, season: 2020 })),
        redis: redis.url, queuePrefix: 'bench-rate', requestsPerSecond: 2,
      }, { YAHOO_ACCESS_TOKEN: standIn.accessToken });
      const times = standIn.requests.map((request) => request.time);
      const span = (Math.max(...times) - Math.min(...times)) / 1000;
      rate = {
        requestsPerSecond: 2,
        workerProcesses: 3,
        requests: times.length,
        metadataRequests: standIn.requests.filter((request) => request.path.includes('/metadata')).length,
        seconds: Number(span.toFixed(1)),
        averagePerSecond: Number((times.length / Math.max(span, 0.001)).toFixed(2)),
        maxInOneSecondWindow: maxInWindow(times),
        rows: report.rowsInserted,
      };
      log(`  yahoo stand-in at --rate 2, 3 worker processes: ${rate['requests']} requests (${rate['metadataRequests']} metadata) in ${rate['seconds']} s ` +
        `(${rate['averagePerSecond']}/s); most in any one-second window: ${rate['maxInOneSecondWindow']} (target <= 3)`);
    } finally {
      for (const worker of workers.splice(0)) await worker.stop();
      await standIn.close();
    }

    const figures = {
      rows,
      runs,
      loadAverageAtEnd: Number(loadavg()[0]!.toFixed(2)),
      distributedConcurrency: DISTRIBUTED_CONCURRENCY,
      distributedPagesPerTask: DISTRIBUTED_PAGES_PER_TASK,
      inProcessRowsPerSecond: Math.round(median(inProcess)),
      distributedRowsPerSecond: Math.round(median(distributed)),
      ratioDistributedToInProcess: Number((median(distributed) / median(inProcess)).toFixed(3)),
      redisAfterRun: { usedMemoryBytes: usedMemory, keys, keysHoldingRows: rowsInRedis },
      rateLimit: rate,
    };
    log(`  medians: in-process ${formatRate(figures.inProcessRowsPerSecond)}, distributed ${formatRate(figures.distributedRowsPerSecond)}: ` +
      `ratio ${figures.ratioDistributedToInProcess} (target >= 0.8)`);
    log(`  Redis after the ${rows.toLocaleString('en-US')}-row runs: used_memory ${(usedMemory / 1024 / 1024).toFixed(2)} MB, ${keys.length} keys ` +
      `(${keys.join(', ')}), ${rowsInRedis} holding a row`);
    return figures;
  } finally {
    for (const worker of workers.splice(0)) await worker.stop();
    await redis.close();
    scratch.cleanup();
  }
}

// ---- standalone -----------------------------------------------------------------------------------

if (process.argv[1] === SELF) {
  const args = process.argv.slice(2);
  if (args[0] === '--writer') {
    await writerChild(JSON.parse(args[1] ?? '{}') as WriterConfig);
  } else {
    const json = args.includes('--json');
    const runsIndex = args.indexOf('--runs');
    const figures = await distributedSection({
      quick: args.includes('--quick'),
      ...(runsIndex >= 0 ? { runs: Number(args[runsIndex + 1]) } : {}),
      ...(args.includes('--leagues') ? { leagues: Number(args[args.indexOf('--leagues') + 1]) } : {}),
      log: (line) => {
        if (!json) process.stdout.write(`${line}\n`);
      },
    });
    if (json) process.stdout.write(`${JSON.stringify({ distributed: figures }, null, 2)}\n`);
  }
}
