import { statSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { register as globalRegistry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
// The engine starts worker threads, which Node 20 can only load as JavaScript: test the build.
import {
  createEngine, demoLeagueKeys, demoSource, engineMetrics, PROFILES, serveEngineMetrics, startDashboard,
  type AlertLevel, type Engine, type MetricsEngine,
} from '../dist/src/index.js';
import { readWalIndex } from '../dist/src/db/doctor/wal-index.js';
import { startNotebook } from './helpers/neighbours.js';
import { holdWriteLock } from './helpers/processes.js';
import { useTempDir } from './helpers/temp.js';

const tempDir = useTempDir('league-backfill-metrics-');
const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

interface Scrape {
  /** `name{label="v",...}` (labels sorted) -> value. */
  samples: Map<string, number>;
  types: Map<string, string>;
  helps: Map<string, string>;
  contentType: string | null;
}

/** Parses the Prometheus text exposition format (version 0.0.4). */
function parsePrometheus(text: string): Omit<Scrape, 'contentType'> {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  const helps = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      (meta[1] === 'TYPE' ? types : helps).set(meta[2]!, meta[3]!);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$/.exec(line);
    if (!sample) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels = sample[3] ? [...sample[3].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => `${m[1]}="${m[2]}"`).sort().join(',') : '';
    const value = sample[4] === '+Inf' ? Infinity : sample[4] === '-Inf' ? -Infinity : Number(sample[4]);
    samples.set(labels ? `${sample[1]}{${labels}}` : sample[1]!, value);
  }
  return { samples, types, helps };
}

async function scrape(url: string): Promise<Scrape> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  return { ...parsePrometheus(await response.text()), contentType: response.headers.get('content-type') };
}

/** The sum of a family's samples whose labels include `label` (e.g. `level="info"`). */
function sumWith(scrape: Scrape, name: string, label: string): number {
  let total = 0;
  for (const [key, v] of scrape.samples) if (key.startsWith(`${name}{`) && key.includes(label)) total += v;
  return total;
}

function value(scrape: Scrape, key: string): number {
  const found = scrape.samples.get(key);
  if (found === undefined) throw new Error(`no sample ${key} in the scrape (have: ${[...scrape.samples.keys()].slice(0, 80).join(' ')})`);
  return found;
}

/** Every family is documented and typed, named league_backfill_*, counters ending in _total. */
function expectConventionalNames(result: Scrape): void {
  expect(result.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
  expect(result.types.size).toBeGreaterThan(15);
  for (const [name, type] of result.types) {
    expect(name).toMatch(/^league_backfill_[a-z_]+$/);
    expect(result.helps.get(name), name).toBeTruthy();
    if (type === 'counter') expect(name, name).toMatch(/_total$/);
    else expect(name, name).not.toMatch(/_total$/);
  }
}

/** Buckets are cumulative, and the +Inf bucket is the count. */
function expectHistogram(result: Scrape, name: string): { count: number; sum: number } {
  const buckets = [...result.samples].filter(([key]) => key.startsWith(`${name}_bucket{`))
    .map(([key, v]) => ({ le: Number(/le="([^"]+)"/.exec(key)![1] === '+Inf' ? Infinity : /le="([^"]+)"/.exec(key)![1]), v }))
    .sort((a, b) => a.le - b.le);
  expect(buckets.length).toBeGreaterThan(5);
  for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.v).toBeGreaterThanOrEqual(buckets[i - 1]!.v);
  const count = value(result, `${name}_count`);
  expect(buckets.at(-1)).toEqual({ le: Infinity, v: count });
  return { count, sum: value(result, `${name}_sum`) };
}

/** A backfill with neighbours that make it wait for the lock and pin the WAL. */
async function backfillWithContention(db: string, engine: Engine): Promise<void> {
  const holder = await holdWriteLock(db, 200, 5, 100);
  cleanups.push(async () => {
    holder.process.kill('SIGTERM');
    await holder.released.catch(() => undefined);
  });
  const notebook = startNotebook({ database: db, holdMs: 1500 });
  cleanups.push(() => notebook.stop());
  await notebook.ready;
  const jobs = demoLeagueKeys(2, 33).flatMap((leagueKey) => [2023, 2024].map((season) => engine.enqueue({ leagueKey, season })));
  await Promise.all(jobs.map((job) => job.done));
  await holder.released;
  await notebook.stop();
}

function engineOptions(db: string): Parameters<typeof createEngine>[0] {
  return {
    database: db, source: demoSource({ seed: 33, latencyMs: 5 }), flags: PROFILES.recommended, checkpointThresholdBytes: 1024 * 1024, pagesPerTask: 2,
  };
}

