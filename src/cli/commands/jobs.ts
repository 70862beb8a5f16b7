import type { Command } from 'commander';
import { JOB_STATES, loadFlags, readJobLog, type JobState } from '../../index.js';
import { printJson, type CliContext } from '../context.js';
import { addExamples, addExitCodes } from '../help.js';
import { EXIT } from '../exit-codes.js';
import { parseChoice, parseInteger } from '../parse.js';

const STATES: readonly JobState[] = JOB_STATES;

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

export async function run(context: CliContext, options: Record<string, unknown>): Promise<number> {
  const status = options.status as JobState | undefined;
  const limit = options.limit as number;
  const { flags, workload } = await loadFlags(context.flagsPath);
  // Read-only: looking at the job log never takes the write lock or changes the file.
  const { counts, jobs } = await readJobLog({ path: context.databasePath, flags, workload, status, limit, logger: context.logger });
  if (context.json) {
    printJson(context, { database: context.databasePath, counts, jobs });
  } else {
    const totals = Object.entries(counts).map(([state, n]) => `${n} ${state}`).join(', ');
    context.stdout.write(`${context.databasePath}: ${totals || 'no jobs'}\n`);
    for (const row of jobs) {
      context.stdout.write(`  ${row.job_id.padEnd(22)} ${row.status.padEnd(9)} cursor ${String(row.cursor ?? 0).padStart(5)}  rows ${String(row.rows_fetched ?? 0).padStart(7)}` +
        `  inserted ${String(row.rows_inserted ?? 0).padStart(7)}  locks ${row.lock_count ?? 0}${row.error ? `  error: ${row.error}` : ''}\n`);
    }
  }
  return EXIT.ok;
}
