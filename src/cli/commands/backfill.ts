import type { Command } from 'commander';
import {
  BackfillError, bullmqTransport, createEngine, defaultFetchWorkers, demoLeagueKeys, demoSource, fileSource, InvalidOptionError, listSeasons, planFileJobs,
  serveEngineMetrics, yahooSource, databaseFileChange, fileIdentity, LOCK_WAIT_STRATEGIES, SOURCE_KINDS, USAGE_ERROR_CODES, type EngineMetricsServer, type SourceKind,
  type Engine, type EngineOptions, type ErrorCode, type RunTotals, type JobHandle, type JobRequest, type JobSummary, type LockWaitStrategy, type SourceSpec,
} from '../../index.js';
import { printJson, type CliContext } from '../context.js';
import { addExamples, addExitCodes, withDefault } from '../help.js';
import { EXIT } from '../exit-codes.js';
import { terminalLines } from '../output.js';
import { parseChoice, parseInteger, parseLeagueKey, parseNumber, parseSeasons } from '../parse.js';
import { startProgress, type Progress } from '../progress.js';

export const DEMO_DEFAULT_SEASONS = '2020-2025';
export const DEMO_DEFAULT_LEAGUES = 4;
/** Most jobs (leagues x seasons) one run plans: every job is held in memory until the run ends. */
export const MAX_JOBS = 200_000;

const SOURCES = SOURCE_KINDS;
const LOCK_WAITS = LOCK_WAIT_STRATEGIES;

/** The demo source's defaults, shown in the help and applied in resolveBackfillOptions. */
const DEMO_DEFAULTS = { seed: 1, latency: 0, failureRate: 0 } as const;

// No default array: commander would print it as `(default: [])`.
const collectLeague = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), parseLeagueKey(value)];

