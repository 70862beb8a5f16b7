/**
 * `doctor`: checks the live database and this machine for each symptom of the troubleshooting
 * guide and prints what it found and the fix. Exit codes like `health`: 0 OK, 1 WARNING,
 * 2 CRITICAL, 3 UNKNOWN (also for bad usage, so a mistyped check never reads as CRITICAL).
 */
import type { Command } from 'commander';
import { BackfillError, describeFlags, HEALTH_EXIT_CODES, runDoctor, type DoctorReport, type HealthStatus } from '../../index.js';
import { printJson, type CliContext } from '../context.js';
import { parseInteger, parseNumber } from '../parse.js';

export const USAGE_EXIT_CODE = HEALTH_EXIT_CODES.UNKNOWN;

export function describe(command: Command): void {
  command
    .option('--sample <seconds>', 'watch the locks for this long: a lock held in every sample is held, not passing (0-60, default 1)')
    .option('--window <minutes>', 'minutes of the writer\'s records to judge (1-1440, default 10)')
    .addHelpText('after', `
Symptoms checked, each with what was found and the exact fix:
  lock errors persist, the WAL keeps growing, slower after enabling a feature, backups fail
  in WAL mode, a reader pinning an old snapshot (named by pid), a network file system, a
  second writer (named by pid), SQLite too old or affected by the WAL-reset bug, disk space.

It looks at: the journal mode in force, the engine's busy timeout, who holds or waits for
locks (/proc/locks) and how long, open read transactions pinning the WAL (the -shm read marks),
checkpoint progress, the cache and mmap a connection gets with the flags and workload, free
disk against the database and WAL, the flags in force, the SQLite versions of the engine and
of every process that has the database open. It only reads: no checkpoint, no write.

Exit codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN (no database, or bad usage).

Examples:
  league-backfill doctor
  league-backfill doctor --db data/league_analytics.db --json`);
}

export async function run(context: CliContext, options: Record<string, unknown>, args: string[]): Promise<number> {
  let sampleMs: number | undefined;
  let windowMinutes: number | undefined;
  try {
    if (args.length > 0) throw new BackfillError('ERR_INVALID_OPTION', `doctor takes no arguments, got ${JSON.stringify(args.join(' '))}`);
    if (typeof options.sample === 'string') sampleMs = Math.round(parseNumber(options.sample, '--sample', 0, 60) * 1000);
    if (typeof options.window === 'string') windowMinutes = parseInteger(options.window, '--window', 1, 1440);
  } catch (error) {
    if (!(error instanceof BackfillError)) throw error;
    context.stderr.write(`league-backfill doctor: ${error.message}\n(run doctor --help for usage; bad usage exits ${USAGE_EXIT_CODE}, UNKNOWN)\n`);
    if (context.json) context.stdout.write(`${JSON.stringify({ status: 'UNKNOWN', error: { code: error.code, message: error.message } })}\n`);
    return USAGE_EXIT_CODE;
  }
  const report = await runDoctor({
    path: context.databasePath,
    flagsPath: context.flagsPath,
    logger: context.logger,
    signal: context.signal,
    ...(sampleMs !== undefined ? { sampleMs } : {}),
    ...(windowMinutes !== undefined ? { windowMinutes } : {}),
  });
  if (context.json) printJson(context, report);
  else context.stdout.write(formatDoctor(report));
  return HEALTH_EXIT_CODES[report.status];
}

const MARK: Readonly<Record<HealthStatus, string>> = { OK: 'ok      ', WARNING: 'WARNING ', CRITICAL: 'CRITICAL', UNKNOWN: 'UNKNOWN ' };
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(2)} MB`;

/** The human report: the environment in a few lines, then each symptom with its evidence and fixes. */
export function formatDoctor(report: DoctorReport): string {
  const env = report.environment;
  const lines = [`${report.status}  doctor for ${report.database}  (${report.time})`];
  if (env.exists) {
    const readBack = env.engine.readBack;
    lines.push(
      `  journal mode ${env.journalMode ?? '?'}; database ${mb(env.databaseBytes)}, WAL ${mb(env.walBytes)}` +
        `${env.walIndex ? ` (${env.walIndex.mxFrame} frames, ${env.walIndex.nBackfill} checkpointed)` : ''}; ` +
        `${env.fileSystem.freeBytes === null ? 'free space unknown' : `${mb(env.fileSystem.freeBytes)} free`}`,
      `  flags ${describeFlags(env.flags)}; workload ${env.workload}; engine busy_timeout ${env.engine.busyTimeoutMs} ms` +
        `${readBack ? `; a connection reads back cache_size ${readBack.cacheSize}, mmap_size ${readBack.mmapSize}, synchronous ${readBack.synchronous}` : ''}`,
      `  SQLite ${env.sqliteVersion} (engine); ${env.processes.length} other process${env.processes.length === 1 ? '' : 'es'} with the database open` +
        `${env.processes.length > 0 ? `: ${env.processes.map((p) => `pid ${p.pid}${p.sqlite?.version ? ` (SQLite ${p.sqlite.version})` : ''}`).join(', ')}` : ''}` +
        `; lease ${env.leaseHolders.length > 0 ? `held by pid ${env.leaseHolders.map((h) => h.pid).join(', ')}` : 'not held'}`,
    );
  }
  for (const finding of report.findings) {
    lines.push('', `[${MARK[finding.status]}] ${finding.symptom}`, `    ${finding.summary}`);
    for (const fact of finding.evidence) lines.push(`      - ${fact}`);
    if (finding.status !== 'OK') for (const fix of finding.fixes) lines.push(`    fix: ${fix}`);
  }
  return `${lines.join('\n')}\n`;
}
