/**
 * Prometheus metrics, made with prom-client on a registry of our own (never the global
 * default, so a host application's metrics and ours never collide). Two producers share one
 * set of names (docs/metrics.md):
 *
 * - `databaseMetrics()`: what the database records, for the dashboard's `/metrics`, from any
 *   process, during and after a run;
 * - `engineMetrics(engine)`: the live engine's figures, fed by its typed events and `totals`,
 *   for `backfill --metrics-port`.
 */
import { statSync } from 'node:fs';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { InvalidOptionError } from '../errors.js';
import { JOB_STATES } from '../model/index.js';
import { readWalNotCheckpointed } from '../db/doctor/wal-index.js';
import type { DashboardSnapshot } from './snapshot.js';

/**
 * Bucket bounds of `league_backfill_lock_wait_seconds`: from the 5 ms a busy-slices wait
 * takes to the 5 s busy timeout, and past it for waits that ran into retries.
 */
export const LOCK_WAIT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Every metric both producers export, by the name Prometheus sees. */
interface MetricSet {
  registry: Registry;
  rowsFetched: Counter;
  rowsInserted: Counter;
  rowsIgnored: Counter;
  rowsRejected: Counter;
  jobs: Gauge<'state'>;
  transactions: Counter;
  batchesCommitted: Counter;
  batchesFailed: Counter | null;
  locks: Counter;
  retries: Counter;
  retrySeconds: Counter;
  lockRetriesMax: Gauge;
  lockWait: Histogram;
  lockHoldMax: Gauge;
  checkpoints: Counter;
  checkpointsBlocked: Counter;
  walBytes: Gauge;
  walUncheckpointedBytes: Gauge;
  alerts: Counter<'level' | 'alert'>;
}

/**
 * `beforeScrape` runs first at each scrape: it is the `collect` hook of the first metric
 * registered, and the registry reads its metrics in registration order, each one's values
 * taken as soon as its hook returns.
 */
function createMetricSet(registry: Registry, options: { failedBatches: boolean; beforeScrape?: () => void }): MetricSet {
  const registers = [registry];
  const counter = (name: string, help: string): Counter => new Counter({ name: `league_backfill_${name}`, help, registers });
  const gauge = (name: string, help: string): Gauge => new Gauge({ name: `league_backfill_${name}`, help, registers });
  const first = new Counter({
    name: 'league_backfill_rows_fetched_total',
    help: 'Rows that reached the writer (inserted + ignored).',
    registers,
    ...(options.beforeScrape ? { collect: options.beforeScrape } : {}),
  });
  return {
    registry,
    rowsFetched: first,
    rowsInserted: counter('rows_inserted_total', 'Rows inserted into the transactions table.'),
    rowsIgnored: counter('rows_ignored_total', 'Rows ignored because they were already stored (INSERT OR IGNORE).'),
    rowsRejected: counter('rows_rejected_total', 'Source records that could not become a row (kept in rejected_rows).'),
    jobs: new Gauge({ name: 'league_backfill_jobs', help: 'Jobs (one league, one season) by state.', labelNames: ['state'], registers }),
    transactions: counter('transactions_total', 'Write transactions committed by the writer.'),
    batchesCommitted: counter('batches_committed_total', 'Batches committed.'),
    batchesFailed: options.failedBatches ? counter('batches_failed_total', 'Batches that could not be written (rolled back).') : null,
    locks: counter('locks_total', 'Times another process held the write lock when the writer wanted it.'),
    retries: counter('retries_total', 'Locked operations retried after a backoff.'),
    retrySeconds: counter('retry_seconds_total', 'Time spent in lock retries, seconds.'),
    lockRetriesMax: gauge('lock_retries_max', 'Most retries one operation needed (an info alert is raised above 2, i.e. more than 3 attempts).'),
    lockWait: new Histogram({
      name: 'league_backfill_lock_wait_seconds',
      help: 'Time the writer waited for a lock another process held, seconds.',
      buckets: [...LOCK_WAIT_BUCKETS],
      registers,
    }),
    lockHoldMax: gauge('lock_hold_max_seconds', 'Longest time one writer transaction held the write lock, seconds.'),
    checkpoints: counter('checkpoints_total', 'WAL checkpoints run by the writer.'),
    checkpointsBlocked: counter('checkpoints_blocked_total', 'Checkpoints that could not finish because a reader pinned the WAL.'),
    walBytes: gauge('wal_bytes', 'Size of the -wal file, bytes.'),
    walUncheckpointedBytes: gauge('wal_uncheckpointed_bytes',
      'WAL bytes no checkpoint has copied into the database yet (the -wal file size when the -shm WAL index cannot be read); what the WAL alerts judge.'),
    alerts: new Counter({
      name: 'league_backfill_alerts_total',
      help: 'Alerts raised, by level and by alert: lock_rate, lock_attempts, wal_pinned, wal_released, other.',
      labelNames: ['level', 'alert'],
      registers,
    }),
  };
}