export function describe(command: Command): void {
  command
    .option('--source <kind>', `where the data comes from: demo (made-up leagues), yahoo (the real API) or file (saved responses)${withDefault('demo, but --league needs --source')}`,
      (v) => parseChoice(v, '--source', SOURCES))
    .option('--league <key>', 'league key such as 423.l.12345 (repeatable; for yahoo: the newest season\'s key)', collectLeague)
    .option('--seasons <list>', `seasons: 2019-2024, 2021,2023 or 2023${withDefault(`${DEMO_DEFAULT_SEASONS} for demo, every season of the league for yahoo, every season in the input for file`)}`,
      (v) => parseSeasons(v))
    .option('--workers <n>', `fetch worker threads (1-64)${withDefault('1 on two cores (2 for yahoo)')}`, (v) => parseInteger(v, '--workers', 1, 64))
    .option('--rate <n>', `requests per second across all workers, 0 for no limit${withDefault('1 for yahoo, no limit for demo and file')}`, (v) => parseNumber(v, '--rate', 0, 10_000))
    .option('--batch-size <n>', 'rows per batch (1-100)', (v) => parseInteger(v, '--batch-size', 1, 100), 100)
    .option('--force', 'redo jobs that are already completed')
    .option('--leagues <n>', `demo: number of made-up leagues (1-10000)${withDefault(DEMO_DEFAULT_LEAGUES)}`, (v) => parseInteger(v, '--leagues', 1, 10_000))
    .option('--seed <n>', `demo: seed of the made-up leagues${withDefault(DEMO_DEFAULTS.seed)}`, (v) => parseInteger(v, '--seed', 0, 2 ** 31 - 1))
    .option('--latency <ms>', `demo: simulated latency per page${withDefault(DEMO_DEFAULTS.latency)}`, (v) => parseInteger(v, '--latency', 0, 60_000))
    .option('--failure-rate <p>', `demo: probability that a page fetch fails (0-1)${withDefault(DEMO_DEFAULTS.failureRate)}`, (v) => parseNumber(v, '--failure-rate', 0, 1))
    .option('--input <path>', 'file: a saved API response, a folder of them, or an NDJSON file of rows')
    .option('--api-base <url>', `yahoo: API base URL${withDefault('https://fantasysports.yahooapis.com/fantasy/v2', 'LEAGUE_BACKFILL_YAHOO_API_BASE')}`)
    .option('--token-url <url>', `yahoo: OAuth token URL${withDefault('https://api.login.yahoo.com/oauth2/get_token', 'LEAGUE_BACKFILL_YAHOO_TOKEN_URL')}`)
    .option('--busy-timeout <ms>', 'SQLite busy_timeout when pragma_optimizations is on', (v) => parseInteger(v, '--busy-timeout', 0, 600_000), 5000)
    .option('--lock-wait <strategy>', `how the writer waits for a lock held by another process: ${LOCK_WAITS.join(', ')}${withDefault('busy-slices; see docs/lock-wait.md')}`,
      (v) => parseChoice(v, '--lock-wait', LOCK_WAITS))
    .option('--transaction-budget <ms>', 'longest time one transaction may hold the write lock', (v) => parseInteger(v, '--transaction-budget', 1, 60_000), 100)
    .option('--neighbour-gap <ms>', 'while other processes use the database, leave the write lock free this long after each transaction so they get their turn (0: never; docs/lock-wait.md)',
      (v) => parseInteger(v, '--neighbour-gap', 0, 10_000), 25)
    .option('--replace-source', 'a league already holds rows from another source (say, made-up demo rows): delete them season by season and fetch it again from this source')
    .option('--redis <url>', `fetch through \`league-backfill worker\` processes over Redis instead of local threads (docs/scale-out.md)${withDefault('none: in-process', 'LEAGUE_BACKFILL_REDIS')}`)
    .option('--queue-prefix <prefix>', `with --redis: the BullMQ key prefix shared with the workers${withDefault('league-backfill', 'LEAGUE_BACKFILL_QUEUE_PREFIX')}`)
    .option('--metrics-port <n>', "serve the live engine's Prometheus metrics on 127.0.0.1:N/metrics while the run lasts (0: any free port)", (v) => parseInteger(v, '--metrics-port', 0, 65_535))
    .option('--no-progress', 'no progress bar on a terminal, and no progress log lines elsewhere');
  addExamples(command, [
    ['league-backfill backfill', `made-up demo data: ${DEMO_DEFAULT_LEAGUES} demo leagues x seasons ${DEMO_DEFAULT_SEASONS}`],
    ['league-backfill backfill --leagues 50 --seasons 2015-2025 --json', 'a bigger demo run; the summary as JSON'],
    ['league-backfill backfill --source yahoo --league 423.l.12345 --seasons 2019-2023', 'a real league (docs/yahoo.md for credentials)'],
    ['league-backfill backfill --source file --input saved/transactions.json', 'saved API responses'],
    ['league-backfill backfill --source demo --league 423.l.12345', 'made-up data under a key you choose, on purpose'],
    ['league-backfill backfill --source file --input saved/ --replace-source', 'real rows in place of a league\'s demo rows'],
    ['league-backfill backfill --redis redis://127.0.0.1:6379 --leagues 200', 'fetch on `league-backfill worker` machines; commit here'],
    ['league-backfill backfill --metrics-port 9464', 'Prometheus metrics of the run on 127.0.0.1:9464/metrics'],
  ]);
  command.addHelpText('after', `
--league needs --source: the default source, demo, makes up its data, and made-up rows under a
real league's key would pass for that league's history. Run the same command again to resume:
completed jobs are skipped, unfinished ones continue from their last committed page.`);
  addExitCodes(command, [
    [EXIT.ok, 'every job completed (or was already complete)'],
    [EXIT.failed, 'a job failed: run the same command again to resume it'],
    [EXIT.usage, 'bad usage or input (nothing written), or every failed job failed for such a reason, e.g. refused credentials'],
    [EXIT.interrupted, 'interrupted (Ctrl-C, SIGTERM): every fetched batch was committed; run again to resume'],
  ]);
}

/** The options as commander hands them over (after each value's own parser). */
interface RawBackfillOptions {
  source?: SourceKind;
  league?: string[];
  seasons?: number[];
  workers?: number;
  rate?: number;
  batchSize?: number;
  force?: boolean;
  leagues?: number;
  seed?: number;
  latency?: number;
  failureRate?: number;
  input?: string;
  apiBase?: string;
  tokenUrl?: string;
  busyTimeout?: number;
  lockWait?: LockWaitStrategy;
  transactionBudget?: number;
  neighbourGap?: number;
  replaceSource?: boolean;
  redis?: string;
  queuePrefix?: string;
  metricsPort?: number;
  progress?: boolean;
}

