/**
 * Crash loop (`npm run crash-loop`): runs the built command line's `backfill` in a child
 * process and kills it with SIGKILL at random moments, many times, resuming each time; then
 * lets one run finish and checks that the table is exactly an uninterrupted run's: the same
 * sorted (transaction_key, player_id) list, no duplicates, integrity_check ok, every job
 * completed, and job_log's counters equal to the rows stored per job. After every kill it
 * also checks the file (quick_check) and that every job's committed cursor and counters
 * agree with its rows, which is what makes resuming exact.
 *
 * Kills land at random points of the commit stream: most once the table has reached a
 * random row count (drawn across the whole run, so early, middle and late kills all occur),
 * some at a random time in the first moments of the process (opening, migrating, starting
 * jobs). `--latency` slows the demo source so that a run lasts long enough to be hit.
 *
 *   npm run crash-loop -- [--kills 50] [--max-seconds 300] [--leagues 3] [--seasons 2019-2025]
 *                         [--seed 4] [--latency 3] [--startup-share 0.2] [--dir PATH] [--keep] [--json]
 *
 * Exit code: 0 when every check passed, 1 on any mismatch, 2 for bad arguments.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';

/** The built command line: this file runs as dist/bench/crash-loop.js. */
const BIN = fileURLToPath(new URL('../src/cli/bin.js', import.meta.url));

interface Options {
  kills: number;
  maxSeconds: number;
  leagues: number;
  seasons: string;
  seed: number;
  latency: number;
  startupShare: number;
  dir: string | undefined;
  keep: boolean;
  json: boolean;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      kills: { type: 'string', default: '50' },
      'max-seconds': { type: 'string', default: '300' },
      leagues: { type: 'string', default: '3' },
      seasons: { type: 'string', default: '2019-2025' },
      seed: { type: 'string', default: '4' },
      latency: { type: 'string', default: '3' },
      'startup-share': { type: 'string', default: '0.2' },
      dir: { type: 'string' },
      keep: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const integer = (name: string, text: string, min: number, max: number): number => {
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < min || value > max) throw new Error(`Expected --${name} to be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`);
    return value;
  };
  const share = Number(values['startup-share']);
  if (!(share >= 0 && share <= 1)) throw new Error(`Expected --startup-share to be a number from 0 to 1, got ${JSON.stringify(values['startup-share'])}`);
  return {
    kills: integer('kills', values.kills, 1, 100_000),
    maxSeconds: integer('max-seconds', values['max-seconds'], 1, 86_400),
    leagues: integer('leagues', values.leagues, 1, 1000),
    seasons: values.seasons,
    seed: integer('seed', values.seed, 0, 2 ** 31 - 1),
    latency: integer('latency', values.latency, 0, 60_000),
    startupShare: share,
    dir: values.dir,
    keep: values.keep,
    json: values.json,
  };
}

interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function backfill(args: string[]): { kill(): void; exited: Promise<RunResult> } {
  const child = spawn(process.execPath, [BIN, 'backfill', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LEAGUE_BACKFILL_LOG_LEVEL: 'warn', LEAGUE_BACKFILL_DB: '', LEAGUE_BACKFILL_FLAGS: '', LEAGUE_BACKFILL_ENV: '' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  const exited = new Promise<RunResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { kill: () => void child.kill('SIGKILL'), exited };
}

/** Rows committed so far, read from another connection; 0 while there is no file or table yet. */
function committedRows(path: string): number {
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      return db.prepare('SELECT count(*) FROM transactions').pluck().get() as number;
    } finally {
      db.close();
    }
  } catch {
    return 0;
  }
}

interface TableState {
  keys: string[];
  rows: number;
  distinct: number;
  integrity: string;
  statuses: Record<string, number>;
  /** Jobs whose rows in the table differ from job_log's rows_inserted. */
  disagreeing: string[];
}