/** The alerts the engine raises, each at its level: their series exist from the first scrape. */
const KNOWN_ALERTS: ReadonlyArray<readonly [level: string, alert: string]> = [
  ['warning', 'lock_rate'], ['critical', 'lock_rate'], ['info', 'lock_attempts'], ['warning', 'wal_pinned'], ['info', 'wal_released'],
];

function zeroAlerts(counter: Counter<'level' | 'alert'>): void {
  for (const [level, alert] of KNOWN_ALERTS) counter.inc({ level, alert }, 0);
}

/** Which alert a live alert is, from its figures: the same rule as `ALERT_KIND_SQL` for stored ones. */
export function alertKind(level: string, figures: Record<string, unknown>): string {
  if (typeof figures.kind === 'string') return figures.kind;
  if ('attempts' in figures) return 'lock_attempts';
  if ('locksPerMinute' in figures) return 'lock_rate';
  if ('walBytes' in figures) return level === 'info' ? 'wal_released' : 'wal_pinned';
  return 'other';
}

/** A counter mirrors a total kept elsewhere (the database, `engine.totals`): set it to that value. */
function setCounter(counter: Counter, value: number): void {
  counter.reset();
  if (value > 0) counter.inc(value);
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

// ---- the database's figures -----------------------------------------------------------------

/** A registry of what the database records, and the function that brings it up to a snapshot. */
export interface DatabaseMetrics {
  readonly registry: Registry;
  /** Sets every metric from one snapshot (call it before each scrape). */
  update(snapshot: DashboardSnapshot): void;
}

/**
 * The metrics of a database, as the dashboard's `/metrics` serves them. Counters are the
 * database's totals over every minute it holds (so `rate()` works across scrapes). The
 * database keeps lock waits as per-minute sums, not one by one: `lock_wait_seconds` has the
 * exact `_count` and `_sum`, and its buckets place each lock at its minute's mean wait.
 */
export function databaseMetrics(): DatabaseMetrics {
  const registry = new Registry();
  const set = createMetricSet(registry, { failedBatches: true });
  const extra = {
    yields: new Counter({ name: 'league_backfill_yields_total', help: 'Gaps the writer left so other processes could write.', registers: [registry] }),
    yieldSeconds: new Counter({ name: 'league_backfill_yield_seconds_total', help: 'Total length of those gaps, seconds.', registers: [registry] }),
    neighbourCommits: new Counter({ name: 'league_backfill_neighbour_commits_total', help: 'Commits by other connections the writer saw (PRAGMA data_version).', registers: [registry] }),
    walPinned: new Gauge({ name: 'league_backfill_wal_pinned', help: '1 while a reader pins the WAL so checkpoints cannot finish, else 0.', registers: [registry] }),
    walMaxBytes: new Gauge({ name: 'league_backfill_wal_max_bytes', help: 'Largest WAL size the writer recorded in the current minute (0 while it has written nothing in it), bytes.', registers: [registry] }),
    writerRunning: new Gauge({ name: 'league_backfill_writer_running', help: '1 while the engine holding the writer lease runs on this machine, else 0.', registers: [registry] }),
    databaseBytes: new Gauge({ name: 'league_backfill_database_bytes', help: 'Size of the database file, bytes.', registers: [registry] }),
    schemaVersion: new Gauge({ name: 'league_backfill_schema_version', help: 'PRAGMA user_version of the database (figures of newer schemas are 0 below it).', registers: [registry] }),
    readSeconds: new Gauge({ name: 'league_backfill_dashboard_read_seconds', help: 'How long the dashboard\'s last read transaction took, seconds.', registers: [registry] }),
    up: new Gauge({ name: 'league_backfill_database_up', help: '1 when the database could be read, else 0.', registers: [registry] }),
  };
  return {
    registry,
    update(snapshot) {
      const jobs = snapshot.jobs;
      const writer = snapshot.writer;
      setCounter(set.rowsFetched, jobs?.rowsFetched ?? 0);
      setCounter(set.rowsInserted, jobs?.rowsInserted ?? 0);
      setCounter(set.rowsIgnored, jobs?.rowsIgnored ?? 0);
      setCounter(set.rowsRejected, jobs?.rowsRejected ?? 0);
      set.jobs.reset();
      for (const state of JOB_STATES) set.jobs.set({ state }, jobs?.byState[state] ?? 0);
      setCounter(set.transactions, writer?.transactions ?? 0);
      setCounter(set.batchesCommitted, writer?.batches ?? 0);
      setCounter(set.batchesFailed!, writer?.failedBatches ?? 0);
      setCounter(set.locks, writer?.locks ?? 0);
      setCounter(set.retries, writer?.retries ?? 0);
      setCounter(set.retrySeconds, jobs?.totalRetryTime ?? 0);
      set.lockRetriesMax.set(jobs?.maxRetryCount ?? 0);
      set.lockWait.reset();
      // An empty histogram still exports its zero buckets, so rate() works from the first scrape.
      set.lockWait.zero({});
      for (const { locks, lockWaitMs } of snapshot.lockWaitsByMinute) {
        const mean = lockWaitMs / locks / 1000;
        for (let i = 0; i < locks; i++) set.lockWait.observe(mean);
      }
      set.lockHoldMax.set((writer?.maxHoldMs ?? 0) / 1000);
      setCounter(set.checkpoints, writer?.checkpoints ?? 0);
      setCounter(set.checkpointsBlocked, writer?.checkpointsBlocked ?? 0);
      set.walBytes.set(snapshot.database.walBytes);
      set.walUncheckpointedBytes.set(snapshot.database.walUncheckpointedBytes);
      set.alerts.reset();
      zeroAlerts(set.alerts);
      for (const { level, kind, count } of snapshot.alertKinds) set.alerts.inc({ level, alert: kind }, count);
      setCounter(extra.yields, writer?.yields ?? 0);
      setCounter(extra.yieldSeconds, (writer?.yieldMs ?? 0) / 1000);
      setCounter(extra.neighbourCommits, writer?.neighbourCommits ?? 0);
      // A pin whose process has ended pins nothing: the writer clears it at its next checkpoint.
      extra.walPinned.set(snapshot.walPin !== null && snapshot.walPin.alive !== false ? 1 : 0);
      extra.walMaxBytes.set(snapshot.minutes.at(-1)?.maxWalBytes ?? 0);
      extra.writerRunning.set(snapshot.lease?.alive === true ? 1 : 0);
      extra.databaseBytes.set(snapshot.database.databaseBytes);
      extra.schemaVersion.set(snapshot.database.schemaVersion ?? 0);
      extra.readSeconds.set(snapshot.database.readMs / 1000);
      extra.up.set(snapshot.database.exists && snapshot.database.error === null ? 1 : 0);
    },
  };
}

// ---- the live engine ------------------------------------------------------------------------

/** The totals `engineMetrics` reads (the engine's `RunTotals`). */
export interface MetricsEngineTotals {
  readonly jobs: number;
  readonly completed: number;
  readonly failed: number;
  readonly cancelled: number;
  readonly skipped: number;
  readonly rowsFetched: number;
  readonly rowsInserted: number;
  readonly rowsIgnored: number;
  readonly rowsRejected: number;
  readonly lockCount: number;
  readonly retries: number;
  readonly maxRetryCount: number;
  readonly totalRetryTime: number;
  readonly transactions: number;
  readonly maxLockHoldMs: number;
  /** Batches that could not be written, when the engine counts them. */
  readonly failedBatches?: number;
}

interface JobLike {
  readonly id: string;
  readonly state: string;
}

/**
 * What `engineMetrics` needs of an engine: its totals and the events it listens to. The
 * engine's `EngineEvents` satisfy it; the server layer sits below the engine, so it names
 * the shape instead of importing the class.
 */
export interface MetricsEngine {
  readonly totals: MetricsEngineTotals;
  on(event: 'job:queued', listener: (job: JobLike) => void): unknown;
  on(event: 'job:completed', listener: (summary: { jobId: string }) => void): unknown;
  on(event: 'job:failed', listener: (summary: { jobId: string }, error: Error) => void): unknown;
  on(event: 'batch:committed', listener: (event: { rowCount: number }) => void): unknown;
  on(event: 'lock', listener: (info: { waitMs: number }) => void): unknown;
  on(event: 'alert', listener: (alert: { level: string; figures: Record<string, unknown> }) => void): unknown;
  on(event: 'checkpoint', listener: (info: { busy: boolean; walBytesBefore: number }) => void): unknown;
  off(event: 'job:queued', listener: (job: JobLike) => void): unknown;
  off(event: 'job:completed', listener: (summary: { jobId: string }) => void): unknown;
  off(event: 'job:failed', listener: (summary: { jobId: string }, error: Error) => void): unknown;
  off(event: 'batch:committed', listener: (event: { rowCount: number }) => void): unknown;
  off(event: 'lock', listener: (info: { waitMs: number }) => void): unknown;
  off(event: 'alert', listener: (alert: { level: string; figures: Record<string, unknown> }) => void): unknown;
  off(event: 'checkpoint', listener: (info: { busy: boolean; walBytesBefore: number }) => void): unknown;
}

export interface EngineMetricsOptions {
  /** The engine's database file: `league_backfill_wal_bytes` is the size of its `-wal` file. @default the WAL size before the last checkpoint */
  readonly database?: string;
  /** Aborting it detaches the registry's listeners from the engine. */
  readonly signal?: AbortSignal;
}

const ENGINE_METRICS_OPTIONS = new Set(['database', 'signal']);

export function resolveEngineMetricsOptions(options: EngineMetricsOptions = {}): EngineMetricsOptions {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object such as { database: "data/league_analytics.db" }', options);
  for (const key of Object.keys(options)) {
    if (!ENGINE_METRICS_OPTIONS.has(key)) throw new InvalidOptionError(key, `one of the engineMetrics options (${[...ENGINE_METRICS_OPTIONS].join(', ')})`, key);
  }
  if (options.database !== undefined && (typeof options.database !== 'string' || options.database === '')) {
    throw new InvalidOptionError('database', 'the path of the engine\'s database file', options.database);
  }
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw new InvalidOptionError('signal', 'an AbortSignal', options.signal);
  return options;
}

/**
 * A registry fed by a live engine: counters and gauges read `engine.totals` at each scrape
 * (so they equal what the run's summary prints), the lock-wait histogram observes every
 * `lock` event's real wait, checkpoints and alerts are counted from their events, and jobs by
 * state come from the job handles.
 */
export function engineMetrics(engine: MetricsEngine, options: EngineMetricsOptions = {}): Registry {
  const resolved = resolveEngineMetricsOptions(options);
  if (engine === null || typeof engine !== 'object' || typeof engine.on !== 'function' || typeof engine.totals !== 'object') {
    throw new InvalidOptionError('engine', 'an engine made by createEngine()', engine);
  }
  const registry = new Registry();
  const set: MetricSet = createMetricSet(registry, { failedBatches: typeof engine.totals.failedBatches === 'number', beforeScrape: () => refresh() });
  const refresh = (): void => {
    const totals = engine.totals;
    prune();
    const counts: Record<string, number> = { queued: 0, running: 0 };
    for (const job of active.values()) counts[job.state] = (counts[job.state] ?? 0) + 1;
    set.jobs.reset();
    set.jobs.set({ state: 'queued' }, counts.queued ?? 0);
    set.jobs.set({ state: 'running' }, counts.running ?? 0);
    // A job found already complete is `completed` in job_log too.
    set.jobs.set({ state: 'completed' }, totals.completed + totals.skipped);
    set.jobs.set({ state: 'failed' }, totals.failed);
    set.jobs.set({ state: 'cancelled' }, totals.cancelled);
    setCounter(set.rowsFetched, totals.rowsFetched);
    setCounter(set.rowsInserted, totals.rowsInserted);
    setCounter(set.rowsIgnored, totals.rowsIgnored);
    setCounter(set.rowsRejected, totals.rowsRejected);
    setCounter(set.transactions, totals.transactions);
    setCounter(set.batchesCommitted, committed);
    if (set.batchesFailed) setCounter(set.batchesFailed, totals.failedBatches ?? 0);
    setCounter(set.locks, totals.lockCount);
    setCounter(set.retries, totals.retries);
    setCounter(set.retrySeconds, totals.totalRetryTime);
    set.lockRetriesMax.set(totals.maxRetryCount);
    set.lockHoldMax.set(totals.maxLockHoldMs / 1000);
    const walFile = resolved.database !== undefined ? fileSize(`${resolved.database}-wal`) : walBytesBefore;
    set.walBytes.set(walFile);
    set.walUncheckpointedBytes.set((resolved.database !== undefined ? readWalNotCheckpointed(resolved.database, walFile) : null) ?? walFile);
  };
  let walBytesBefore = 0;
  // Job handles of jobs not ended yet: their state is read at each scrape. Ended jobs are
  // counted from the totals, so the map stays as small as the jobs in flight.
  const active = new Map<string, JobLike>();
  const prune = (): void => {
    for (const [id, job] of active) if (job.state !== 'queued' && job.state !== 'running') active.delete(id);
  };
  const listeners = {
    queued: (job: JobLike): void => {
      active.set(job.id, job);
      if (active.size % 1024 === 0) prune();
    },
    ended: (summary: { jobId: string }): void => {
      active.delete(summary.jobId);
    },
    lock: (info: { waitMs: number }): void => set.lockWait.observe(Math.max(0, info.waitMs) / 1000),
    alert: (alert: { level: string; figures: Record<string, unknown> }): void => set.alerts.inc({ level: alert.level, alert: alertKind(alert.level, alert.figures) }),
    checkpoint: (info: { busy: boolean; walBytesBefore: number }): void => {
      set.checkpoints.inc();
      if (info.busy) set.checkpointsBlocked.inc();
      walBytesBefore = info.walBytesBefore;
    },
  };
  let committed = 0;
  const batch = (): void => {
    committed++;
  };
  engine.on('job:queued', listeners.queued);
  engine.on('job:completed', listeners.ended);
  engine.on('job:failed', listeners.ended);
  engine.on('batch:committed', batch);
  engine.on('lock', listeners.lock);
  engine.on('alert', listeners.alert);
  engine.on('checkpoint', listeners.checkpoint);
  resolved.signal?.addEventListener('abort', () => {
    engine.off('job:queued', listeners.queued);
    engine.off('job:completed', listeners.ended);
    engine.off('job:failed', listeners.ended);
    engine.off('batch:committed', batch);
    engine.off('lock', listeners.lock);
    engine.off('alert', listeners.alert);
    engine.off('checkpoint', listeners.checkpoint);
  }, { once: true });
  zeroAlerts(set.alerts);

  return registry;
}
