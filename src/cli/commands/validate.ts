import type { Command } from 'commander';
import { validateEnvironment } from '../../index.js';
import { printJson, type CliContext } from '../context.js';
import { EXIT } from '../exit-codes.js';

export function describe(command: Command): void {
  command.addHelpText('after', `
Checks SQLite and Node versions, the database folder's file system (network file systems are
refused for WAL), write permission, free space (twice the database), mmap, the retry policy's
worst-case delay and the flags file. Exit 0 when every required check passes, 1 otherwise.`);
}

export async function run(context: CliContext): Promise<number> {
  const report = await validateEnvironment({ databasePath: context.databasePath, flagsPath: context.flagsPath, createFolder: context.databaseIsDefault });
  if (context.json) {
    printJson(context, report);
  } else {
    context.stdout.write(`Validation of ${report.database} (flags ${report.flagsFile})\n`);
    for (const check of report.checks) {
      const mark = check.ok ? 'ok  ' : check.required ? 'FAIL' : 'warn';
      context.stdout.write(`  [${mark}] ${check.name}: ${check.detail}\n`);
    }
    context.stdout.write(report.ok ? 'All required checks passed.\n' : 'Some required checks failed: see FAIL above.\n');
  }
  return report.ok ? EXIT.ok : EXIT.failed;
}