/** Every option of a run, checked together: what the rest of the command reads. */
export interface ResolvedBackfillOptions {
  source: SourceKind;
  /** The leagues asked for with --league, without repeats (empty: the source's default). */
  leagues: string[];
  seasons: number[] | undefined;
  workers: number;
  rate: number | undefined;
  batchSize: number;
  force: boolean;
  demo: { leagues: number; seed: number; latency: number; failureRate: number };
  input: string | undefined;
  yahoo: { apiBase: string | undefined; tokenUrl: string | undefined };
  busyTimeout: number;
  lockWait: LockWaitStrategy | undefined;
  transactionBudget: number;
  neighbourGap: number;
  replaceSource: boolean;
  /** Redis URL of a distributed run (--redis, or LEAGUE_BACKFILL_REDIS); undefined: in-process. */
  redis: string | undefined;
  queuePrefix: string | undefined;
  metricsPort: number | undefined;
  progress: boolean;
}

/** The common options (main.ts) arrive in the same object. */
const COMMON_KEYS = ['db', 'env', 'flags', 'json', 'logLevel', 'logFormat'];
const BACKFILL_KEYS: ReadonlyArray<keyof RawBackfillOptions> = [
  'source', 'league', 'seasons', 'workers', 'rate', 'batchSize', 'force', 'leagues', 'seed', 'latency', 'failureRate',
  'input', 'apiBase', 'tokenUrl', 'busyTimeout', 'lockWait', 'transactionBudget', 'neighbourGap', 'replaceSource', 'redis', 'queuePrefix', 'metricsPort', 'progress',
];
/** Options that only mean something for one source: given with another, they would be silently ignored. */
const SOURCE_ONLY: ReadonlyArray<readonly [keyof RawBackfillOptions, string, SourceKind]> = [
  ['leagues', '--leagues', 'demo'], ['seed', '--seed', 'demo'], ['latency', '--latency', 'demo'], ['failureRate', '--failure-rate', 'demo'],
  ['input', '--input', 'file'], ['apiBase', '--api-base', 'yahoo'], ['tokenUrl', '--token-url', 'yahoo'],
];

/**
 * Applies the defaults and checks the options against each other, before anything is opened:
 * a refused combination leaves no file behind. New options are added here, once.
 */
export function resolveBackfillOptions(raw: Record<string, unknown>): ResolvedBackfillOptions {
  for (const key of Object.keys(raw)) {
    if (!COMMON_KEYS.includes(key) && !(BACKFILL_KEYS as readonly string[]).includes(key)) {
      throw new InvalidOptionError('backfill option', `one of ${BACKFILL_KEYS.join(', ')}`, key);
    }
  }
  const options = raw as RawBackfillOptions;
  const leagues = [...new Set(options.league ?? [])];
  if (options.source === undefined && leagues.length > 0) {
    throw new BackfillError('ERR_INVALID_OPTION',
      `\`--league ${leagues.join(' --league ')}\` was given without \`--source\`. The default source, demo, makes up its data: ` +
      `its rows would be written under the league key${leagues.length === 1 ? '' : 's'} ${leagues.join(', ')} as if they were ${leagues.length === 1 ? 'that league\'s' : 'those leagues\''} history. ` +
      'Pass `--source yahoo` to import the real league from the Yahoo API, or `--source demo` to write made-up demo data under that key on purpose. Nothing was written.');
  }
  const source = options.source ?? 'demo';
  for (const [key, flag, only] of SOURCE_ONLY) {
    if (options[key] !== undefined && source !== only) {
      throw new InvalidOptionError(flag, `used only with --source ${only}`, options[key], `This run uses --source ${source}; remove ${flag}`);
    }
  }
  if (source === 'yahoo' && leagues.length === 0) {
    throw new InvalidOptionError('--league', 'at least one league key with --source yahoo, such as 423.l.12345', undefined);
  }
  if (source === 'file' && !options.input) {
    throw new InvalidOptionError('--input', 'a path with --source file (a saved response, a folder of them, or NDJSON)', options.input);
  }
  return {
    source,
    leagues,
    seasons: options.seasons,
    workers: options.workers ?? defaultFetchWorkers(source),
    rate: options.rate,
    batchSize: options.batchSize ?? 100,
    force: options.force ?? false,
    demo: {
      leagues: options.leagues ?? DEMO_DEFAULT_LEAGUES,
      seed: options.seed ?? DEMO_DEFAULTS.seed,
      latency: options.latency ?? DEMO_DEFAULTS.latency,
      failureRate: options.failureRate ?? DEMO_DEFAULTS.failureRate,
    },
    input: options.input,
    yahoo: { apiBase: options.apiBase, tokenUrl: options.tokenUrl },
    busyTimeout: options.busyTimeout ?? 5000,
    lockWait: options.lockWait,
    transactionBudget: options.transactionBudget ?? 100,
    neighbourGap: options.neighbourGap ?? 25,
    replaceSource: options.replaceSource ?? false,
    redis: options.redis ?? (process.env.LEAGUE_BACKFILL_REDIS || undefined),
    queuePrefix: options.queuePrefix ?? (process.env.LEAGUE_BACKFILL_QUEUE_PREFIX || undefined),
    metricsPort: options.metricsPort,
    progress: options.progress ?? true,
  };
}