/** What the WAL index says a checkpoint has still to copy, bounded by the file (the file when there is no index). */
function expectedUncheckpointed(db: string): number {
  const file = statSync(`${db}-wal`, { throwIfNoEntry: false })?.size ?? 0;
  const header = readWalIndex(db);
  if (file === 0 || header === null) return file;
  return Math.min(file, (header.mxFrame - header.nBackfill) * (header.pageSize + 24));
}

describe("the dashboard's /metrics", () => {
  it('is Prometheus text from a registry of its own, and every figure equals what the database holds', async () => {
    const db = join(tempDir(), 'league.db');
    {
      await using engine = await createEngine(engineOptions(db));
      await backfillWithContention(db, engine);
    }
    await using dashboard = await startDashboard({ database: db, port: 0 });
    const result = await scrape(dashboard.metricsUrl);
    expectConventionalNames(result);

    const check = new Database(db, { readonly: true });
    const one = (sql: string): number => Number(check.prepare(sql).pluck().get() ?? 0);
    const jobs = (column: string): number => one(`SELECT coalesce(sum(${column}), 0) FROM job_log`);
    const minutes = (column: string, aggregate = 'sum'): number => one(`SELECT coalesce(${aggregate}(${column}), 0) FROM writer_metrics`);
    const byState = new Map((check.prepare('SELECT status, count(*) AS n FROM job_log GROUP BY status').all() as Array<{ status: string; n: number }>).map((r) => [r.status, r.n]));
    const alerts = new Map((check.prepare('SELECT level, count(*) AS n FROM writer_alerts GROUP BY level').all() as Array<{ level: string; n: number }>).map((r) => [r.level, r.n]));
    const maxRetries = one('SELECT coalesce(max(max_retry_count), 0) FROM job_log');
    const retrySeconds = jobs('total_retry_time');
    const stored = one('SELECT count(*) FROM transactions');
    const pinAlerts = one("SELECT count(*) FROM writer_alerts WHERE level = 'warning' AND message LIKE 'the WAL is pinned%'");
    cleanups.push(async () => check.close());

    expect(value(result, 'league_backfill_rows_inserted_total')).toBe(jobs('rows_inserted'));
    expect(value(result, 'league_backfill_rows_inserted_total')).toBe(stored);
    expect(value(result, 'league_backfill_rows_fetched_total')).toBe(jobs('rows_fetched'));
    expect(value(result, 'league_backfill_rows_ignored_total')).toBe(jobs('rows_ignored'));
    expect(value(result, 'league_backfill_rows_rejected_total')).toBe(jobs('rows_rejected'));
    for (const state of ['queued', 'running', 'completed', 'failed', 'cancelled']) {
      expect(value(result, `league_backfill_jobs{state="${state}"}`), state).toBe(byState.get(state) ?? 0);
    }
    expect(value(result, 'league_backfill_jobs{state="completed"}')).toBe(4);
    expect(value(result, 'league_backfill_transactions_total')).toBe(minutes('transactions'));
    expect(value(result, 'league_backfill_batches_committed_total')).toBe(minutes('batches'));
    expect(value(result, 'league_backfill_batches_failed_total')).toBe(minutes('failed_batches'));
    expect(value(result, 'league_backfill_locks_total')).toBe(minutes('locks'));
    expect(value(result, 'league_backfill_locks_total')).toBeGreaterThan(0);
    expect(value(result, 'league_backfill_retries_total')).toBe(minutes('retries'));
    expect(value(result, 'league_backfill_retry_seconds_total')).toBeCloseTo(retrySeconds, 6);
    expect(value(result, 'league_backfill_lock_retries_max')).toBe(maxRetries);
    const waits = expectHistogram(result, 'league_backfill_lock_wait_seconds');
    expect(waits.count).toBe(minutes('locks'));
    expect(waits.sum).toBeCloseTo(minutes('lock_wait_ms') / 1000, 6);
    expect(value(result, 'league_backfill_lock_hold_max_seconds')).toBeCloseTo(minutes('max_hold_ms', 'max') / 1000, 9);
    expect(value(result, 'league_backfill_checkpoints_total')).toBe(minutes('checkpoints'));
    expect(value(result, 'league_backfill_checkpoints_blocked_total')).toBe(minutes('checkpoints_blocked'));
    expect(value(result, 'league_backfill_yields_total')).toBe(minutes('yields'));
    expect(value(result, 'league_backfill_yield_seconds_total')).toBeCloseTo(minutes('yield_ms') / 1000, 6);
    expect(value(result, 'league_backfill_neighbour_commits_total')).toBe(minutes('neighbour_commits'));
    expect(value(result, 'league_backfill_wal_max_bytes')).toBeLessThanOrEqual(minutes('max_wal_bytes', 'max'));
    for (const level of ['info', 'warning', 'critical']) {
      expect(sumWith(result, 'league_backfill_alerts_total', `level="${level}"`), level).toBe(alerts.get(level) ?? 0);
    }
    // Each alert the engine raises has its series, by name, from the first scrape.
    for (const series of ['alert="lock_rate",level="warning"', 'alert="lock_rate",level="critical"', 'alert="lock_attempts",level="info"', 'alert="wal_pinned",level="warning"']) {
      expect(result.samples.has(`league_backfill_alerts_total{${series}}`), series).toBe(true);
    }
    expect(value(result, 'league_backfill_alerts_total{alert="wal_pinned",level="warning"}')).toBe(pinAlerts);
    expect(value(result, 'league_backfill_wal_bytes')).toBe(statSync(`${db}-wal`, { throwIfNoEntry: false })?.size ?? 0);
    expect(value(result, 'league_backfill_wal_uncheckpointed_bytes')).toBe(expectedUncheckpointed(db));
    expect(value(result, 'league_backfill_database_bytes')).toBe(statSync(db).size);
    expect(value(result, 'league_backfill_writer_running')).toBe(0);
    expect(value(result, 'league_backfill_schema_version')).toBe(2);
    expect(value(result, 'league_backfill_database_up')).toBe(1);
    // Its own registry: nothing lands in prom-client's global default one.
    expect(await globalRegistry.metrics()).not.toContain('league_backfill_');
  }, 120_000);

  it('answers for a database that does not exist yet, with the database down and every figure 0', async () => {
    await using dashboard = await startDashboard({ database: join(tempDir(), 'later.db'), port: 0 });
    const result = await scrape(dashboard.metricsUrl);
    expect(value(result, 'league_backfill_database_up')).toBe(0);
    expect(value(result, 'league_backfill_rows_inserted_total')).toBe(0);
    expect(value(result, 'league_backfill_jobs{state="running"}')).toBe(0);
  });
});

