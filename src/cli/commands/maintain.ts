import type { Command } from 'commander';
import {
  BACKUP_METHODS, describeBackup, describeLockWaits, formatBytes, formatRows, maintainDatabase,
  type BackupMethod, type DatabaseStatistics, type MaintenanceReport, type MaintenanceStepName,
} from '../../index.js';
import { printJson, type CliContext } from '../context.js';
import { addExamples, addExitCodes } from '../help.js';
import { EXIT } from '../exit-codes.js';
import { parseChoice } from '../parse.js';

export function describe(command: Command): void {
  command
    .option('--skip-backup', 'make no backup first')
    .option('--skip-analyze', 'do not run ANALYZE')
    .option('--skip-reindex', 'do not run REINDEX')
    .option('--skip-vacuum', 'do not run VACUUM')
    .option('--backup-to <path>', 'where the backup goes (default: backups/<db name>-<UTC timestamp>.db beside the database)')
    .option('--backup-method <method>', 'vacuum-into or api', (v) => parseChoice(v, '--backup-method', BACKUP_METHODS), 'vacuum-into');
  command.addHelpText('after', `
Runs, in order: integrity check (read-only; if it fails, nothing is changed and the exit code is
1), statistics, a verified backup, ANALYZE, REINDEX, VACUUM (in WAL mode followed by a TRUNCATE
checkpoint, so the file shrinks on disk), and statistics again with the space saved.
Safe while a backfill runs in another process: the steps that write wait for the write lock
(busy_timeout, then retries with backoff) and the output says how often and how long.`);
  addExamples(command, [
    ['league-backfill maintain', 'every step, with a backup first'],
    ['league-backfill maintain --skip-vacuum --json', 'quick: no VACUUM; the report as JSON'],
    ['league-backfill maintain --backup-to /backups/league.db', 'the backup where you want it'],
  ]);
  addExitCodes(command, [
    [EXIT.ok, 'every step that was asked for was done'],
    [EXIT.failed, 'the integrity check failed (nothing was changed), or a step failed'],
    [EXIT.usage, 'bad usage, or no database at --db'],
    [EXIT.interrupted, 'stopped by Ctrl-C between steps'],
  ]);
}

export async function run(context: CliContext, options: Record<string, unknown>): Promise<number> {
  const report = await maintainDatabase({
    database: context.databasePath,
    backup: options.skipBackup !== true,
    backupDestination: options.backupTo as string | undefined,
    backupMethod: options.backupMethod as BackupMethod,
    analyze: options.skipAnalyze !== true,
    reindex: options.skipReindex !== true,
    vacuum: options.skipVacuum !== true,
    signal: context.signal,
    logger: context.logger,
  });
  if (context.json) printJson(context, report);
  else context.stdout.write(formatReport(report));
  if (!report.ok) {
    const listed = report.integrity.problems.length;
    context.stderr.write(`league-backfill: integrity check failed for ${report.database} (${listed} problem${listed === 1 ? '' : 's'} listed); ` +
      'nothing was changed. Restore the database from a backup, or recover what is readable with the sqlite3 shell\'s .recover.\n');
    return EXIT.failed;
  }
  return EXIT.ok;
}

function formatReport(report: MaintenanceReport): string {
  const lines = [`Maintenance of ${report.database}`];
  if (!report.ok) {
    lines.push('  integrity check: FAILED; stopped before any change', ...report.integrity.problems.map((problem) => `    ${problem}`));
    return `${lines.join('\n')}\n`;
  }
  lines.push('  integrity check: ok');
  if (report.before) lines.push(`  before: ${formatStatistics(report.before)}`, `  rows: ${formatRows(report.before.rows)}`);
  if (report.backup) lines.push(`  backup: done in ${seconds(report.backup.durationMs)}`, ...describeBackup(report.backup).slice(0, 2).map((line) => `    ${line}`));
  else lines.push(`  backup: ${describeStep(report, 'backup')}`);
  for (const name of ['analyze', 'reindex', 'vacuum'] as const) lines.push(`  ${name}: ${describeStep(report, name)}`);
  if (report.checkpoint) {
    lines.push(report.checkpoint.complete
      ? "  checkpoint: WAL checkpointed and truncated"
      : `  checkpoint: incomplete, the file shrinks at a later checkpoint: ${report.checkpoint.problem ?? 'busy'}`);
  }
  if (report.after && report.before) {
    const beforeBytes = report.before.databaseBytes + report.before.walBytes;
    const share = beforeBytes === 0 ? 0 : (100 * report.spaceSavedBytes) / beforeBytes;
    lines.push(`  after: ${formatStatistics(report.after)}`);
    lines.push(report.spaceSavedBytes >= 0
      ? `  space saved: ${formatBytes(report.spaceSavedBytes)} (${share.toFixed(1)} %)`
      : `  space saved: none; the files grew by ${formatBytes(-report.spaceSavedBytes)} (another process wrote meanwhile)`);
  }
  lines.push(`  ${describeLockWaits(report.lockWaits)}`);
  lines.push(`Maintenance finished in ${seconds(report.durationMs)}.`);
  return `${lines.join('\n')}\n`;
}

function describeStep(report: MaintenanceReport, name: MaintenanceStepName): string {
  const step = report.steps[name];
  return step.status === 'done' ? `done in ${seconds(step.durationMs)}` : `skipped (${step.reason ?? 'not run'})`;
}

function formatStatistics(stats: DatabaseStatistics): string {
  return `${formatBytes(stats.databaseBytes)} (WAL ${formatBytes(stats.walBytes)}), ${stats.pageCount.toLocaleString('en-US')} pages of ${stats.pageSize} B, ` +
    `${stats.freePages.toLocaleString('en-US')} free (fragmentation ${(100 * stats.fragmentation).toFixed(1)} %), journal mode ${stats.journalMode}`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}
