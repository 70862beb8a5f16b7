import type { Command } from 'commander';
import { DatabaseOpenError, DEFAULT_TABLES, loadFlags, ReadPool, withReader, type JobState } from '../../index.js';
// Not part of the package entry yet.
import { tableExists } from '../../db/schema.js';
import { printJson, type CliContext } from '../context.js';
import { addExamples, addExitCodes } from '../help.js';
import { EXIT } from '../main.js';
import { parseChoice, parseInteger } from '../parse.js';

const STATES: readonly JobState[] = ['queued', 'running', 'completed', 'failed', 'cancelled'];

export function describe(command: Command): void {
  command
    .option('--status <state>', `only jobs in this state: ${STATES.join(', ')}`, (v) => parseChoice(v, '--status', STATES))
    .option('--limit <n>', 'at most this many jobs, newest first', (v) => parseInteger(v, '--limit', 1, 1_000_000), 1000);
  command.addHelpText('after', `
Reads only: the job log is read through read-only connections, safe beside a running
backfill.`);
  addExamples(command, [
    ['league-backfill jobs', 'every job, newest first'],
    ['league-backfill jobs --status failed', 'the jobs the next backfill will resume'],
    ['league-backfill jobs --status running --json', 'for scripts'],
    ['league-backfill jobs | head -5', 'the newest few'],
  ]);
  addExitCodes(command, [
    [EXIT.ok, 'the job log was printed'],
    [EXIT.usage, 'bad usage, or no database (or no job_log table) at --db'],
  ]);
}

interface JobRow {
  job_id: string;
  league_key: string | null;
  season: number | null;
  source: string | null;
  status: string;
  cursor: number | null;
  rows_fetched: number | null;
  rows_inserted: number | null;
  rows_ignored: number | null;
  rows_rejected: number | null;
  lock_count: number | null;
  max_retry_count: number | null;
  total_retry_time: number | null;
  lock_operations: string | null;
  error: string | null;
  updated_at: string | null;
}

export async function run(context: CliContext, options: Record<string, unknown>): Promise<number> {
  const status = options.status as JobState | undefined;
  const limit = options.limit as number;
  const { flags } = await loadFlags(context.flagsPath);
  // Read-only: looking at the job log never takes the write lock or changes the file. With
  // connection_pooling on, the read goes through the read pool like every other read.
  const pool = flags.connection_pooling ? new ReadPool({ path: context.databasePath, flags, min: 1, max: 1, logger: context.logger }) : undefined;
  try {
    await withReader({ pool, path: context.databasePath, flags, logger: context.logger }, (db) => {
      if (!tableExists(db, DEFAULT_TABLES.jobLog)) throw new DatabaseOpenError(context.databasePath, 'has no job_log table; run a backfill first');
      const rows = db.prepare(`SELECT job_id, league_key, season, source, status, cursor, rows_fetched, rows_inserted, rows_ignored, rows_rejected,
          lock_count, max_retry_count, total_retry_time, lock_operations, error, updated_at
        FROM ${DEFAULT_TABLES.jobLog} ${status ? 'WHERE status = ?' : ''} ORDER BY updated_at DESC, job_id LIMIT ?`)
        .all(...(status ? [status, limit] : [limit])) as JobRow[];
      const counts = db.prepare(`SELECT status, count(*) AS n FROM ${DEFAULT_TABLES.jobLog} GROUP BY status`).all() as Array<{ status: string; n: number }>;
      if (context.json) {
        printJson(context, {
          database: context.databasePath,
          counts: Object.fromEntries(counts.map((c) => [c.status, c.n])),
          jobs: rows.map((row) => ({ ...row, lock_operations: row.lock_operations ? JSON.parse(row.lock_operations) as unknown : {} })),
        });
      } else {
        context.stdout.write(`${context.databasePath}: ${counts.map((c) => `${c.n} ${c.status}`).join(', ') || 'no jobs'}\n`);
        for (const row of rows) {
          context.stdout.write(`  ${row.job_id.padEnd(22)} ${row.status.padEnd(9)} cursor ${String(row.cursor ?? 0).padStart(5)}  rows ${String(row.rows_fetched ?? 0).padStart(7)}` +
            `  inserted ${String(row.rows_inserted ?? 0).padStart(7)}  locks ${row.lock_count ?? 0}${row.error ? `  error: ${row.error}` : ''}\n`);
        }
      }
    });
  } finally {
    await pool?.close();
  }
  return EXIT.ok;
}
