import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { InvalidOptionError } from '../../errors.js';
import { formatResultsTable, NEIGHBOUR_WAIT_LIMIT_MS, plural, renderHtmlReport, runLoadTest } from '../../loadtest/index.js';
import type { LockWaitStrategy } from '../../writer/protocol.js';
import { printJson, type CliContext } from '../context.js';
import { EXIT } from '../main.js';
import { parseChoice, parseInteger } from '../parse.js';

export const DEFAULT_REPORT_FOLDER = 'loadtest-report';

export function describe(command: Command): void {
  command
    .option('--quick', 'a small workload and a short time limit: well under a minute in all')
    .option('--duration <s>', 'the longest each configuration may run, in seconds (default 60, 8 with --quick)', (v) => parseInteger(v, '--duration', 1, 3600))
    .option('--readers <n>', 'reader processes running analytics queries in a loop', (v) => parseInteger(v, '--readers', 0, 32), 2)
    .option('--writers <n>', 'legacy writer processes (own connection, SQLite\'s busy handler with a 5 s timeout, deferred transactions of 20 rows every 10 ms, no retry)', (v) => parseInteger(v, '--writers', 0, 32), 1)
    .option('--leagues <n>', 'demo leagues in the workload, 6 seasons each (default 20, 2 with --quick: 4 seasons)', (v) => parseInteger(v, '--leagues', 1, 1000))
    .option('--lock-wait <strategy>', 'how the engine waits for a lock another process holds (default: the engine\'s)',
      (v) => parseChoice(v, '--lock-wait', ['busy-timeout', 'fair-poll', 'busy-slices', 'micro-poll'] as const))
    .option('--out <dir>', 'folder for report.json and report.html', DEFAULT_REPORT_FOLDER)
    .addHelpText('after', `
Runs the configurations Baseline, PRAGMA Only, WAL Mode, Transactions, Full Stack and
Recommended in turn, each on a fresh database, while reader and legacy writer processes use
the same file, and reports for each: success rate, lock errors that reached the caller,
retries, rows/s, commit latency, memory, the readers' and legacy writers' experience
(commits, errors, waits), and rows lost, all counted in the database. A configuration that
loses rows, or makes a neighbour fail or wait past 1 s, is never recommended; the default
profile is kept when another is faster only within noise. The databases are made beside --db
when it is given (the disk to test), else in --out, and removed afterwards.

Examples:
  npm run loadtest
  league-backfill loadtest --quick --json
  league-backfill loadtest --readers 4 --writers 2 --out /tmp/report`);
}

interface LoadTestCliOptions {
  quick?: boolean;
  duration?: number;
  readers: number;
  writers: number;
  leagues?: number;
  lockWait?: LockWaitStrategy;
  out: string;
}

export async function run(context: CliContext, raw: Record<string, unknown>): Promise<number> {
  const options = raw as unknown as LoadTestCliOptions;
  const out = resolve(options.out);
  // The databases go where the real one lives when the user named it: that disk is the one to test.
  const folder = context.databaseIsDefault ? out : dirname(resolve(context.databasePath));
  if (!context.databaseIsDefault && !existsSync(folder)) {
    throw new InvalidOptionError('--db', 'a path in an existing folder (the load test makes its databases beside it)', context.databasePath);
  }
  mkdirSync(out, { recursive: true });
  const report = await runLoadTest({
    folder,
    quick: options.quick ?? false,
    readers: options.readers,
    writers: options.writers,
    signal: context.signal,
    ...(options.duration !== undefined ? { durationS: options.duration } : {}),
    ...(options.leagues !== undefined ? { leagues: options.leagues } : {}),
    ...(options.lockWait ? { lockWait: options.lockWait } : {}),
    onProgress: ({ configuration, index, of, result }) => {
      if (result) context.logger.info({ configuration, successRate: result.successRate, rowsPerSecond: result.rowsPerSecond, lockErrors: result.lockErrors }, `${configuration} done`);
      else if (index < 0) context.logger.info({ configuration }, `${configuration}: the default configuration once more, to measure the noise`);
      else context.logger.info({ configuration }, `configuration ${index + 1} of ${of}: ${configuration}`);
    },
  });
  const jsonPath = join(out, 'report.json');
  const htmlPath = join(out, 'report.html');
  writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(htmlPath, renderHtmlReport(report));
  if (context.json) {
    printJson(context, { ...report, reports: { json: jsonPath, html: htmlPath } });
  } else {
    const { settings } = report;
    context.stdout.write(`Load test: ${plural(settings.jobs, 'job')}, ${plural(settings.rowsOffered, 'row')} offered per configuration, ` +
      `${plural(settings.contention.readers, 'reader')} and ${plural(settings.contention.legacyWriters, 'legacy writer')} contending\n\n`);
    context.stdout.write(`${formatResultsTable(report.configs)}\n\n`);
    const width = Math.max(...report.configs.map((config) => config.name.length));
    context.stdout.write(`Neighbours (a configuration that makes one fail or wait past ${NEIGHBOUR_WAIT_LIMIT_MS / 1000} s is not recommended):\n`);
    for (const config of report.configs) {
      context.stdout.write(`  ${config.name.padEnd(width)}  ${config.neighbours.ok ? 'ok' : config.neighbours.problems.join('; ')}\n`);
    }
    const { noise } = settings;
    if (noise.rowsPerSecond.length === 2) {
      context.stdout.write(`\nNoise: ${noise.configuration} ran twice, ${noise.rowsPerSecond.map((rate) => rate.toLocaleString('en-US')).join(' and ')} rows/s ` +
        `(${(noise.measuredSpread * 100).toFixed(0)} % apart); the verdict takes differences up to ${(noise.used * 100).toFixed(0)} % for noise.\n`);
    }
    context.stdout.write(`\nRecommended configuration: ${report.recommendation}\n`);
    context.stdout.write(`Reports: ${jsonPath}, ${htmlPath}\n`);
  }
  return EXIT.ok;
}
