/**
 * Soak run (`npm run soak`): a bounded long run of repeated backfills through one long-lived
 * engine (rounds of fresh leagues alternate with `force` re-runs of the previous round's),
 * while reader processes run analytics queries in a loop and a legacy writer process writes
 * to its own table the old way (its own connection, deferred transactions, better-sqlite3's
 * default settings), counting its errors. Every few seconds it prints memory (RSS, heap),
 * WAL and database size, and lock figures; at the end it checks that:
 *   - memory stays flat: the median RSS of the last third of the run is within a bound of
 *     the first third's;
 *   - the WAL stays under the checkpoint threshold plus a margin at every sample;
 *   - nothing is lost: rows in the table equal the rows the engine reported inserted, every
 *     job completed, integrity_check is ok, and the legacy writer's table holds every row it
 *     committed.
 *
 *   npm run soak -- [--minutes 3 | --seconds S] [--readers 2] [--reader-pause-ms 1000]
 *                   [--legacy-writers 1] [--leagues 2] [--seasons 2021-2024] [--latency 1]
 *                   [--max-rows 300000] [--interval 5] [--checkpoint-mb 4] [--wal-margin-mb 16]
 *                   [--rss-growth-mb 64] [--dir PATH] [--keep] [--json]
 *
 * Readers run their queries, then pause `--reader-pause-ms` (a dashboard refreshing). With
 * readers that never pause, SQLite can never start the WAL over (some reader always holds a
 * snapshot): try `--reader-pause-ms 0` to see the engine's checkpoint-starvation alerts.
 * Once the table holds `--max-rows` rows, every round is a forced re-run: the readers' queries
 * scan the whole table, and on an ever larger table they would end up longer than the
 * writer's bounded wait for a checkpoint, which is a different test (see docs/reliability.md).
 *
 * The readers and the legacy writer are this same file run with `--role reader` or
 * `--role legacy-writer`: the benchmarks do not depend on the tests' helpers.
 * Exit code: 0 when every check passed, 1 when one failed, 2 for bad arguments.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { createEngine, demoLeagueKeys, demoSource, PROFILES, type JobRequest } from '../src/index.js';

const SELF = fileURLToPath(import.meta.url);
const MB = 1024 * 1024;

// ---- the contending processes ------------------------------------------------------------

/** What a contender prints, one JSON line a second and one at the end. */
interface ContenderReport {
  role: 'reader' | 'legacy-writer';
  pid: number;
  ok: number;
  errors: number;
  messages: string[];
  done: boolean;
}