/** The engine's options for a run: the one place where command-line options become engine options. */
export function engineOptionsFor(options: ResolvedBackfillOptions, context: CliContext, source: SourceSpec): EngineOptions {
  return {
    database: context.databasePath,
    createFolder: context.databaseIsDefault,
    flags: context.flagsPath,
    source,
    workers: options.workers,
    batchSize: options.batchSize,
    busyTimeoutMs: options.busyTimeout,
    transactionBudgetMs: options.transactionBudget,
    neighbourGapMs: options.neighbourGap,
    logger: context.logger,
    // Over Redis a task's round trip is long: more jobs in flight and more pages per task keep
    // the writer busy (measured in bench/distributed.ts: 0.62 of in-process with the defaults, 0.84 with these).
    ...(options.redis !== undefined
      ? {
        transport: bullmqTransport({ redis: options.redis, logger: context.logger, ...(options.queuePrefix ? { queuePrefix: options.queuePrefix } : {}) }),
        concurrency: options.workers * 4,
        ...(source.kind !== 'yahoo' ? { pagesPerTask: 32 } : {}),
      }
      : {}),
    ...(options.rate !== undefined ? { requestsPerSecond: options.rate } : {}),
    ...(options.lockWait ? { lockWait: options.lockWait } : {}),
  };
}

/** What `--json` prints: the run's totals (DESIGN section 6), and the run's own figures. */
export interface BackfillSummary extends RunTotals {
  durationMs: number;
  rowsPerSecond: number;
  database: string;
  interrupted: boolean;
  /** One entry per failed job: the underlying error (the cause of ERR_JOB_FAILED), its code and message. */
  failures: Array<{ jobId: string; code: ErrorCode; error: string }>;
}

