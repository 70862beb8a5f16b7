import type { Command } from 'commander';
import { BACKUP_METHODS, backupDatabase, type BackupMethod, type BackupResult } from '../../index.js';
// Not part of the package entry yet.
import { describeLockWaits } from '../../db/locking/operation-lock.js';
import { formatBytes } from '../../db/validate.js';
import { printJson, type CliContext } from '../context.js';
import { addExamples, addExitCodes } from '../help.js';
import { EXIT } from '../main.js';
import { parseChoice } from '../parse.js';

export function describe(command: Command): void {
  command
    .argument('[dest]', 'the copy to write (default: backups/<db name>-<UTC timestamp>.db beside the database)')
    .option('--method <method>', `vacuum-into (a compacted copy) or api (SQLite's backup API, page by page)`, (v) => parseChoice(v, '--method', BACKUP_METHODS), 'vacuum-into')
    .option('--force', 'replace DEST when it exists');
  command.addHelpText('after', `
Makes a consistent copy while other processes keep writing (in WAL mode nobody waits for it),
checks it (integrity_check, rows per table against the source, no -wal or -shm, journal mode
DELETE), and only then moves it to DEST. An existing DEST is refused (exit 2) unless --force.`);
  addExamples(command, [
    ['league-backfill backup', 'to backups/league_analytics-<UTC timestamp>.db beside the database'],
    ['league-backfill backup /mnt/backups/league.db --force', 'replace an older copy'],
    ['league-backfill backup --method api --json', "SQLite's backup API; the result as JSON"],
  ]);
  addExitCodes(command, [
    [EXIT.ok, 'the copy was made and verified'],
    [EXIT.failed, 'the copy failed its verification or could not be made; nothing was left at DEST'],
    [EXIT.usage, 'bad usage, no database at --db, or DEST exists (pass --force)'],
    [EXIT.interrupted, 'stopped by Ctrl-C; nothing was left at DEST'],
  ]);
}

export async function run(context: CliContext, options: Record<string, unknown>, args: string[]): Promise<number> {
  const result = await backupDatabase({
    source: context.databasePath,
    destination: args[0],
    method: options.method as BackupMethod,
    force: options.force === true,
    signal: context.signal,
    logger: context.logger,
  });
  if (context.json) {
    printJson(context, result);
  } else {
    context.stdout.write(`Backup of ${result.source} in ${(result.durationMs / 1000).toFixed(2)} s\n`);
    for (const line of describeBackup(result)) context.stdout.write(`  ${line}\n`);
  }
  return EXIT.ok;
}

/** The lines that describe a backup, shared with `maintain`. */
export function describeBackup(result: BackupResult): string[] {
  const counted = result.verification.rowCounts === 'same-snapshot'
    ? 'rows equal to the source in the snapshot the copy was made from'
    : 'rows between the source counts before and after the copy (another process wrote meanwhile)';
  return [
    `copy: ${result.path} (${formatBytes(result.sizeBytes)}, ${result.method}${result.replaced ? ', replaced the file that was there' : ''})`,
    `verified: integrity_check ok, journal mode delete, no -wal or -shm; ${counted}`,
    `rows: ${formatRows(result.rows)}`,
    // A backup only reads: it waits only where another process's commit blocks readers (rollback-journal mode).
    ...(result.lockWaits.count > 0 ? [describeLockWaits(result.lockWaits, 'a lock')] : []),
  ];
}

export function formatRows(rows: Record<string, number>): string {
  const entries = Object.entries(rows);
  return entries.length === 0 ? 'no tables' : entries.map(([table, count]) => `${table} ${count.toLocaleString('en-US')}`).join(', ');
}