/** A dashboard or notebook: analytics queries in a loop on a read-only connection, `pauseMs` between rounds. */
async function runReader(path: string, until: number, pauseMs: number): Promise<void> {
  const db = new Database(path, { readonly: true, timeout: 0 });
  const queries = [
    'SELECT league_key, type, count(*) AS n FROM transactions GROUP BY league_key, type',
    'SELECT destination_team_key, count(*) AS adds FROM transactions WHERE destination_team_key IS NOT NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 5',
    'SELECT count(*) AS n, count(DISTINCT transaction_key) AS t FROM transactions',
    'SELECT status, count(*) FROM job_log GROUP BY status',
  ].map((sql) => db.prepare(sql));
  const report: ContenderReport = { role: 'reader', pid: process.pid, ok: 0, errors: 0, messages: [], done: false };
  let lastReport = Date.now();
  while (Date.now() < until) {
    for (const query of queries) {
      try {
        query.all();
        report.ok++;
      } catch (error) {
        report.errors++;
        note(report, error);
      }
    }
    if (Date.now() - lastReport >= 1000) {
      lastReport = Date.now();
      process.stdout.write(`${JSON.stringify(report)}\n`);
    }
    await sleep(pauseMs);
  }
  db.close();
  report.done = true;
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

/** The legacy pattern: its own connection with default settings, deferred transactions, to its own table. */
async function runLegacyWriter(path: string, until: number): Promise<void> {
  const db = new Database(path);
  const report: ContenderReport = { role: 'legacy-writer', pid: process.pid, ok: 0, errors: 0, messages: [], done: false };
  let created = false;
  let lastReport = Date.now();
  let sequence = 0;
  while (Date.now() < until) {
    try {
      if (!created) {
        db.exec('CREATE TABLE IF NOT EXISTS legacy_notes (id INTEGER PRIMARY KEY, writer INTEGER, sequence INTEGER, note TEXT)');
        created = true;
      }
      const insert = db.prepare('INSERT INTO legacy_notes (writer, sequence, note) VALUES (?, ?, ?)');
      db.exec('BEGIN');
      for (let i = 0; i < 5; i++) insert.run(process.pid, sequence, `note ${sequence}.${i}`);
      db.exec('COMMIT');
      sequence++;
      report.ok++;
    } catch (error) {
      report.errors++;
      note(report, error);
      if (db.inTransaction) db.exec('ROLLBACK');
    }
    if (Date.now() - lastReport >= 1000) {
      lastReport = Date.now();
      process.stdout.write(`${JSON.stringify(report)}\n`);
    }
    await sleep(10);
  }
  db.close();
  report.done = true;
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

function note(report: ContenderReport, error: unknown): void {
  const message = `${(error as { code?: string }).code ?? ''} ${(error as Error).message}`.trim();
  if (!report.messages.includes(message) && report.messages.length < 5) report.messages.push(message);
}

interface Contender {
  role: ContenderReport['role'];
  child: ChildProcess;
  latest: ContenderReport | undefined;
  stderr: string;
  exited: Promise<number | null>;
}

function startContender(role: ContenderReport['role'], path: string, until: number, pauseMs: number): Contender {
  const child = spawn(process.execPath, [SELF, '--role', role, '--db', path, '--until', String(until), '--pause', String(pauseMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const contender: Contender = { role, child, latest: undefined, stderr: '', exited: new Promise((resolve) => child.on('close', (code) => resolve(code))) };
  let buffer = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const line of lines) if (line.trim() !== '') contender.latest = JSON.parse(line) as ContenderReport;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => { contender.stderr += chunk; });
  return contender;
}

// ---- the soak ----------------------------------------------------------------------------

interface Options {
  seconds: number;
  readers: number;
  readerPauseMs: number;
  legacyWriters: number;
  leagues: number;
  seasons: number[];
  latency: number;
  maxRows: number;
  interval: number;
  checkpointMb: number;
  walMarginMb: number;
  rssGrowthMb: number;
  dir: string | undefined;
  keep: boolean;
  json: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      minutes: { type: 'string' },
      seconds: { type: 'string' },
      readers: { type: 'string', default: '2' },
      'reader-pause-ms': { type: 'string', default: '1000' },
      'legacy-writers': { type: 'string', default: '1' },
      leagues: { type: 'string', default: '2' },
      seasons: { type: 'string', default: '2021-2024' },
      latency: { type: 'string', default: '1' },
      'max-rows': { type: 'string', default: '300000' },
      interval: { type: 'string', default: '5' },
      'checkpoint-mb': { type: 'string', default: '4' },
      'wal-margin-mb': { type: 'string', default: '16' },
      'rss-growth-mb': { type: 'string', default: '64' },
      dir: { type: 'string' },
      keep: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const number = (name: string, text: string | undefined, min: number, max: number): number => {
    const value = Number(text);
    if (text === undefined || text.trim() === '' || !Number.isFinite(value) || value < min || value > max) {
      throw new Error(`Expected --${name} to be a number from ${min} to ${max}, got ${JSON.stringify(text)}`);
    }
    return value;
  };
  const integer = (name: string, text: string | undefined, min: number, max: number): number => {
    const value = number(name, text, min, max);
    if (!Number.isInteger(value)) throw new Error(`Expected --${name} to be an integer, got ${JSON.stringify(text)}`);
    return value;
  };
  if (values.minutes !== undefined && values.seconds !== undefined) throw new Error('Give --minutes or --seconds, not both');
  const seconds = values.seconds !== undefined ? number('seconds', values.seconds, 1, 86_400) : number('minutes', values.minutes ?? '3', 0.05, 1440) * 60;
  const match = /^(\d{4})(?:-(\d{4}))?$/.exec(values.seasons);
  const from = Number(match?.[1]);
  const to = match?.[2] === undefined ? from : Number(match[2]);
  if (!match || to < from || from < 1990 || to > 2100) throw new Error(`Expected --seasons to be a year or a range such as 2021-2024, got ${JSON.stringify(values.seasons)}`);
  return {
    seconds,
    readers: integer('readers', values.readers, 0, 32),
    readerPauseMs: integer('reader-pause-ms', values['reader-pause-ms'], 0, 60_000),
    legacyWriters: integer('legacy-writers', values['legacy-writers'], 0, 8),
    leagues: integer('leagues', values.leagues, 1, 1000),
    seasons: Array.from({ length: to - from + 1 }, (_, i) => from + i),
    latency: integer('latency', values.latency, 0, 60_000),
    maxRows: integer('max-rows', values['max-rows'], 1, 1e9),
    interval: number('interval', values.interval, 0.5, 3600),
    checkpointMb: integer('checkpoint-mb', values['checkpoint-mb'], 1, 4096),
    walMarginMb: number('wal-margin-mb', values['wal-margin-mb'], 0, 4096),
    rssGrowthMb: number('rss-growth-mb', values['rss-growth-mb'], 0, 65_536),
    dir: values.dir,
    keep: values.keep,
    json: values.json,
  };
}

interface Sample {
  seconds: number;
  rssMb: number;
  heapMb: number;
  walMb: number;
  databaseMb: number;
}

export interface SoakReport {
  ok: boolean;
  problems: string[];
  seconds: number;
  rounds: number;
  jobs: { total: number; completed: number; failed: number; cancelled: number; skipped: number };
  rows: { inserted: number; ignored: number; inTable: number; rejected: number };
  locks: { count: number; retries: number; maxRetryCount: number; totalRetrySeconds: number; maxLockHoldMs: number };
  memory: { firstThirdRssMb: number; lastThirdRssMb: number; growthMb: number; boundMb: number; maxRssMb: number };
  wal: { maxMb: number; boundMb: number; checkpoints: number };
  /** The engine's alerts, by level and message (numbers replaced by N), with their counts. */
  alerts: Record<string, number>;
  readers: Array<{ queries: number; errors: number; messages: string[] }>;
  legacyWriters: Array<{ commits: number; errors: number; rowsInTable: number; messages: string[] }>;
  samples: Sample[];
  database: string;
}

function fileMb(path: string): number {
  try {
    return statSync(path).size / MB;
  } catch {
    return 0;
  }
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

const round1 = (value: number): number => Math.round(value * 10) / 10;

export async function soak(options: Options, print: (line: string) => void = () => undefined): Promise<SoakReport> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'league-backfill-soak-'));
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'soak.db');
  for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
  const problems: string[] = [];
  const started = performance.now();
  const deadline = Date.now() + options.seconds * 1000;

  const engine = await createEngine({
    database: path,
    flags: PROFILES.recommended,
    source: demoSource({ seed: 1, latencyMs: options.latency }),
    checkpointThresholdBytes: options.checkpointMb * MB,
  });
  let checkpoints = 0;
  engine.on('checkpoint', () => { checkpoints++; });
  const alerts: Record<string, number> = {};
  engine.on('alert', (alert) => {
    const kind = `${alert.level}: ${alert.message.replace(/\d+/g, 'N')}`;
    alerts[kind] = (alerts[kind] ?? 0) + 1;
  });
  const contenders = [
    ...Array.from({ length: options.readers }, () => startContender('reader', path, deadline, options.readerPauseMs)),
    ...Array.from({ length: options.legacyWriters }, () => startContender('legacy-writer', path, deadline, 0)),
  ];

  const samples: Sample[] = [];
  const sample = (): Sample => {
    const memory = process.memoryUsage();
    const taken = {
      seconds: round1((performance.now() - started) / 1000),
      rssMb: round1(memory.rss / MB),
      heapMb: round1(memory.heapUsed / MB),
      walMb: round1(fileMb(`${path}-wal`)),
      databaseMb: round1(fileMb(path)),
    };
    samples.push(taken);
    return taken;
  };
  const describeContenders = (): string => {
    const readers = contenders.filter((c) => c.role === 'reader').map((c) => c.latest);
    const writers = contenders.filter((c) => c.role === 'legacy-writer').map((c) => c.latest);
    const sum = (reports: Array<ContenderReport | undefined>, key: 'ok' | 'errors'): number => reports.reduce((total, report) => total + (report?.[key] ?? 0), 0);
    return `readers ${sum(readers, 'ok')} queries / ${sum(readers, 'errors')} errors, legacy writer ${sum(writers, 'ok')} commits / ${sum(writers, 'errors')} errors`;
  };
  let lastPrint = 0;
  const sampler = setInterval(() => {
    const taken = sample();
    if (taken.seconds - lastPrint >= options.interval) {
      lastPrint = taken.seconds;
      const t = engine.totals;
      print(`[${taken.seconds.toFixed(0).padStart(4)} s] RSS ${taken.rssMb} MB (heap ${taken.heapMb} MB), WAL ${taken.walMb} MB, database ${taken.databaseMb} MB; ` +
        `${t.completed} jobs, ${t.rowsInserted} rows inserted; locks ${t.lockCount}, retries ${t.retries}, max retry count ${t.maxRetryCount}; ${describeContenders()}`);
    }
  }, 1000);
  sampler.unref();

  // Rounds: fresh leagues (new rows), then the same leagues again with force (every row ignored).
  let rounds = 0;
  let previous: string[] = [];
  try {
    while (Date.now() < deadline) {
      const fresh = (rounds % 2 === 0 && engine.totals.rowsInserted < options.maxRows) || previous.length === 0;
      const leagues = fresh ? demoLeagueKeys(options.leagues, 1000 + rounds) : previous;
      const jobs: JobRequest[] = leagues.flatMap((leagueKey) => options.seasons.map((season) => ({ leagueKey, season, force: !fresh })));
      const results = await Promise.allSettled(jobs.map((job) => engine.enqueue(job).done));
      for (const result of results) {
        if (result.status === 'rejected') problems.push(`round ${rounds + 1}: a job failed: ${(result.reason as Error).message}`);
      }
      previous = leagues;
      rounds++;
    }
  } finally {
    clearInterval(sampler);
    sample();
    await engine.close();
  }
  await Promise.all(contenders.map((contender) => contender.exited));
  const seconds = (performance.now() - started) / 1000;

  // Nothing lost: count it in the database.
  const db = new Database(path, { readonly: true });
  const inTable = db.prepare('SELECT count(*) FROM transactions').pluck().get() as number;
  const statuses = Object.fromEntries((db.prepare('SELECT status, count(*) AS n FROM job_log GROUP BY status').all() as Array<{ status: string; n: number }>).map((row) => [row.status, row.n]));
  const integrity = String(db.pragma('integrity_check', { simple: true }));
  const hasLegacy = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'legacy_notes'").get() !== undefined;
  const legacyRows = (pid: number): number => (hasLegacy ? db.prepare('SELECT count(*) FROM legacy_notes WHERE writer = ?').pluck().get(pid) as number : 0);
  const totals = engine.totals;
  if (inTable !== totals.rowsInserted) problems.push(`${inTable} rows in the table, the engine reported ${totals.rowsInserted} inserted`);
  if (totals.failed > 0 || totals.cancelled > 0) problems.push(`${totals.failed} jobs failed and ${totals.cancelled} were cancelled`);
  if (Object.keys(statuses).some((status) => status !== 'completed')) problems.push(`job_log statuses ${JSON.stringify(statuses)}: not every job completed`);
  if (integrity !== 'ok') problems.push(`integrity_check: ${integrity}`);
  const readers = contenders.filter((c) => c.role === 'reader').map((c) => ({ queries: c.latest?.ok ?? 0, errors: c.latest?.errors ?? 0, messages: c.latest?.messages ?? [] }));
  const legacyWriters = contenders.filter((c) => c.role === 'legacy-writer').map((c) => {
    const commits = c.latest?.ok ?? 0;
    const rowsInTable = c.child.pid === undefined ? 0 : legacyRows(c.child.pid);
    // Five rows per committed transaction: a commit it counted must be in the table, whole.
    if (rowsInTable !== commits * 5) problems.push(`legacy writer ${c.child.pid}: ${rowsInTable} rows in its table for ${commits} commits of 5 rows`);
    return { commits, errors: c.latest?.errors ?? 0, rowsInTable, messages: c.latest?.messages ?? [] };
  });
  db.close();
  for (const contender of contenders) {
    if (contender.latest?.done !== true) problems.push(`${contender.role} ${contender.child.pid} did not finish cleanly: ${contender.stderr.trim().split('\n').at(-1) ?? ''}`);
  }

  // Memory flat: the last third of the run against the first third.
  const third = Math.max(1, Math.floor(samples.length / 3));
  const firstThird = median(samples.slice(0, third).map((s) => s.rssMb));
  const lastThird = median(samples.slice(-third).map((s) => s.rssMb));
  const growth = lastThird - firstThird;
  if (growth > options.rssGrowthMb) problems.push(`RSS grew by ${round1(growth)} MB from the first third of the run to the last (bound ${options.rssGrowthMb} MB)`);
  // The WAL flat: under the checkpoint threshold plus a margin at every sample.
  const maxWal = Math.max(0, ...samples.map((s) => s.walMb));
  const walBound = options.checkpointMb + options.walMarginMb;
  if (maxWal > walBound) problems.push(`the WAL reached ${maxWal} MB (bound: ${options.checkpointMb} MB threshold + ${options.walMarginMb} MB margin)`);
  if (rounds === 0) problems.push('no round of backfills completed');

  const report: SoakReport = {
    ok: problems.length === 0,
    problems,
    seconds: round1(seconds),
    rounds,
    jobs: { total: totals.jobs, completed: totals.completed, failed: totals.failed, cancelled: totals.cancelled, skipped: totals.skipped },
    rows: { inserted: totals.rowsInserted, ignored: totals.rowsIgnored, inTable, rejected: totals.rowsRejected },
    locks: {
      count: totals.lockCount, retries: totals.retries, maxRetryCount: totals.maxRetryCount,
      totalRetrySeconds: Math.round(totals.totalRetryTime * 1000) / 1000, maxLockHoldMs: round1(totals.maxLockHoldMs),
    },
    memory: { firstThirdRssMb: round1(firstThird), lastThirdRssMb: round1(lastThird), growthMb: round1(growth), boundMb: options.rssGrowthMb, maxRssMb: Math.max(...samples.map((s) => s.rssMb)) },
    wal: { maxMb: maxWal, boundMb: walBound, checkpoints },
    alerts,
    readers,
    legacyWriters,
    samples,
    database: path,
  };
  if (!options.keep && options.dir === undefined) rmSync(dir, { recursive: true, force: true });
  return report;
}