function readState(path: string, integrity: 'integrity_check' | 'quick_check'): TableState {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const hasTable = (name: string): boolean => db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
    if (!hasTable('transactions') || !hasTable('job_log')) {
      return { keys: [], rows: 0, distinct: 0, integrity: String(db.pragma(integrity, { simple: true })), statuses: {}, disagreeing: [] };
    }
    const keys = db.prepare("SELECT transaction_key || '|' || player_id FROM transactions ORDER BY 1").pluck().all() as string[];
    const distinct = db.prepare('SELECT count(*) FROM (SELECT DISTINCT transaction_key, player_id FROM transactions)').pluck().get() as number;
    const statuses = Object.fromEntries((db.prepare('SELECT status, count(*) AS n FROM job_log GROUP BY status').all() as Array<{ status: string; n: number }>).map((row) => [row.status, row.n]));
    const disagreeing = (db.prepare(`SELECT j.job_id FROM job_log j
        LEFT JOIN (SELECT job_id, count(*) AS n FROM transactions GROUP BY job_id) t ON t.job_id = j.job_id
        WHERE coalesce(t.n, 0) != coalesce(j.rows_inserted, 0)`).pluck().all() as string[]);
    return { keys, rows: keys.length, distinct, integrity: String(db.pragma(integrity, { simple: true })), statuses, disagreeing };
  } finally {
    db.close();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

interface Kill {
  run: number;
  trigger: 'startup' | 'rows';
  /** When the kill was sent, ms after the child started. */
  atMs: number;
  /** Rows in the table just after the kill. */
  rows: number;
  /** True when the child had already finished on its own: nothing was killed. */
  missed: boolean;
}

export interface CrashLoopReport {
  ok: boolean;
  problems: string[];
  kills: number;
  killsRequested: number;
  startupKills: number;
  missedKills: number;
  referenceRows: number;
  jobs: number;
  rowsAtKill: { min: number; p25: number; median: number; p75: number; max: number };
  /** How many kills landed in each tenth of the table (by rows committed at the kill). */
  deciles: number[];
  finalRun: { code: number | null; rowsInserted: number; skipped: number; completed: number };
  seconds: { reference: number; loop: number; final: number; total: number };
  database: string;
}

export async function crashLoop(options: Options): Promise<CrashLoopReport> {
  const startedAll = performance.now();
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'league-backfill-crash-loop-'));
  mkdirSync(dir, { recursive: true });
  const workload = ['--leagues', String(options.leagues), '--seasons', options.seasons, '--seed', String(options.seed), '--no-progress'];
  const problems: string[] = [];

  // 1. The uninterrupted run everything is compared with.
  const referencePath = join(dir, 'reference.db');
  rmSync(referencePath, { force: true });
  const referenceStarted = performance.now();
  const reference = await backfill(['--db', referencePath, ...workload, '--json']).exited;
  if (reference.code !== 0) throw new Error(`the reference run failed (exit ${reference.code}): ${reference.stderr}`);
  const referenceSeconds = (performance.now() - referenceStarted) / 1000;
  const expected = readState(referencePath, 'integrity_check');
  const jobs = Object.values(expected.statuses).reduce((sum, n) => sum + n, 0);
  if (expected.integrity !== 'ok' || expected.rows === 0 || expected.distinct !== expected.rows) throw new Error('the reference run left an unexpected table');

  // 2. The crash loop: kill, check, resume.
  const path = join(dir, 'crashed.db');
  for (const suffix of ['', '-wal', '-shm']) rmSync(path + suffix, { force: true });
  const slow = ['--db', path, ...workload, '--latency', String(options.latency)];
  const kills: Kill[] = [];
  const loopStarted = performance.now();
  const deadline = loopStarted + options.maxSeconds * 1000;
  // Row thresholds spread over the whole table, in order, so that kills land early, in the middle and late.
  const thresholds = Array.from({ length: options.kills }, () => 1 + Math.floor(Math.random() * (expected.rows - 1))).sort((a, b) => a - b);
  for (let run = 0; run < options.kills && performance.now() < deadline; run++) {
    const before = committedRows(path);
    const threshold = thresholds[run]!;
    const startup = Math.random() < options.startupShare || threshold <= before;
    const child = backfill(slow);
    const started = performance.now();
    let exitedEarly = false;
    void child.exited.then(() => { exitedEarly = true; });
    if (startup) {
      await sleep(Math.random() * 400);
    } else {
      while (!exitedEarly && committedRows(path) < threshold) {
        if (performance.now() - started > 120_000) throw new Error(`run ${run + 1}: ${threshold} rows not reached in 120 s`);
        await sleep(5);
      }
      await sleep(Math.random() * 20); // anywhere between two commits
    }
    const atMs = performance.now() - started;
    child.kill();
    const result = await child.exited;
    const missed = result.signal !== 'SIGKILL';
    if (missed && result.code !== 0) problems.push(`run ${run + 1} ended on its own with exit ${result.code}: ${result.stderr.trim().split('\n').at(-1) ?? ''}`);
    const state = existsSync(path) ? readState(path, 'quick_check') : undefined;
    if (state && state.integrity !== 'ok') problems.push(`after kill ${run + 1}: quick_check says ${state.integrity}`);
    if (state && state.distinct !== state.rows) problems.push(`after kill ${run + 1}: ${state.rows - state.distinct} duplicate rows`);
    if (state && state.disagreeing.length > 0) problems.push(`after kill ${run + 1}: job_log disagrees with the table for ${state.disagreeing.join(', ')}`);
    kills.push({ run: run + 1, trigger: startup ? 'startup' : 'rows', atMs, rows: state?.rows ?? 0, missed });
    if (missed && result.code === 0) break; // the run completed before it could be killed: nothing left to interrupt
  }
  const loopSeconds = (performance.now() - loopStarted) / 1000;

  // 3. One run to the end, at full speed: it resumes whatever is left.
  const finalStarted = performance.now();
  const final = await backfill(['--db', path, ...workload, '--json']).exited;
  const finalSeconds = (performance.now() - finalStarted) / 1000;
  let finalSummary = { rowsInserted: 0, skipped: 0, completed: 0 };
  if (final.code !== 0) problems.push(`the final run exited ${final.code}: ${final.stderr.trim()}`);
  try {
    finalSummary = JSON.parse(final.stdout) as typeof finalSummary;
  } catch {
    problems.push(`the final run printed no JSON summary: ${final.stdout.slice(0, 200)}`);
  }
  const state = readState(path, 'integrity_check');
  if (state.integrity !== 'ok') problems.push(`integrity_check: ${state.integrity}`);
  if (state.distinct !== state.rows) problems.push(`${state.rows - state.distinct} duplicate (transaction_key, player_id) rows`);
  if (state.rows !== expected.rows) problems.push(`${state.rows} rows, the uninterrupted run has ${expected.rows}`);
  if (state.keys.length !== expected.keys.length || state.keys.some((key, index) => key !== expected.keys[index])) {
    const missing = expected.keys.filter((key) => !state.keys.includes(key)).length;
    const extra = state.keys.filter((key) => !expected.keys.includes(key)).length;
    problems.push(`the sorted (transaction_key, player_id) list differs from the uninterrupted run's: ${missing} missing, ${extra} extra`);
  }
  if (JSON.stringify(state.statuses) !== JSON.stringify({ completed: jobs })) problems.push(`job statuses ${JSON.stringify(state.statuses)}, expected ${jobs} completed`);
  if (state.disagreeing.length > 0) problems.push(`job_log rows_inserted disagrees with the table for ${state.disagreeing.join(', ')}`);
  const landed = kills.filter((kill) => !kill.missed);
  if (landed.length === 0) problems.push('no kill landed: every run finished before it could be killed (raise --latency)');

  const rowsAtKill = landed.map((kill) => kill.rows).sort((a, b) => a - b);
  const deciles = Array.from({ length: 10 }, () => 0);
  for (const rows of rowsAtKill) deciles[Math.min(9, Math.floor((10 * rows) / expected.rows))]! += 1;
  const report: CrashLoopReport = {
    ok: problems.length === 0,
    problems,
    kills: landed.length,
    killsRequested: options.kills,
    startupKills: landed.filter((kill) => kill.trigger === 'startup').length,
    missedKills: kills.length - landed.length,
    referenceRows: expected.rows,
    jobs,
    rowsAtKill: { min: quantile(rowsAtKill, 0), p25: quantile(rowsAtKill, 0.25), median: quantile(rowsAtKill, 0.5), p75: quantile(rowsAtKill, 0.75), max: quantile(rowsAtKill, 1) },
    deciles,
    finalRun: { code: final.code, rowsInserted: finalSummary.rowsInserted, skipped: finalSummary.skipped, completed: finalSummary.completed },
    seconds: {
      reference: round(referenceSeconds), loop: round(loopSeconds), final: round(finalSeconds), total: round((performance.now() - startedAll) / 1000),
    },
    database: path,
  };
  if (!options.keep && options.dir === undefined) rmSync(dir, { recursive: true, force: true });
  return report;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

