import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { createEngine, type Engine } from '../../engine.js';
import { BackfillError, InvalidOptionError, USAGE_ERROR_CODES, type ErrorCode } from '../../errors.js';
import type { JobHandle, JobRequest, JobSummary } from '../../queue/job.js';
import { demoLeagueKeys, demoSource } from '../../source/demo/index.js';
import type { SourceSpec } from '../../source/types.js';
import type { LockWaitStrategy } from '../../writer/protocol.js';
import { printJson, type CliContext } from '../context.js';
import { databaseFileChange, fileIdentity } from '../database-identity.js';
import { EXIT } from '../main.js';
import { parseChoice, parseInteger, parseLeagueKey, parseNumber, parseSeasons } from '../parse.js';

export const DEMO_DEFAULT_SEASONS = '2020-2025';
export const DEMO_DEFAULT_LEAGUES = 4;
/** Most jobs (leagues x seasons) one run plans: every job is held in memory until the run ends. */
export const MAX_JOBS = 200_000;

const collectLeague = (value: string, previous: string[]): string[] => [...previous, parseLeagueKey(value)];

export function describe(command: Command): void {
  command
    .option('--source <kind>', 'where the data comes from: demo, yahoo or file', (v) => parseChoice(v, '--source', ['demo', 'yahoo', 'file'] as const), 'demo')
    .option('--league <key>', 'league key such as 423.l.12345 (repeatable; for yahoo: the newest season\'s key)', collectLeague, [])
    .option('--seasons <list>', `seasons: 2019-2024, 2021,2023 or 2023 (demo default ${DEMO_DEFAULT_SEASONS})`, (v) => parseSeasons(v))
    .option('--workers <n>', 'fetch worker threads (1-64)', (v) => parseInteger(v, '--workers', 1, 64), 2)
    .option('--rate <n>', 'requests per second across all workers, 0 for no limit (default 1 for yahoo, none for demo)', (v) => parseNumber(v, '--rate', 0, 10_000))
    .option('--batch-size <n>', 'rows per batch (1-100)', (v) => parseInteger(v, '--batch-size', 1, 100), 100)
    .option('--force', 'redo jobs that are already completed')
    .option('--leagues <n>', `demo: number of demo leagues (1-10000, default ${DEMO_DEFAULT_LEAGUES})`, (v) => parseInteger(v, '--leagues', 1, 10_000))
    .option('--seed <n>', 'demo: seed of the generated leagues', (v) => parseInteger(v, '--seed', 0, 2 ** 31 - 1), 1)
    .option('--latency <ms>', 'demo: simulated latency per page', (v) => parseInteger(v, '--latency', 0, 60_000), 0)
    .option('--failure-rate <p>', 'demo: probability that a page fetch fails (0-1)', (v) => parseNumber(v, '--failure-rate', 0, 1), 0)
    .option('--input <path>', 'file: a saved API response, a folder of them, or an NDJSON file of rows')
    .option('--api-base <url>', 'yahoo: API base URL (env LEAGUE_BACKFILL_YAHOO_API_BASE)')
    .option('--token-url <url>', 'yahoo: OAuth token URL (env LEAGUE_BACKFILL_YAHOO_TOKEN_URL)')
    .option('--busy-timeout <ms>', 'SQLite busy_timeout when pragma_optimizations is on', (v) => parseInteger(v, '--busy-timeout', 0, 600_000), 5000)
    .option('--lock-wait <strategy>', 'how the writer waits for a lock held by another process: busy-timeout, fair-poll, busy-slices or micro-poll',
      (v) => parseChoice(v, '--lock-wait', ['busy-timeout', 'fair-poll', 'busy-slices', 'micro-poll'] as const))
    .option('--transaction-budget <ms>', 'longest time one transaction may hold the write lock', (v) => parseInteger(v, '--transaction-budget', 1, 60_000), 100)
    .option('--no-progress', 'no progress bar, even on a terminal')
    .addHelpText('after', `
Examples:
  npm run backfill                                   # demo league source, ${DEMO_DEFAULT_LEAGUES} leagues x seasons ${DEMO_DEFAULT_SEASONS}
  league-backfill backfill --leagues 50 --seasons 2015-2025 --json
  league-backfill backfill --source yahoo --league 423.l.12345 --seasons 2019-2023
  league-backfill backfill --source file --input saved/transactions.json

Exit codes: 0 every job completed, 1 a job failed (run again to resume), 2 bad usage or input (also when
every failed job failed for such a reason, e.g. Yahoo refused the credentials), 130 interrupted.`);
}

interface BackfillOptions {
  source: 'demo' | 'yahoo' | 'file';
  league: string[];
  seasons?: number[];
  workers: number;
  rate?: number;
  batchSize: number;
  force?: boolean;
  leagues?: number;
  seed: number;
  latency: number;
  failureRate: number;
  input?: string;
  apiBase?: string;
  tokenUrl?: string;
  busyTimeout: number;
  lockWait?: LockWaitStrategy;
  transactionBudget: number;
  progress: boolean;
}

/** What `--json` prints: the run's totals (DESIGN section 6). */
export interface BackfillSummary {
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
  durationMs: number;
  rowsPerSecond: number;
  database: string;
  interrupted: boolean;
  /** One entry per failed job: the underlying error (the cause of ERR_JOB_FAILED), its code and message. */
  failures: Array<{ jobId: string; code: ErrorCode; error: string }>;
}