function format(report: SoakReport): string {
  const lines = [
    `soak: ${report.seconds} s, ${report.rounds} rounds, ${report.jobs.total} jobs (${report.jobs.completed} completed, ${report.jobs.failed} failed, ${report.jobs.cancelled} cancelled)`,
    `  rows: ${report.rows.inserted} inserted (${report.rows.inTable} in the table), ${report.rows.ignored} ignored on forced re-runs, ${report.rows.rejected} rejected`,
    `  locks: ${report.locks.count}, retries ${report.locks.retries}, max retry count ${report.locks.maxRetryCount}, total retry time ${report.locks.totalRetrySeconds} s, longest lock hold ${report.locks.maxLockHoldMs} ms`,
    `  memory: RSS median ${report.memory.firstThirdRssMb} MB in the first third, ${report.memory.lastThirdRssMb} MB in the last (growth ${report.memory.growthMb} MB, bound ${report.memory.boundMb} MB), max ${report.memory.maxRssMb} MB`,
    `  WAL: max ${report.wal.maxMb} MB (bound ${report.wal.boundMb} MB), ${report.wal.checkpoints} checkpoints by the writer`,
    ...Object.entries(report.alerts).map(([kind, count]) => `  alert x${count}: ${kind}`),
    ...report.readers.map((reader, index) => `  reader ${index + 1}: ${reader.queries} queries, ${reader.errors} errors${reader.messages.length > 0 ? ` (${reader.messages.join('; ')})` : ''}`),
    ...report.legacyWriters.map((writer, index) => `  legacy writer ${index + 1}: ${writer.commits} commits (${writer.rowsInTable} rows in its table), ${writer.errors} errors${writer.messages.length > 0 ? ` (${writer.messages.join('; ')})` : ''}`),
    report.ok ? '  OK: memory and WAL flat, nothing lost, every job completed' : `  FAILED:\n${report.problems.map((problem) => `    - ${problem}`).join('\n')}`,
  ];
  return `${lines.join('\n')}\n`;
}