function format(report: CrashLoopReport): string {
  const pct = (rows: number): string => `${((100 * rows) / report.referenceRows).toFixed(0)} %`;
  const r = report.rowsAtKill;
  const lines = [
    `crash loop: ${report.kills} SIGKILLs landed (${report.killsRequested} asked${report.missedKills > 0 ? `, ${report.missedKills} runs finished before their kill` : ''}), ` +
      `${report.startupKills} of them in the first moments of a run`,
    `  table of the uninterrupted run: ${report.referenceRows.toLocaleString('en-US')} rows in ${report.jobs} jobs`,
    `  rows in the table at each kill: min ${r.min} (${pct(r.min)}), p25 ${r.p25} (${pct(r.p25)}), median ${r.median} (${pct(r.median)}), ` +
      `p75 ${r.p75} (${pct(r.p75)}), max ${r.max} (${pct(r.max)})`,
    `  kills per tenth of the table: ${report.deciles.join(' ')}`,
    `  final run: exit ${report.finalRun.code}, ${report.finalRun.rowsInserted} rows inserted, ${report.finalRun.skipped} jobs already complete`,
    `  time: reference ${report.seconds.reference} s, loop ${report.seconds.loop} s, final ${report.seconds.final} s, total ${report.seconds.total} s`,
    report.ok
      ? '  OK: same sorted (transaction_key, player_id) list as the uninterrupted run, no duplicates, integrity_check ok, every job completed, job_log agrees with the table after every kill'
      : `  FAILED:\n${report.problems.map((problem) => `    - ${problem}`).join('\n')}`,
  ];
  return `${lines.join('\n')}\n`;
}

async function cli(): Promise<number> {
  let options: Options;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`crash-loop: ${(error as Error).message}\n`);
    return 2;
  }
  const report = await crashLoop(options);
  process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : format(report));
  return report.ok ? 0 : 1;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await cli();
}
