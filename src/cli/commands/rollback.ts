import type { Command } from 'commander';
import {
  describeFlags, formatDuration, InvalidOptionError, rollbackDrill, RollbackError, rollbackEverything,
  type DatabaseRollback, type RollbackDrillResult, type RollbackResult,
} from '../../index.js';
import { printJson, type CliContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { parseNumber } from '../parse.js';

export function describe(command: Command): void {
  command
    .option('--reason <text>', 'why the rollback is done; written to the rollback log (required, except with --drill)')
    .option('--drill', 'a drill: run the rollback on a verified backup copy (the live database and flags are only read), check it, and record it for `rollout`')
    .option('--keep-copy', 'with --drill: keep the rolled-back copy and print its path')
    .option('--wait-seconds <s>', 'how long to wait for other processes to close the databases before giving up with nothing changed (0-3600)',
      (v) => parseNumber(v, '--wait-seconds', 0, 3600), 10)
    .addHelpText('after', `
Turns every feature flag off, then for the database and its twin (x.db <-> x_test.db, when
that file exists): checkpoints the WAL with TRUNCATE and sets journal_mode = DELETE, keeping
every row. Appends one JSON line to rollback_log.jsonl beside the flags file.

Nothing changes until every database can be switched: when another process has a database
open (a running backfill, a dashboard, a notebook), the rollback waits up to --wait-seconds,
then stops with nothing changed and says which processes to stop.

A drill (--drill) makes a verified backup beside the database, puts it in the live journal
mode, rolls the copy back with a copy of the flags file, checks that every row is still there,
the copy is in DELETE mode and passes the integrity check, then removes it and records the drill
in rollback_drills.jsonl beside the flags file. \`rollout next\` needs a passed drill at the
current step. Exit 0 when the drill passed, 1 when it failed.

Examples:
  league-backfill rollback --reason "lock errors after enabling wal_mode"
  league-backfill rollback --drill
  league-backfill rollback --db data/league_analytics.db --reason "disk full" --wait-seconds 30 --json

Exit codes: 0 rolled back, 1 could not (busy; nothing changed, run again), 2 bad usage, or the
flags file does not load (the databases were rolled back, the file was left as it is).`);
}

interface RollbackCliOptions {
  reason?: string;
  waitSeconds: number;
  drill?: boolean;
  keepCopy?: boolean;
}

/** Codes that mean bad input: exit 2 (the same set as the CLI's USAGE_ERROR_CODES). */
const USAGE_CODES = new Set(['ERR_INVALID_OPTION', 'ERR_FLAGS_FILE', 'ERR_DATABASE_OPEN', 'ERR_AUTH', 'ERR_INPUT']);

export async function run(context: CliContext, raw: Record<string, unknown>): Promise<number> {
  const options = raw as unknown as RollbackCliOptions;
  if (options.keepCopy === true && options.drill !== true) throw new InvalidOptionError('--keep-copy', 'used with --drill', true, 'Add --drill');
  if (options.drill === true) return runDrill(context, options);
  if (options.reason === undefined || options.reason.trim() === '') {
    throw new InvalidOptionError('--reason', 'a short text saying why the rollback is done, written to the rollback log, such as --reason "lock errors after enabling wal_mode"',
      options.reason, 'Nothing was changed');
  }
  let result: RollbackResult;
  try {
    result = await rollbackEverything({
      reason: options.reason,
      database: context.databasePath,
      twinDatabase: context.twinDatabasePath,
      flagsPath: context.flagsPath,
      waitSeconds: options.waitSeconds,
      logger: context.logger,
      signal: context.signal,
    });
  } catch (error) {
    if (!(error instanceof RollbackError)) throw error;
    context.stderr.write(`league-backfill: ${error.message}\n`);
    if (context.json) printJson(context, error.result);
    else context.stdout.write(formatRollback(error.result));
    return USAGE_CODES.has(error.code) ? EXIT.usage : error.code === 'ERR_ABORTED' ? EXIT.interrupted : EXIT.failed;
  }
  if (context.json) printJson(context, result);
  else context.stdout.write(formatRollback(result));
  return EXIT.ok;
}

async function runDrill(context: CliContext, options: RollbackCliOptions): Promise<number> {
  const result = await rollbackDrill({
    database: context.databasePath,
    flagsPath: context.flagsPath,
    keepCopy: options.keepCopy === true,
    logger: context.logger,
    signal: context.signal,
  });
  if (context.json) printJson(context, result);
  else context.stdout.write(formatDrill(result));
  return result.status === 'passed' ? EXIT.ok : EXIT.failed;
}

/** The human summary of a drill. */
export function formatDrill(result: RollbackDrillResult): string {
  const lines = [`Rollback drill ${result.status === 'passed' ? 'PASSED' : 'FAILED'} in ${formatDuration(result.durationMs)} on a copy of ${result.database}`];
  lines.push(`  flags     ${result.flagsPath}: ${result.flagsAtDrill === null ? 'could not be read' : describeFlags(result.flagsAtDrill)} (left unchanged)`);
  if (result.copy !== null) {
    const rows = Object.entries(result.copy.rows).map(([table, count]) => `${table} ${count.toLocaleString('en-US')}`).join(', ');
    lines.push(`  copy      ${formatBytes(result.copy.sizeBytes)}, verified (${rows})${result.copy.kept ? `, kept at ${result.copy.path}` : ', removed after the drill'}`);
  }
  if (result.rollback !== null) {
    lines.push(`  rollback  ${result.rollback.status} in ${formatDuration(result.rollback.durationMs)}: journal mode ${result.rollback.journalModeBefore} -> ${result.rollback.journalModeAfter}, ` +
      `${result.rollback.checkpointedFrames} WAL frames checkpointed, rows ${result.rollback.rowsEqual ? 'kept' : 'CHANGED'}` +
      `${result.rollback.flagsTurnedOff.length > 0 ? `, flags turned off: ${result.rollback.flagsTurnedOff.join(', ')}` : ''}`);
  }
  for (const problem of result.problems) lines.push(`  ! ${problem}`);
  lines.push(`  recorded in ${result.logPath}`);
  return `${lines.join('\n')}\n`;
}

const STATUS_TITLES = {
  completed: 'Rollback completed',
  partial: 'Rollback PARTIAL',
  failed: 'Rollback FAILED: nothing was changed',
} as const;

/** The human summary: what was done to the flags and to each database, and where the log is. */
export function formatRollback(result: RollbackResult): string {
  const lines = [`${STATUS_TITLES[result.status]} in ${(result.durationMs / 1000).toFixed(1)} s. Reason: ${JSON.stringify(result.reason)}`];
  if (result.flagsAfter !== null) {
    const before = result.flagsBefore === null ? 'unknown' : describeFlags(result.flagsBefore);
    lines.push(`  flags     ${result.flagsPath}: all off (before: ${before}${result.flagsFileExisted ? '' : ', the defaults: there was no file'})`);
  } else {
    lines.push(`  flags     ${result.flagsPath}: NOT changed${result.flagsError !== null ? ` (${result.flagsError})` : ''}`);
  }
  for (const database of result.databases) lines.push(`  database  ${database.path}: ${describeDatabase(database)}`);
  for (const skipped of result.skipped) lines.push(`  database  ${skipped.path}: skipped, ${skipped.reason}`);
  if (result.lockAttempts > 1) lines.push(`  waited ${(result.waitedMs / 1000).toFixed(1)} s for other processes (${result.lockAttempts} attempts)`);
  lines.push(`  log       ${result.logPath}`);
  if (result.status === 'completed') {
    lines.push('Engines started from now on run with every flag off (the baseline profile). To go forward again: `league-backfill flags profile recommended`.');
  }
  return `${lines.join('\n')}\n`;
}

function describeDatabase(d: DatabaseRollback): string {
  const rows = Object.entries(d.rowsAfter).map(([table, count]) => `${table} ${count.toLocaleString('en-US')}`).join(', ');
  const kept = rows === '' ? '' : d.rowsEqual ? `; rows kept: ${rows}` : `; ROW COUNTS DIFFER: before ${JSON.stringify(d.rowsBefore)}, after ${JSON.stringify(d.rowsAfter)}`;
  switch (d.action) {
    case 'switched':
      return `journal mode ${d.journalModeBefore} -> ${d.journalModeAfter}` +
        `${d.journalModeBefore !== 'wal' ? '' : d.walBytesBefore > 0 ? `, WAL of ${formatBytes(d.walBytesBefore)} checkpointed (${d.checkpointedFrames} frames) and removed` : ', WAL was empty'}${kept}`;
    case 'unchanged':
      return `already in ${d.journalModeAfter} mode, nothing to do${kept}`;
    case 'reverted':
      return `switched back to ${d.journalModeAfter} because another database could not be switched`;
    case 'untouched':
      return `not changed (journal mode ${d.journalModeBefore}${d.walBytesBefore > 0 ? `, WAL ${formatBytes(d.walBytesBefore)}` : ''})`;
  }
}

function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