describe("the live engine's metrics (backfill --metrics-port)", () => {
  it("equal engine.totals, and the lock-wait histogram observed every lock the engine reported", async () => {
    const db = join(tempDir(), 'league.db');
    const engine = await createEngine(engineOptions(db));
    cleanups.push(() => engine.close());
    // The engine fits the shape the server layer asks for (checked by tsc in `npm run typecheck`).
    const shaped: MetricsEngine = engine;
    const listenersBefore = engine.listenerCount('lock');
    const server = await serveEngineMetrics(shaped, { port: 0, database: db });
    cleanups.push(() => server.close());
    expect(server.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect(engine.listenerCount('lock')).toBe(listenersBefore + 1);

    const waits: number[] = [];
    const alerts: Record<AlertLevel, number> = { info: 0, warning: 0, critical: 0 };
    let checkpoints = 0;
    let blocked = 0;
    let batches = 0;
    engine.on('lock', (info) => waits.push(info.waitMs));
    engine.on('alert', (alert) => { alerts[alert.level]++; });
    engine.on('checkpoint', (info) => {
      checkpoints++;
      if (info.busy) blocked++;
    });
    engine.on('batch:committed', () => { batches++; });

    const holder = await holdWriteLock(db, 200, 5, 100);
    cleanups.push(async () => {
      holder.process.kill('SIGTERM');
      await holder.released.catch(() => undefined);
    });
    const jobs = demoLeagueKeys(2, 33).flatMap((leagueKey) => [2023, 2024].map((season) => engine.enqueue({ leagueKey, season })));
    // Live: the jobs just enqueued are in flight (queued or running) at once.
    const during = await scrape(server.metricsUrl);
    expect(value(during, 'league_backfill_jobs{state="queued"}') + value(during, 'league_backfill_jobs{state="running"}')).toBe(4);
    await Promise.all(jobs.map((job) => job.done));
    await holder.released;

    const result = await scrape(server.metricsUrl);
    expectConventionalNames(result);
    const totals = engine.totals;
    expect(value(result, 'league_backfill_rows_inserted_total')).toBe(totals.rowsInserted);
    expect(value(result, 'league_backfill_rows_fetched_total')).toBe(totals.rowsFetched);
    expect(value(result, 'league_backfill_rows_ignored_total')).toBe(totals.rowsIgnored);
    expect(value(result, 'league_backfill_rows_rejected_total')).toBe(totals.rowsRejected);
    expect(value(result, 'league_backfill_transactions_total')).toBe(totals.transactions);
    expect(value(result, 'league_backfill_batches_committed_total')).toBe(batches);
    expect(value(result, 'league_backfill_locks_total')).toBe(totals.lockCount);
    expect(totals.lockCount).toBeGreaterThan(0);
    expect(value(result, 'league_backfill_retries_total')).toBe(totals.retries);
    expect(value(result, 'league_backfill_retry_seconds_total')).toBeCloseTo(totals.totalRetryTime, 9);
    expect(value(result, 'league_backfill_lock_retries_max')).toBe(totals.maxRetryCount);
    expect(value(result, 'league_backfill_lock_hold_max_seconds')).toBeCloseTo(totals.maxLockHoldMs / 1000, 9);
    const histogram = expectHistogram(result, 'league_backfill_lock_wait_seconds');
    expect(histogram.count).toBe(waits.length);
    expect(histogram.sum).toBeCloseTo(waits.reduce((a, b) => a + b, 0) / 1000, 6);
    expect(value(result, 'league_backfill_jobs{state="completed"}')).toBe(totals.completed + totals.skipped);
    expect(value(result, 'league_backfill_jobs{state="completed"}')).toBe(4);
    expect(value(result, 'league_backfill_jobs{state="failed"}')).toBe(totals.failed);
    expect(value(result, 'league_backfill_jobs{state="cancelled"}')).toBe(totals.cancelled);
    expect(value(result, 'league_backfill_jobs{state="queued"}') + value(result, 'league_backfill_jobs{state="running"}')).toBe(0);
    expect(value(result, 'league_backfill_checkpoints_total')).toBe(checkpoints);
    expect(value(result, 'league_backfill_checkpoints_blocked_total')).toBe(blocked);
    for (const level of ['info', 'warning', 'critical'] as const) {
      expect(sumWith(result, 'league_backfill_alerts_total', `level="${level}"`), level).toBe(alerts[level]);
    }
    expect(value(result, 'league_backfill_wal_bytes')).toBe(statSync(`${db}-wal`, { throwIfNoEntry: false })?.size ?? 0);
    expect(value(result, 'league_backfill_wal_uncheckpointed_bytes')).toBe(expectedUncheckpointed(db));

    // Closing the server detaches its listeners from the engine.
    await server.close();
    expect(engine.listenerCount('lock')).toBe(listenersBefore + 1); // the test's own listener
  }, 120_000);

  it('engineMetrics(engine) alone is a registry of its own; unknown options are refused by name', async () => {
    const db = join(tempDir(), 'league.db');
    await using engine = await createEngine({ database: db, source: demoSource({ seed: 2 }), flags: PROFILES.recommended });
    const controller = new AbortController();
    const registry = engineMetrics(engine, { signal: controller.signal });
    await engine.enqueue({ leagueKey: '461.l.123456', season: 2024 }).done;
    const text = await registry.metrics();
    expect(parsePrometheus(text).samples.get('league_backfill_rows_inserted_total')).toBe(engine.totals.rowsInserted);
    controller.abort();
    expect(() => engineMetrics(engine, { databse: db } as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('`databse`') }));
    expect(() => engineMetrics({} as never)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('`engine`') }));
    await expect(serveEngineMetrics(engine, {} as never)).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('`port`') });
    await expect(startDashboard({ database: db, prot: 1 } as never)).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('`prot`') });
    await expect(startDashboard({ database: db, port: 70_000 })).rejects.toMatchObject({ code: 'ERR_INVALID_OPTION', message: expect.stringContaining('an integer from 0 to 65535') });
  });
});