export async function run(context: CliContext, raw: Record<string, unknown>): Promise<number> {
  const options = resolveBackfillOptions(raw);
  const { source, jobs } = await planJobs(options);
  const started = performance.now();
  const engine = await createEngine(engineOptionsFor(options, context, source));
  let metrics: EngineMetricsServer | undefined;
  if (options.metricsPort !== undefined) {
    try {
      metrics = await serveEngineMetrics(engine, { port: options.metricsPort, database: context.databasePath, logger: context.logger });
    } catch (error) {
      await engine.close();
      throw error; // a port in use names --metrics-port: exit 2
    }
    context.logger.info({ url: metrics.metricsUrl }, "serving the engine's Prometheus metrics");
  }
  context.logger.info({ database: context.databasePath, jobs: jobs.length, source: source.kind, flags: engine.flags }, 'backfill starting');
  if (options.source === 'demo' && options.leagues.length > 0) {
    context.logger.warn({ leagues: options.leagues.join(',') }, 'writing made-up demo rows under the league keys given with --league (--source demo)');
  }
  // SQLite writes on into a database file deleted or replaced under it, and the rows are lost:
  // check the path now and then, and stop writing as soon as it names another file.
  const opened = fileIdentity(context.databasePath);
  let databaseProblem: string | null = null;
  let lastCheck = 0;
  const checkDatabaseFile = (): void => {
    if (opened === null || databaseProblem !== null) return;
    lastCheck = performance.now();
    databaseProblem = databaseFileChange(context.databasePath, opened);
    if (databaseProblem !== null) {
      context.logger.error({ database: context.databasePath }, databaseProblem);
      void engine.close();
    }
  };
  engine.on('batch:committed', () => {
    if (performance.now() - lastCheck >= 250) checkDatabaseFile();
  });
  const progress = progressFor(context, engine, jobs.length, options.progress, started);
  const failures: BackfillSummary['failures'] = [];
  engine.on('job:failed', (summary, error) => {
    const cause = underlyingError(error);
    failures.push({ jobId: summary.jobId, code: cause.code, error: cause.message });
    context.logger.error({ jobId: summary.jobId, code: cause.code }, cause.message);
  });

  const onAbort = (): void => void engine.close();
  context.signal.addEventListener('abort', onAbort, { once: true });
  let interrupted = context.signal.aborted;
  try {
    const handles: JobHandle[] = context.signal.aborted ? [] : jobs.map((job) => engine.enqueue(job));
    await Promise.allSettled(handles.map((handle) => handle.done));
    interrupted = context.signal.aborted;
  } finally {
    context.signal.removeEventListener('abort', onAbort);
    try {
      await engine.close();
    } finally {
      // After close, so the bar's last state counts every job the summary counts.
      progress.stop();
      await metrics?.close();
    }
  }
  checkDatabaseFile();
  const durationMs = performance.now() - started;
  const totals = engine.totals;
  const summary: BackfillSummary = {
    jobs: totals.jobs,
    completed: totals.completed,
    failed: totals.failed,
    cancelled: totals.cancelled,
    skipped: totals.skipped,
    rowsFetched: totals.rowsFetched,
    rowsInserted: totals.rowsInserted,
    rowsIgnored: totals.rowsIgnored,
    rowsRejected: totals.rowsRejected,
    lockCount: totals.lockCount,
    retries: totals.retries,
    maxRetryCount: totals.maxRetryCount,
    totalRetryTime: round(totals.totalRetryTime, 3),
    transactions: totals.transactions,
    maxLockHoldMs: round(totals.maxLockHoldMs, 1),
    durationMs: Math.round(durationMs),
    rowsPerSecond: Math.round(totals.rowsFetched / (durationMs / 1000)),
    database: context.databasePath,
    interrupted,
    failures,
  };
  if (context.json) printJson(context, summary);
  else context.stdout.write(formatSummary(summary));
  if (databaseProblem !== null) {
    context.stderr.write(`league-backfill: ${databaseProblem}\n`);
    return EXIT.failed;
  }
  if (interrupted) return EXIT.interrupted;
  if (summary.failed === 0) return EXIT.ok;
  // Jobs that all failed for a usage-type reason (refused credentials, a bad input file) will
  // fail the same way when run again: that is the user's to fix, not a resumable failure.
  return failedForUsage(failures) ? EXIT.usage : EXIT.failed;
}

function failedForUsage(failures: BackfillSummary['failures']): boolean {
  return failures.length > 0 && failures.every((failure) => USAGE_ERROR_CODES.has(failure.code));
}

/** The error a job failed for: ERR_JOB_FAILED wraps it as its `cause`. */
function underlyingError(error: BackfillError): BackfillError {
  let current = error;
  while (current.code === 'ERR_JOB_FAILED' && current.cause instanceof BackfillError) current = current.cause;
  return current;
}

