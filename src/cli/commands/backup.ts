import type { Command } from 'commander';
import { BACKUP_METHODS, backupDatabase, describeBackup, type BackupMethod } from '../../index.js';
import { printJson, type CliContext } from '../context.js';
import { addExamples, addExitCodes } from '../help.js';
import { EXIT } from '../exit-codes.js';
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