describe('both servers over HTTP', () => {
  /** A raw request, so the Host header can be anything. */
  function get(url: string, options: { host?: string; method?: string } = {}): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const target = new URL(url);
      const req = request({ hostname: target.hostname, port: target.port, path: target.pathname, method: options.method ?? 'GET', agent: false, headers: options.host ? { host: options.host } : {} }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => { body += chunk; }).on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('answer only loopback names on loopback, GET and HEAD only, and stop when disposed', async () => {
    const db = join(tempDir(), 'league.db');
    let url: string;
    {
      await using dashboard = await startDashboard({ database: db, port: 0 });
      url = dashboard.url;
      expect((await get(url)).status).toBe(200);
      expect((await get(url, { host: `localhost:${dashboard.port}` })).status).toBe(200);
      // A page elsewhere that rebinds its own name to 127.0.0.1 gets nothing.
      const rebound = await get(`${url}api/snapshot`, { host: `attacker.example:${dashboard.port}` });
      expect(rebound.status).toBe(421);
      expect(rebound.body).toContain('only requests to 127.0.0.1 or localhost');
      expect((await get(url, { method: 'POST' })).status).toBe(405);
      const missing = await get(`${url}nothing-here`);
      expect(missing.status).toBe(404);
      expect(missing.body).toContain('/metrics');
      expect((await get(`${url}healthz`)).body).toBe('ok\n');
    }
    await expect(get(url)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