async function planJobs(options: ResolvedBackfillOptions): Promise<{ source: SourceSpec; jobs: JobRequest[] }> {
  const { force, replaceSource } = options;
  const cross = (leagues: string[], seasons: number[]): JobRequest[] => {
    if (leagues.length * seasons.length > MAX_JOBS) {
      throw new InvalidOptionError(options.source === 'demo' && options.leagues.length === 0 ? '--leagues x --seasons' : '--league x --seasons',
        `at most ${MAX_JOBS.toLocaleString('en-US')} jobs (one per league and season) in one run`, leagues.length * seasons.length,
        `${leagues.length} leagues x ${seasons.length} seasons; split the work into several runs: each run skips the jobs already completed`);
    }
    return leagues.flatMap((leagueKey) => seasons.map((season) => ({ leagueKey, season, force, replaceSource })));
  };
  switch (options.source) {
    case 'demo': {
      const { seed, latency, failureRate } = options.demo;
      const source = demoSource({ seed, latencyMs: latency, failureRate });
      const leagues = options.leagues.length > 0 ? options.leagues : demoLeagueKeys(options.demo.leagues, seed);
      return { source, jobs: cross(leagues, options.seasons ?? parseSeasons(DEMO_DEFAULT_SEASONS)) };
    }
    case 'yahoo': {
      const spec = yahooSource({
        ...(options.yahoo.apiBase ? { apiBase: options.yahoo.apiBase } : {}),
        ...(options.yahoo.tokenUrl ? { tokenUrl: options.yahoo.tokenUrl } : {}),
      });
      if (options.seasons) return { source: spec, jobs: cross(options.leagues, options.seasons) };
      const jobs: JobRequest[] = [];
      for (const leagueKey of options.leagues) {
        for (const { season } of await listSeasons(spec.options, leagueKey)) jobs.push({ leagueKey, season, force, replaceSource });
      }
      return { source: spec, jobs };
    }
    case 'file': {
      const input = options.input!;
      const planned = await planFileJobs(input);
      const wanted = (job: { leagueKey: string; season: number }): boolean =>
        (options.leagues.length === 0 || options.leagues.includes(job.leagueKey)) && (!options.seasons || options.seasons.includes(job.season));
      const jobs = planned.filter(wanted).map((job) => ({ ...job, force, replaceSource }));
      if (jobs.length === 0) throw new BackfillError('ERR_INPUT', `Input ${input}: no transactions for the leagues and seasons asked for`);
      return { source: fileSource({ input }), jobs };
    }
  }
}

/** A bar on a terminal; elsewhere a log line every few seconds, so unattended runs show life. */
function progressFor(context: CliContext, engine: Engine, planned: number, enabled: boolean, startedAt: number): Progress {
  const lines = terminalLines(context.stderr);
  const mode = !enabled ? 'none' : lines.isTerminal && !context.json ? 'bar' : 'log';
  return startProgress({
    mode,
    lines,
    logger: context.logger,
    startedAt,
    read: () => {
      const totals = engine.totals;
      return {
        jobs: Math.max(planned, totals.jobs),
        completed: totals.completed,
        alreadyComplete: totals.skipped,
        failed: totals.failed,
        cancelled: totals.cancelled,
        rows: totals.rowsFetched,
        locks: totals.lockCount,
      };
    },
  });
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

export function formatSummary(s: BackfillSummary): string {
  const n = (value: number): string => value.toLocaleString('en-US');
  const lines = [
    `${s.interrupted ? 'Backfill interrupted' : 'Backfill finished'} in ${(s.durationMs / 1000).toFixed(1)} s: ${n(s.jobs)} job${s.jobs === 1 ? '' : 's'} ` +
      `(${n(s.completed)} completed, ${n(s.skipped)} already complete, ${n(s.failed)} failed, ${n(s.cancelled)} cancelled)`,
    `  rows fetched ${n(s.rowsFetched)}, inserted ${n(s.rowsInserted)}, ignored ${n(s.rowsIgnored)} (already stored), rejected ${n(s.rowsRejected)}`,
    `  locks ${n(s.lockCount)}, retries ${n(s.retries)}, max retry count ${s.maxRetryCount}, total retry time ${s.totalRetryTime.toFixed(2)} s`,
    `  ${n(s.rowsPerSecond)} rows/s in ${n(s.transactions)} transactions (longest lock hold ${s.maxLockHoldMs} ms), database ${s.database}`,
  ];
  for (const failure of s.failures) lines.push(`  failed: ${failure.jobId}: ${failure.error}`);
  if (s.failed > 0) {
    lines.push(failedForUsage(s.failures)
      ? '  Fix the problem above, then run the same command again: the jobs resume from their last committed page.'
      : '  Run the same command again to resume the failed jobs from their last committed page.');
  }
  if (s.interrupted) lines.push('  Every fetched batch was committed; run the same command again to resume.');
  return `${lines.join('\n')}\n`;
}

export type { JobSummary };
