/**
 * The neighbours benchmark (issue 10, DESIGN sections 2 and 10): is the engine a good
 * neighbour to the other processes on its SQLite file? In one run, on copies of one seeded
 * demo database: (a) the engine alone, (b) each neighbour alone for as long, (c) the engine
 * beside all of them at once. Neighbours (bench/neighbours/spawners.ts): a legacy writer on
 * better-sqlite3 with SQLite's own busy handler (timeout 5 s, deferred BEGIN, no retry, 20 rows
 * every 10 ms into its own table), the same as a real Python `sqlite3` script where python3
 * exists, an analytics reader (a GROUP BY in a loop), and a notebook that holds a read
 * transaction open for several seconds, twice.
 *
 * It prints, side by side: each neighbour's commits/s, errors by message and commit latency
 * alone and beside; the reader's p99; the engine's rows/s beside against alone; the largest
 * WAL; the engine's longest lock hold; and the done-when targets as PASS/FAIL lines.
 *
 * node dist/bench/neighbours.js [--quick] [--runs N] [--leagues N] [--json] [--engine-option key=value ...]
 * (also `npm run bench -- --only neighbours`).
 */
import { copyFileSync, existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { createEngine, type Engine, type EngineOptions } from '../src/engine/index.js';
import { InvalidOptionError } from '../src/errors.js';
import { PROFILES } from '../src/flags/index.js';
import { silentLogger } from '../src/logger.js';
import { median } from '../src/loadtest/stats.js';
import { demoLeagueKeys, demoSource, generateDemoSeason } from '../src/source/demo/index.js';
import { scratchDir } from './lib.js';
import {
  findPython, startLegacyWriter, startNotebook, startPythonWriter, startReader,
  type Figures, type Neighbour, type NotebookFigures, type ReaderFigures, type WriterFigures,
} from './neighbours/spawners.js';

export interface NeighboursOptions {
  /** A small workload (about 3 s of engine alone) and 2 s notebook holds. @default false */
  quick?: boolean;
  /** Runs; figures are medians over them (errors are totals). @default 1 */
  runs?: number;
  /** Extra engine options, e.g. `{ neighbourPolicy: '...' }`, to compare policies. @default none */
  engineOptions?: Partial<EngineOptions>;
  log(line: string): void;
  /** Demo leagues backfilled (10 seasons each). @default 48, 12 with quick */
  leagues?: number;
  /** Seasons per league. @default 10 */
  seasons?: number;
  /** Leagues already in the database before each phase (4 x 10 seasons: about 48,000 rows), what the reader aggregates. @default 4, 2 with quick */
  seedLeagues?: number;
  /** Each read transaction of the notebook (ms). @default 6000, 2000 with quick */
  notebookHoldMs?: number;
  /** Run the Python writer when python3 exists. @default true */
  python?: boolean;
}

/** The done-when targets of issue 10. */
export const TARGETS = Object.freeze({ neighbourErrors: 0, legacyP99Ms: 250, legacyMaxMs: 1000, besideRatio: 0.7, longestHoldMs: 110, budgetMs: 100 });

const LEGACY = Object.freeze({ intervalMs: 10, rowsPerCommit: 20, timeoutMs: 5000 });
const READER_INTERVAL_MS = 10;
const SEED = 1;

interface EngineFigures {
  rows: number;
  seconds: number;
  rowsPerSecond: number;
  transactions: number;
  maxLockHoldMs: number;
  maxWalBytes: number;
  /** The -wal file when the last job ended, before close (which cuts it): what neighbours live with after a pin. */
  endWalBytes: number;
  locks: number;
  retries: number;
  failedJobs: number;
  alerts: Record<string, number>;
  alertMessages: string[];
}

interface RunFigures {
  engineAlone: EngineFigures;
  engineBeside: EngineFigures;
  alone: Partial<Record<NeighbourName, Figures>>;
  beside: Partial<Record<NeighbourName, Figures>>;
  neighbourSeconds: number;
}

type NeighbourName = 'legacyWriter' | 'pythonWriter' | 'reader' | 'notebook';

const LABELS: Record<NeighbourName, string> = {
  legacyWriter: 'legacy writer (Node)',
  pythonWriter: 'legacy writer (Python)',
  reader: 'analytics reader',
  notebook: 'notebook',
};

interface Workload {
  jobs: Array<{ leagueKey: string; season: number }>;
  rows: number;
}

function workloadOf(leagueKeys: readonly string[], seasons: readonly number[]): Workload {
  const jobs = leagueKeys.flatMap((leagueKey) => seasons.map((season) => ({ leagueKey, season })));
  const rows = jobs.reduce((sum, job) => sum + generateDemoSeason(job.leagueKey, job.season, { seed: SEED }).rows.length, 0);
  return { jobs, rows };
}

/** Largest size of `<db>-wal` seen, polled every 20 ms. */
function pollWal(database: string): { stop(): number } {
  let max = 0;
  const sample = (): void => {
    try {
      max = Math.max(max, statSync(`${database}-wal`).size);
    } catch {
      // no WAL file at this instant
    }
  };
  const timer = setInterval(sample, 20);
  return {
    stop() {
      sample();
      clearInterval(timer);
      return max;
    },
  };
}

async function openEngine(database: string, engineOptions: Partial<EngineOptions>): Promise<Engine> {
  return createEngine({ database, source: demoSource({ seed: SEED }), flags: PROFILES.recommended, logger: silentLogger(), ...engineOptions });
}

/** Backfills `workload` with an engine already open; closes it; its figures. */
async function backfill(engine: Engine, database: string, workload: Workload): Promise<EngineFigures> {
  const wal = pollWal(database);
  const alerts: Record<string, number> = {};
  const alertMessages: string[] = [];
  engine.on('alert', (alert) => {
    alerts[alert.level] = (alerts[alert.level] ?? 0) + 1;
    if (alertMessages.length < 5 && !alertMessages.includes(alert.message)) alertMessages.push(alert.message);
  });
  const started = performance.now();
  const handles = workload.jobs.map((job) => engine.enqueue(job));
  const settled = await Promise.allSettled(handles.map((handle) => handle.done));
  const seconds = (performance.now() - started) / 1000;
  const endWalBytes = statSync(`${database}-wal`, { throwIfNoEntry: false })?.size ?? 0;
  await engine.close();
  const maxWalBytes = wal.stop();
  return {
    rows: engine.totals.rowsInserted,
    seconds: Number(seconds.toFixed(2)),
    rowsPerSecond: Math.round(engine.totals.rowsInserted / seconds),
    transactions: engine.totals.transactions,
    maxLockHoldMs: Number(engine.totals.maxLockHoldMs.toFixed(1)),
    maxWalBytes,
    endWalBytes,
    locks: engine.totals.lockCount,
    retries: engine.totals.retries,
    failedJobs: settled.filter((outcome) => outcome.status === 'rejected').length,
    alerts,
    alertMessages,
  };
}

/** The seeded database every phase starts from: the seed leagues backfilled, the WAL folded in. */
async function makeBase(path: string, seed: Workload, engineOptions: Partial<EngineOptions>): Promise<void> {
  const engine = await openEngine(path, engineOptions);
  const figures = await backfill(engine, path, seed);
  if (figures.rows !== seed.rows) throw new Error(`the seed backfill stored ${figures.rows} rows, expected ${seed.rows}`);
  const db = new Database(path);
  try {
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
}

function copyBase(base: string, to: string): string {
  copyFileSync(base, to);
  if (existsSync(`${base}-wal`)) copyFileSync(`${base}-wal`, `${to}-wal`);
  return to;
}

interface Plan {
  python: boolean;
  notebook: { holdMs: number; holds: number; pauseMs: number; startDelayMs: number };
}

/** Starts the neighbours named in `names` on `database`; `durationMs` bounds each. */
function startNeighbours(database: string, names: readonly NeighbourName[], durationMs: number, plan: Plan): Partial<Record<NeighbourName, Neighbour<Figures>>> {
  const started: Partial<Record<NeighbourName, Neighbour<Figures>>> = {};
  for (const name of names) {
    if (name === 'legacyWriter') started[name] = startLegacyWriter({ database, table: 'neighbour_legacy_node', durationMs, ...LEGACY });
    if (name === 'pythonWriter') {
      const writer = startPythonWriter({ database, table: 'neighbour_legacy_python', durationMs, ...LEGACY });
      if (writer) started[name] = writer;
    }
    if (name === 'reader') started[name] = startReader({ database, durationMs, intervalMs: READER_INTERVAL_MS });
    if (name === 'notebook') started[name] = startNotebook({ database, durationMs, ...plan.notebook });
  }
  return started;
}

async function stopAll(running: Partial<Record<NeighbourName, Neighbour<Figures>>>): Promise<Partial<Record<NeighbourName, Figures>>> {
  const entries = Object.entries(running) as Array<[NeighbourName, Neighbour<Figures>]>;
  const figures = await Promise.all(entries.map(([, neighbour]) => neighbour.stop()));
  return Object.fromEntries(entries.map(([name], index) => [name, figures[index]!]));
}

async function oneRun(base: string, dir: string, run: number, workload: Workload, plan: Plan, engineOptions: Partial<EngineOptions>, names: readonly NeighbourName[]): Promise<RunFigures> {
  // (a) The engine alone.
  const alonePath = copyBase(base, join(dir, `alone-${run}.db`));
  const engineAlone = await backfill(await openEngine(alonePath, engineOptions), alonePath, workload);

  // (b) Each neighbour alone, as long as the engine ran alone.
  const besidePath = copyBase(base, join(dir, `beside-${run}.db`));
  const neighbourMs = Math.round(Math.min(60_000, Math.max(1000, engineAlone.seconds * 1000)));
  const alone: Partial<Record<NeighbourName, Figures>> = {};
  for (const name of names) {
    const running = startNeighbours(besidePath, [name], name === 'notebook' ? neighbourMs + 60_000 : neighbourMs, plan);
    const neighbour = running[name];
    if (!neighbour) continue;
    try {
      alone[name] = await neighbour.result;
    } catch (error) {
      await neighbour.stop().catch(() => {});
      throw error;
    }
  }

  // (c) The engine beside all of them at once.
  const engine = await openEngine(besidePath, engineOptions);
  // They stop when the engine has closed; the bound only matters if something hangs.
  const running = startNeighbours(besidePath, names, 15 * 60_000, plan);
  let engineBeside: EngineFigures;
  try {
    // The notebook is ready when its read transaction opens, after its delay: do not wait for it.
    await Promise.all(Object.entries(running).filter(([name]) => name !== 'notebook').map(([, neighbour]) => neighbour.ready));
    engineBeside = await backfill(engine, besidePath, workload);
  } catch (error) {
    await engine.close().catch(() => {});
    await stopAll(running).catch(() => {});
    throw error;
  }
  const beside = await stopAll(running);
  return { engineAlone, engineBeside, alone, beside, neighbourSeconds: neighbourMs / 1000 };
}

// ---------------------------------------------------------------------------------------------
// Figures over runs, and the table.

const sum = (values: readonly number[]): number => values.reduce((total, value) => total + value, 0);
const round1 = (value: number): number => Number(value.toFixed(1));

interface NeighbourSummary {
  runs: number;
  commitsPerSecond: number;
  commits: number;
  /** Total over the runs. */
  errors: number;
  errorsByMessage: Record<string, number>;
  latencyMs: { p50: number; p99: number; max: number };
  /** Notebook: the largest `-wal` size when a read transaction let go (bytes). */
  walBytesAtRelease?: number;
}

function summarizeNeighbour(figures: readonly Figures[]): NeighbourSummary | null {
  if (figures.length === 0) return null;
  const errorsByMessage: Record<string, number> = {};
  for (const f of figures) for (const [message, count] of Object.entries(f.errorsByMessage)) errorsByMessage[message] = (errorsByMessage[message] ?? 0) + count;
  const notebooks = figures.filter((f): f is NotebookFigures => f.kind === 'notebook');
  return {
    runs: figures.length,
    commitsPerSecond: round1(median(figures.map((f) => f.commitsPerSecond))),
    commits: Math.round(median(figures.map((f) => f.commits))),
    errors: sum(figures.map((f) => f.errorCount)),
    errorsByMessage,
    latencyMs: {
      p50: round1(median(figures.map((f) => f.latenciesMs.p50))),
      p99: round1(median(figures.map((f) => f.latenciesMs.p99))),
      // The worst of the runs: a bound is what the target asks for.
      max: round1(Math.max(...figures.map((f) => f.latenciesMs.max))),
    },
    ...(notebooks.length > 0 ? { walBytesAtRelease: Math.max(0, ...notebooks.flatMap((f) => f.holds.map((hold) => hold.walBytesAtRelease))) } : {}),
  };
}

function summarizeEngine(figures: readonly EngineFigures[]): Record<string, unknown> & { rowsPerSecond: number; maxLockHoldMs: number; maxWalBytes: number; endWalBytes: number } {
  const alerts: Record<string, number> = {};
  for (const f of figures) for (const [level, count] of Object.entries(f.alerts)) alerts[level] = (alerts[level] ?? 0) + count;
  return {
    rows: figures[0]?.rows ?? 0,
    seconds: round1(median(figures.map((f) => f.seconds))),
    rowsPerSecond: Math.round(median(figures.map((f) => f.rowsPerSecond))),
    transactions: Math.round(median(figures.map((f) => f.transactions))),
    maxLockHoldMs: Math.max(...figures.map((f) => f.maxLockHoldMs)),
    medianMaxLockHoldMs: round1(median(figures.map((f) => f.maxLockHoldMs))),
    maxWalBytes: Math.max(...figures.map((f) => f.maxWalBytes)),
    endWalBytes: Math.max(...figures.map((f) => f.endWalBytes)),
    locks: sum(figures.map((f) => f.locks)),
    retries: sum(figures.map((f) => f.retries)),
    failedJobs: sum(figures.map((f) => f.failedJobs)),
    alerts,
    alertMessages: [...new Set(figures.flatMap((f) => f.alertMessages))].slice(0, 5),
  };
}

export interface TargetLine {
  name: string;
  target: string;
  value: string;
  pass: boolean;
}

const n = (value: number): string => Math.round(value).toLocaleString('en-US');
const ms = (value: number): string => (value >= 100 ? n(value) : String(round1(value)));
const mb = (bytes: number): string => `${(bytes / (1024 * 1024)).toFixed(1)} MB`;

function errorText(summary: NeighbourSummary): string {
  if (summary.errors === 0) return '0';
  return `${n(summary.errors)} (${Object.entries(summary.errorsByMessage).map(([message, count]) => `"${message}" x${count}`).join(', ')})`;
}

function latencyText(summary: NeighbourSummary): string {
  return `${ms(summary.latencyMs.p50)} / ${ms(summary.latencyMs.p99)} / ${ms(summary.latencyMs.max)} ms`;
}

function targetsOf(alone: ReturnType<typeof summarizeEngine>, beside: ReturnType<typeof summarizeEngine>, ratio: number, neighbours: Record<string, { alone: NeighbourSummary | null; beside: NeighbourSummary | null }>): TargetLine[] {
  const lines: TargetLine[] = [];
  const besideErrors = Object.entries(neighbours).map(([name, s]) => [name, s.beside?.errors ?? 0] as const);
  const totalErrors = sum(besideErrors.map(([, count]) => count));
  lines.push({
    name: 'neighbours get no error beside the engine',
    target: `${TARGETS.neighbourErrors} errors`,
    value: totalErrors === 0 ? '0 errors' : `${n(totalErrors)} errors (${besideErrors.filter(([, c]) => c > 0).map(([name, c]) => `${LABELS[name as NeighbourName]} ${c}`).join(', ')})`,
    pass: totalErrors <= TARGETS.neighbourErrors,
  });
  for (const name of ['legacyWriter', 'pythonWriter'] as const) {
    const s = neighbours[name]?.beside;
    if (!s) continue;
    lines.push({ name: `${LABELS[name]} commit p99`, target: `<= ${TARGETS.legacyP99Ms} ms`, value: `${ms(s.latencyMs.p99)} ms`, pass: s.latencyMs.p99 <= TARGETS.legacyP99Ms });
    lines.push({ name: `${LABELS[name]} commit max`, target: `<= ${n(TARGETS.legacyMaxMs)} ms`, value: `${ms(s.latencyMs.max)} ms`, pass: s.latencyMs.max <= TARGETS.legacyMaxMs });
  }
  lines.push({ name: 'engine beside its neighbours / alone (rows/s)', target: `>= ${TARGETS.besideRatio}`, value: String(ratio), pass: ratio >= TARGETS.besideRatio });
  const hold = Math.max(alone.maxLockHoldMs, beside.maxLockHoldMs);
  lines.push({ name: `engine's longest lock hold (budget ${TARGETS.budgetMs} ms)`, target: `<= ${TARGETS.longestHoldMs} ms`, value: `${hold} ms (alone ${alone.maxLockHoldMs}, beside ${beside.maxLockHoldMs})`, pass: hold <= TARGETS.longestHoldMs });
  return lines;
}

function table(rows: ReadonlyArray<readonly [string, string, string]>): string[] {
  const widths = [0, 1, 2].map((column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => `  ${row[0].padEnd(widths[0]!)}  ${row[1].padEnd(widths[1]!)}  ${row[2]}`.trimEnd());
}

/**
 * Runs the section and returns its figures as a JSON-able object; `log` receives the table.
 * Errors are totals over the runs, latency maxima and the longest hold the worst run, the rest
 * medians.
 */
export async function neighboursSection(options: NeighboursOptions): Promise<Record<string, unknown>> {
  const quick = options.quick ?? false;
  const runs = options.runs ?? 1;
  for (const [name, value, min] of [['runs', runs, 1], ['leagues', options.leagues, 1], ['seasons', options.seasons, 1], ['seedLeagues', options.seedLeagues, 1]] as const) {
    if (value !== undefined && (!Number.isInteger(value) || value < min)) throw new InvalidOptionError(name, `an integer >= ${min}`, value);
  }
  if (options.seasons !== undefined && options.seasons > 30) throw new InvalidOptionError('seasons', 'an integer from 1 to 30', options.seasons);
  const engineOptions = options.engineOptions ?? {};
  const leagues = options.leagues ?? (quick ? 12 : 48);
  const seasonCount = options.seasons ?? 10;
  const seedLeagues = options.seedLeagues ?? (quick ? 2 : 4);
  const seasons = Array.from({ length: seasonCount }, (_, index) => 2025 - index);
  // One list of league keys, split: the seed's leagues are never the workload's, so the engine
  // finds none of its jobs done.
  const keys = demoLeagueKeys(leagues + seedLeagues, SEED);
  const workload = workloadOf(keys.slice(0, leagues), seasons);
  const seed = workloadOf(keys.slice(leagues), seasons);
  const holdMs = options.notebookHoldMs ?? (quick ? 2000 : 6000);
  const plan: Plan = {
    python: (options.python ?? true) && findPython() !== null,
    notebook: { holdMs, holds: 2, pauseMs: quick ? 500 : 2000, startDelayMs: quick ? 300 : 1000 },
  };
  const names: NeighbourName[] = ['legacyWriter', ...(plan.python ? ['pythonWriter' as const] : []), 'reader', 'notebook'];
  const { log } = options;
  const optionText = Object.keys(engineOptions).length > 0 ? JSON.stringify(engineOptions) : 'none';
  log(`Neighbours: the engine alone, each neighbour alone, then the engine beside all of them (${runs} run${runs === 1 ? '' : 's'}, recommended profile, extra engine options: ${optionText})`);
  log(`  engine: ${n(workload.rows)} rows (${leagues} demo leagues x ${seasonCount} seasons) into a database already holding ${n(seed.rows)} rows (${seedLeagues} other leagues)`);
  log(`  legacy writer: deferred BEGIN, ${LEGACY.rowsPerCommit} rows a commit, ${LEGACY.intervalMs} ms apart, SQLite's busy handler (timeout ${LEGACY.timeoutMs} ms), no retry: Node better-sqlite3` +
    (plan.python ? ' and Python sqlite3 with its defaults' : ' (python3 not found: no Python writer)'));
  log(`  reader: a GROUP BY over the seeded rows, ${READER_INTERVAL_MS} ms apart; notebook: BEGIN; SELECT, held ${holdMs / 1000} s, twice, ${plan.notebook.pauseMs / 1000} s apart`);

  const scratch = scratchDir();
  const perRun: RunFigures[] = [];
  try {
    const base = join(scratch.dir, 'base.db');
    await makeBase(base, seed, engineOptions);
    for (let run = 1; run <= runs; run++) {
      const figures = await oneRun(base, scratch.dir, run, workload, plan, engineOptions, names);
      perRun.push(figures);
      const legacy = figures.beside.legacyWriter;
      const pids = (Object.entries(figures.beside) as Array<[NeighbourName, Figures]>).map(([name, f]) => `${LABELS[name]} ${f.pid}`).join(', ');
      log(`  run ${run}: engine alone ${n(figures.engineAlone.rowsPerSecond)} rows/s (${figures.engineAlone.seconds} s), beside ${n(figures.engineBeside.rowsPerSecond)} rows/s (${figures.engineBeside.seconds} s); ` +
        `legacy writer beside ${legacy?.commitsPerSecond ?? 0} commits/s, ${legacy?.errorCount ?? 0} errors, p99 ${ms(legacy?.latenciesMs.p99 ?? 0)} ms; pids beside: ${pids}`);
    }
  } finally {
    scratch.cleanup();
  }

  const engineAlone = summarizeEngine(perRun.map((r) => r.engineAlone));
  const engineBeside = summarizeEngine(perRun.map((r) => r.engineBeside));
  const ratio = Number(median(perRun.map((r) => r.engineBeside.rowsPerSecond / r.engineAlone.rowsPerSecond)).toFixed(2));
  const neighbours = Object.fromEntries(names.map((name) => [name, {
    alone: summarizeNeighbour(perRun.flatMap((r) => (r.alone[name] ? [r.alone[name]!] : []))),
    beside: summarizeNeighbour(perRun.flatMap((r) => (r.beside[name] ? [r.beside[name]!] : []))),
  }])) as Record<NeighbourName, { alone: NeighbourSummary | null; beside: NeighbourSummary | null }>;
  const targets = targetsOf(engineAlone, engineBeside, ratio, neighbours);

  const rows: Array<readonly [string, string, string]> = [['', 'alone', 'beside the engine']];
  for (const name of names) {
    const { alone, beside } = neighbours[name];
    if (!alone || !beside) continue;
    if (name === 'reader') {
      rows.push([LABELS[name], `${n(alone.commitsPerSecond)} queries/s, p99 ${ms(alone.latencyMs.p99)} ms`, `${n(beside.commitsPerSecond)} queries/s, p99 ${ms(beside.latencyMs.p99)} ms`]);
      rows.push(['  errors', errorText(alone), errorText(beside)]);
      continue;
    }
    if (name === 'notebook') {
      rows.push([LABELS[name], `${alone.commits} read transactions, opening up to ${ms(alone.latencyMs.max)} ms`, `${beside.commits} read transactions, opening up to ${ms(beside.latencyMs.max)} ms`]);
      rows.push(['  WAL when it let go', mb(alone.walBytesAtRelease ?? 0), mb(beside.walBytesAtRelease ?? 0)]);
      rows.push(['  errors', errorText(alone), errorText(beside)]);
      continue;
    }
    rows.push([LABELS[name], `${alone.commitsPerSecond} commits/s (${n(alone.commits)} commits)`, `${beside.commitsPerSecond} commits/s (${n(beside.commits)} commits)`]);
    rows.push(['  errors', errorText(alone), errorText(beside)]);
    rows.push(['  commit p50 / p99 / max', latencyText(alone), latencyText(beside)]);
  }
  rows.push(['engine', `${n(engineAlone.rowsPerSecond)} rows/s`, `${n(engineBeside.rowsPerSecond)} rows/s (${ratio} of alone)`]);
  rows.push(['  longest lock hold', `${engineAlone.maxLockHoldMs} ms`, `${engineBeside.maxLockHoldMs} ms`]);
  rows.push(['  largest WAL', mb(engineAlone.maxWalBytes), mb(engineBeside.maxWalBytes)]);
  rows.push(['  WAL file when the last job ended', mb(engineAlone.endWalBytes), mb(engineBeside.endWalBytes)]);
  rows.push(['  locks / retries / failed jobs', `${engineAlone.locks} / ${engineAlone.retries} / ${engineAlone.failedJobs}`, `${engineBeside.locks} / ${engineBeside.retries} / ${engineBeside.failedJobs}`]);
  const alertText = (alerts: Record<string, number>): string => (Object.keys(alerts).length === 0 ? 'none' : Object.entries(alerts).map(([level, count]) => `${count} ${level}`).join(', '));
  rows.push(['  alerts', alertText(engineAlone.alerts as Record<string, number>), alertText(engineBeside.alerts as Record<string, number>)]);
  const messages = engineBeside.alertMessages as string[];
  if (messages.length > 0) rows.push(['  alert messages beside', '', messages.map((m) => (m.length > 110 ? `${m.slice(0, 107)}...` : m)).join(' | ')]);
  log(`  figures (${runs > 1 ? `medians of ${runs} runs; errors are totals, maxima and the longest hold the worst run` : 'one run'}):`);
  for (const line of table(rows)) log(`  ${line}`);
  log('  targets (issue 10):');
  for (const target of targets) log(`    ${target.pass ? 'PASS' : 'FAIL'}  ${target.name}: ${target.value} (target ${target.target})`);

  return {
    runs,
    quick,
    engineOptions,
    settings: {
      rows: workload.rows,
      leagues,
      seasons: seasonCount,
      seedRows: seed.rows,
      neighbourSeconds: median(perRun.map((r) => r.neighbourSeconds)),
      legacyWriter: LEGACY,
      python: plan.python,
      readerIntervalMs: READER_INTERVAL_MS,
      notebook: plan.notebook,
    },
    engine: { alone: engineAlone, beside: engineBeside, ratioBesideToAlone: ratio },
    neighbours,
    targets,
    pass: targets.every((target) => target.pass),
    perRun,
  };
}

// ---------------------------------------------------------------------------------------------
// Standalone: node dist/bench/neighbours.js [--quick] [--runs N] [--leagues N] [--json] [--engine-option key=value ...]

/** `key=value`: the value as JSON when it parses (numbers, booleans, objects), else as a string. */
export function parseEngineOption(text: string): [string, unknown] {
  const equals = text.indexOf('=');
  if (equals <= 0) throw new InvalidOptionError('--engine-option', 'key=value, e.g. transactionBudgetMs=50', text);
  const key = text.slice(0, equals);
  const raw = text.slice(equals + 1);
  try {
    return [key, JSON.parse(raw) as unknown];
  } catch {
    return [key, raw];
  }
}

async function main(args: string[]): Promise<number> {
  const options: Omit<NeighboursOptions, 'log'> & { engineOptions: Record<string, unknown> } = { engineOptions: {} };
  let json = false;
  for (let index = 0; index < args.length; index++) {
    const arg = args[index]!;
    const value = (): string => {
      const next = args[++index];
      if (next === undefined) throw new InvalidOptionError(arg, 'followed by a value', undefined);
      return next;
    };
    if (arg === '--quick') options.quick = true;
    else if (arg === '--json') json = true;
    else if (arg === '--runs') options.runs = Number(value());
    else if (arg === '--leagues') options.leagues = Number(value());
    else if (arg === '--no-python') options.python = false;
    else if (arg === '--engine-option') {
      const [key, parsed] = parseEngineOption(value());
      options.engineOptions[key] = parsed;
    } else throw new InvalidOptionError('option', 'one of --quick, --runs N, --leagues N, --no-python, --json, --engine-option key=value', arg);
  }
  const report = await neighboursSection({
    ...options,
    engineOptions: options.engineOptions as Partial<EngineOptions>,
    log: (line) => {
      if (!json) process.stdout.write(`${line}\n`);
    },
  });
  if (json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  // It ran: what it found is in the figures and the PASS/FAIL lines (and `pass` in --json).
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (error: unknown) => {
      const usage = (error as { code?: unknown }).code === 'ERR_INVALID_OPTION';
      process.stderr.write(`${usage ? (error as Error).message : (error as Error).stack ?? String(error)}\n`);
      process.exitCode = usage ? 2 : 1;
    },
  );
}