async function cli(argv: string[]): Promise<number> {
  if (argv[0] === '--role') {
    const { values } = parseArgs({ args: argv, options: { role: { type: 'string' }, db: { type: 'string' }, until: { type: 'string' }, pause: { type: 'string', default: '0' } } });
    const until = Number(values.until);
    if (values.db === undefined || !existsSync(values.db) || !Number.isFinite(until)) throw new Error(`bad contender arguments: ${argv.join(' ')}`);
    if (values.role === 'reader') await runReader(values.db, until, Number(values.pause));
    else if (values.role === 'legacy-writer') await runLegacyWriter(values.db, until);
    else throw new Error(`unknown role ${String(values.role)}`);
    return 0;
  }
  let options: Options;
  try {
    options = parseOptions(argv);
  } catch (error) {
    process.stderr.write(`soak: ${(error as Error).message}\n`);
    return 2;
  }
  const print = (line: string): void => void process.stderr.write(`${line}\n`);
  print(`soak: ${options.seconds} s of backfills (${options.leagues} leagues x ${options.seasons.length} seasons a round) with ${options.readers} readers ` +
    `(pausing ${options.readerPauseMs} ms between rounds of queries) and ${options.legacyWriters} legacy writers`);
  const report = await soak(options, print);
  process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : format(report));
  return report.ok ? 0 : 1;
}

if (process.argv[1] !== undefined && SELF === process.argv[1]) {
  process.exitCode = await cli(process.argv.slice(2));
}