export async function run(context: CliContext, raw: Record<string, unknown>): Promise<number> {
  const options = raw as unknown as BackfillOptions;
  const { source, jobs } = await planJobs(options);
  const started = performance.now();
  const engine = await createEngine({
    database: context.databasePath,
    createFolder: context.databaseIsDefault,
    flags: context.flagsPath,
    source,
    workers: options.workers,
    batchSize: options.batchSize,
    busyTimeoutMs: options.busyTimeout,
    transactionBudgetMs: options.transactionBudget,
    logger: context.logger,
    ...(options.rate !== undefined ? { requestsPerSecond: options.rate } : {}),
    ...(options.lockWait ? { lockWait: options.lockWait } : {}),
  });
  context.logger.info({ database: context.databasePath, jobs: jobs.length, source: source.kind, flags: engine.flags }, 'backfill starting');
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
  const progress = startProgress(context, engine, jobs.length, options.progress);
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
    await engine.close();
    progress.stop();
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

async function planJobs(options: BackfillOptions): Promise<{ source: SourceSpec; jobs: JobRequest[] }> {
  const force = options.force ?? false;
  const cross = (leagues: string[], seasons: number[]): JobRequest[] => {
    if (leagues.length * seasons.length > MAX_JOBS) {
      throw new InvalidOptionError(options.source === 'demo' && options.league.length === 0 ? '--leagues x --seasons' : '--league x --seasons',
        `at most ${MAX_JOBS.toLocaleString('en-US')} jobs (one per league and season) in one run`, leagues.length * seasons.length,
        `${leagues.length} leagues x ${seasons.length} seasons; split the work into several runs: each run skips the jobs already completed`);
    }
    return leagues.flatMap((leagueKey) => seasons.map((season) => ({ leagueKey, season, force })));
  };
  switch (options.source) {
    case 'demo': {
      if (options.input) throw new InvalidOptionError('--input', 'used only with --source file', options.input);
      const source = demoSource({ seed: options.seed, latencyMs: options.latency, failureRate: options.failureRate });
      const leagues = options.league.length > 0 ? options.league : demoLeagueKeys(options.leagues ?? DEMO_DEFAULT_LEAGUES, options.seed);
      return { source, jobs: cross(leagues, options.seasons ?? parseSeasons(DEMO_DEFAULT_SEASONS)) };
    }
    case 'yahoo': {
      if (options.league.length === 0) throw new InvalidOptionError('--league', 'at least one league key with --source yahoo, such as 423.l.12345', undefined);
      const yahoo = await import('../../source/yahoo/source.js');
      const spec = yahoo.yahooSource({
        ...(options.apiBase ? { apiBase: options.apiBase } : {}),
        ...(options.tokenUrl ? { tokenUrl: options.tokenUrl } : {}),
      });
      if (options.seasons) return { source: spec, jobs: cross(options.league, options.seasons) };
      const jobs: JobRequest[] = [];
      for (const leagueKey of options.league) {
        for (const { season } of await yahoo.listSeasons(spec.options, leagueKey)) jobs.push({ leagueKey, season, force });
      }
      return { source: spec, jobs };
    }
    case 'file': {
      if (!options.input) throw new InvalidOptionError('--input', 'a path with --source file (a saved response, a folder of them, or NDJSON)', undefined);
      const file = await import('../../source/file/source.js');
      const planned = await file.planFileJobs(options.input);
      const wanted = (job: { leagueKey: string; season: number }): boolean =>
        (options.league.length === 0 || options.league.includes(job.leagueKey)) && (!options.seasons || options.seasons.includes(job.season));
      const jobs = planned.filter(wanted).map((job) => ({ ...job, force }));
      if (jobs.length === 0) throw new BackfillError('ERR_INPUT', `Input ${options.input}: no transactions for the leagues and seasons asked for`);
      return { source: file.fileSource({ input: options.input }), jobs };
    }
  }
}

interface Progress {
  stop(): void;
}

/** A bar on a terminal; elsewhere a log line every few seconds, so unattended runs show life. */
function startProgress(context: CliContext, engine: Engine, jobCount: number, enabled: boolean): Progress {
  const ended = (): number => engine.totals.completed + engine.totals.failed + engine.totals.cancelled;
  if (enabled && context.stderr.isTTY && !context.json) {
    const bar = new cliProgress.SingleBar({
      format: 'backfill |{bar}| {value}/{total} jobs | {rows} rows | {rate} rows/s | locks {locks}',
      stream: context.stderr,
      hideCursor: true,
      clearOnComplete: false,
    }, cliProgress.Presets.shades_classic);
    const started = performance.now();
    bar.start(jobCount, 0, { rows: 0, rate: 0, locks: 0 });
    const update = (): void => bar.update(ended(), {
      rows: engine.totals.rowsFetched,
      rate: Math.round(engine.totals.rowsFetched / Math.max(0.001, (performance.now() - started) / 1000)),
      locks: engine.totals.lockCount,
    });
    const timer = setInterval(update, 200);
    return { stop: () => { clearInterval(timer); update(); bar.stop(); } };
  }
  const timer = setInterval(() => {
    context.logger.info({ jobsEnded: ended(), jobs: jobCount, rowsFetched: engine.totals.rowsFetched, locks: engine.totals.lockCount }, 'backfill progress');
  }, 5000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

export function formatSummary(s: BackfillSummary): string {
  const n = (value: number): string => value.toLocaleString('en-US');
  const lines = [
    `${s.interrupted ? 'Backfill interrupted' : 'Backfill finished'} in ${(s.durationMs / 1000).toFixed(1)} s: ${n(s.jobs)} jobs ` +
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
