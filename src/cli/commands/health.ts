/**
 * `health`: database health against thresholds, with the exit codes of monitoring plugins
 * (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN), once or every few seconds with `--watch`. Reads
 * only, through read-only connections (pooled when `connection_pooling` is on).
 */
import type { Command } from 'commander';
import {
  appendHealthHistory,
  BackfillError,
  checkHealth,
  DEFAULT_FLAGS,
  DEFAULT_HEALTH_THRESHOLDS,
  defaultHistoryPath,
  describeHolders,
  HEALTH_EXIT_CODES,
  InvalidOptionError,
  loadFlags,
  ReadPool,
  resolveHealthThresholds,
  watchHealth,
  worseStatus,
  type Flags,
  type WorkloadName,
  type HealthSample,
  type HealthThresholds,
} from '../../index.js';
import { printJson, type CliContext } from '../context.js';
import { parseInteger, parseNumber } from '../parse.js';

/**
 * Bad usage of `health` exits 3 (UNKNOWN), not 2: monitoring systems read 2 as CRITICAL, and
 * a mistyped check must not page anyone as if the database were failing.
 */
export const USAGE_EXIT_CODE = HEALTH_EXIT_CODES.UNKNOWN;

const MB = 1024 * 1024;

export function describe(command: Command): void {
  // Values are checked in run(), so that a bad one exits 3 like every other UNKNOWN.
  command
    .option('--watch', 'keep sampling every --interval seconds, appending each sample to the history file')
    .option('--interval <seconds>', 'seconds between samples with --watch (0.05-86400, default 10)')
    .option('--count <n>', 'with --watch: stop after n samples (default: until Ctrl-C)')
    .option('--history <file>', 'append each sample as one JSON line to this file (default with --watch: health_history.jsonl beside the database)')
    .option('--lock-warning <n>', 'locks per minute above which the status is WARNING (default 5)')
    .option('--lock-critical <n>', 'locks per minute above which the status is CRITICAL (default 10)')
    .option('--failure-warning <percent>', 'batch failure rate in % over 5 minutes above which the status is WARNING (default 1)')
    .option('--failure-critical <percent>', 'batch failure rate in % above which the status is CRITICAL (default 5)')
    .option('--latency-warning <ms>', 'probe query latency above which the status is WARNING (default 100)')
    .option('--latency-critical <ms>', 'probe query latency above which the status is CRITICAL (default 1000)')
    .option('--wal-warning-mb <n>', 'WAL size in MB above which the status is WARNING (default 100)')
    .option('--wal-critical-mb <n>', 'WAL size in MB above which the status is CRITICAL (default 1024)')
    .allowUnknownOption()
    .allowExcessArguments()
    .addHelpText('after', `
Exit codes (the monitoring-plugin convention, also for --watch: the status of the last sample):
  0 OK, 1 WARNING, 2 CRITICAL,
  3 UNKNOWN: no database at --db, a file that is not a database, or a bad option of health.

Reads only: health opens read-only connections and never writes to the database. Lock rate
and failure rate come from the writer_metrics table the writer keeps; lock holders are read
from /proc/locks (Linux).

Examples:
  league-backfill health --db data/league_analytics.db
  league-backfill health --json
  league-backfill health --watch --interval 30 --history /var/log/league/health.jsonl`);
}

interface HealthCommandOptions {
  watch: boolean;
  intervalMs: number;
  count: number | undefined;
  history: string | undefined;
  thresholds: HealthThresholds;
}

/** The raw option values checked one by one; a bad one is an `InvalidOptionError` naming it. */
function parseOptions(options: Record<string, unknown>, args: string[]): HealthCommandOptions {
  if (args.length > 0) {
    const word = args[0] ?? '';
    throw new InvalidOptionError(word.startsWith('-') ? 'option' : 'argument', word.startsWith('-') ? 'an option of health (see health --help)' : 'nothing: health takes no arguments', word);
  }
  const text = (name: string): string | undefined => {
    const value = options[name];
    if (value === undefined) return undefined;
    if (typeof value !== 'string') throw new InvalidOptionError(`--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, 'a value', value);
    return value;
  };
  const number = (name: string, flag: string, min: number, max: number): number | undefined => {
    const value = text(name);
    return value === undefined ? undefined : parseNumber(value, flag, min, max);
  };
  const watch = options.watch === true;
  const interval = number('interval', '--interval', 0.05, 86_400);
  const countText = text('count');
  const count = countText === undefined ? undefined : parseInteger(countText, '--count', 1, 10_000_000);
  if (!watch && interval !== undefined) throw new InvalidOptionError('--interval', 'used with --watch', interval, 'Add --watch to keep sampling');
  if (!watch && count !== undefined) throw new InvalidOptionError('--count', 'used with --watch', count, 'Add --watch to keep sampling');
  const history = text('history');
  if (history !== undefined && history.trim() === '') throw new InvalidOptionError('--history', 'a file path', history);

  const thresholds: Partial<Record<keyof HealthThresholds, number>> = {};
  const set = (key: keyof HealthThresholds, value: number | undefined): void => {
    if (value !== undefined) thresholds[key] = value;
  };
  set('locksPerMinuteWarning', number('lockWarning', '--lock-warning', 0, 1e9));
  set('locksPerMinuteCritical', number('lockCritical', '--lock-critical', 0, 1e9));
  const percent = (value: number | undefined): number | undefined => (value === undefined ? undefined : value / 100);
  set('failureRateWarning', percent(number('failureWarning', '--failure-warning', 0, 100)));
  set('failureRateCritical', percent(number('failureCritical', '--failure-critical', 0, 100)));
  set('latencyWarningMs', number('latencyWarning', '--latency-warning', 0, 3_600_000));
  set('latencyCriticalMs', number('latencyCritical', '--latency-critical', 0, 3_600_000));
  const mb = (value: number | undefined): number | undefined => (value === undefined ? undefined : Math.round(value * MB));
  set('walWarningBytes', mb(number('walWarningMb', '--wal-warning-mb', 0, 1e9)));
  set('walCriticalBytes', mb(number('walCriticalMb', '--wal-critical-mb', 0, 1e9)));

  // Name the command-line options, not the library's fields, when a warning is above its critical.
  const merged = { ...DEFAULT_HEALTH_THRESHOLDS, ...thresholds };
  const pairs: ReadonlyArray<readonly [keyof HealthThresholds, keyof HealthThresholds, string, string, number]> = [
    ['locksPerMinuteWarning', 'locksPerMinuteCritical', '--lock-warning', '--lock-critical', 1],
    ['failureRateWarning', 'failureRateCritical', '--failure-warning', '--failure-critical', 100],
    ['latencyWarningMs', 'latencyCriticalMs', '--latency-warning', '--latency-critical', 1],
    ['walWarningBytes', 'walCriticalBytes', '--wal-warning-mb', '--wal-critical-mb', 1 / MB],
  ];
  for (const [warning, critical, warningFlag, criticalFlag, scale] of pairs) {
    if (merged[warning] > merged[critical]) {
      throw new InvalidOptionError(warningFlag, `at most ${criticalFlag} (${merged[critical] * scale})`, merged[warning] * scale);
    }
  }
  return { watch, intervalMs: Math.round((interval ?? 10) * 1000), count, history, thresholds: resolveHealthThresholds(thresholds) };
}

export async function run(context: CliContext, options: Record<string, unknown>, args: string[]): Promise<number> {
  let parsed: HealthCommandOptions;
  try {
    parsed = parseOptions(options, args);
  } catch (error) {
    if (!(error instanceof BackfillError)) throw error;
    context.stderr.write(`league-backfill health: ${error.message}\n(run health --help for usage; bad usage exits ${USAGE_EXIT_CODE}, UNKNOWN)\n`);
    if (context.json) context.stdout.write(`${JSON.stringify({ status: 'UNKNOWN', error: { code: error.code, message: error.message } })}\n`);
    return USAGE_EXIT_CODE;
  }

  // A broken flags file stops the engine from starting: worth a WARNING, but health can still look with the defaults.
  let flags: Flags = DEFAULT_FLAGS;
  let workload: WorkloadName = 'mixed';
  let flagsProblem: string | undefined;
  try {
    ({ flags, workload } = await loadFlags(context.flagsPath));
  } catch (error) {
    if (!(error instanceof BackfillError)) throw error;
    flagsProblem = `${error.message} Health used the default flags; the engine will not start until the file is fixed.`;
  }

  const path = context.databasePath;
  // With connection_pooling on, reads go through a pool (one connection is all a health check needs).
  let pool: ReadPool | undefined;
  if (flags.connection_pooling) {
    try {
      pool = new ReadPool({ path, flags, workload, min: 1, max: 1, busyTimeoutMs: Math.ceil(parsed.thresholds.latencyCriticalMs), logger: context.logger });
    } catch {
      pool = undefined; // the database is missing or unreadable: checkHealth finds and reports why
    }
  }
  const amend = (sample: HealthSample): HealthSample => {
    if (flagsProblem !== undefined) {
      sample.problems.push(flagsProblem);
      sample.status = worseStatus(sample.status, 'WARNING');
    }
    return sample;
  };
  const historyFile = parsed.history ?? (parsed.watch ? defaultHistoryPath(path) : undefined);
  let historyFailed = false;
  const record = (sample: HealthSample): void => {
    if (historyFile === undefined) return;
    try {
      appendHealthHistory(historyFile, sample);
    } catch (error) {
      if (!historyFailed) context.stderr.write(`league-backfill health: cannot append to the history file ${historyFile}: ${(error as Error).message}\n`);
      historyFailed = true;
    }
  };

  try {
    if (!parsed.watch) {
      const sample = amend(await checkHealth({ path, flags, workload, pool, thresholds: parsed.thresholds, logger: context.logger }));
      record(sample);
      if (context.json) printJson(context, sample);
      else context.stdout.write(formatHealthSample(sample));
      return HEALTH_EXIT_CODES[sample.status];
    }
    let last: HealthSample | undefined;
    const samples = watchHealth({
      path,
      flags,
      workload,
      pool,
      thresholds: parsed.thresholds,
      intervalMs: parsed.intervalMs,
      logger: context.logger,
      signal: context.signal,
      ...(parsed.count !== undefined ? { count: parsed.count } : {}),
    });
    if (!context.json) context.stdout.write(`Watching ${path} every ${parsed.intervalMs / 1000} s${historyFile ? `, history in ${historyFile}` : ''} (Ctrl-C to stop)\n`);
    for await (const taken of samples) {
      const sample = amend(taken);
      last = sample;
      record(sample);
      if (context.json) context.stdout.write(`${JSON.stringify(sample)}\n`);
      else context.stdout.write(formatWatchLine(sample));
    }
    return HEALTH_EXIT_CODES[last?.status ?? 'UNKNOWN'];
  } finally {
    await pool?.close();
  }
}

const mb = (bytes: number | null): string => (bytes === null ? '?' : `${Number.isInteger(bytes / MB) ? bytes / MB : (bytes / MB).toFixed(2)} MB`);
const num = (value: number | null, digits = 1): string => (value === null ? '?' : value.toFixed(digits));
const pct = (ratio: number | null, digits = 2): string => (ratio === null ? '?' : `${(ratio * 100).toFixed(digits)} %`);

/** The human report of one sample: status line, problems, then every figure with its thresholds. */
export function formatHealthSample(sample: HealthSample): string {
  const t = sample.thresholds;
  const lines = [`${sample.status}  ${sample.database}  (${sample.time})`];
  for (const problem of sample.problems) lines.push(`  ! ${problem}`);
  if (sample.journalMode !== null) {
    lines.push(
      `  journal mode       ${sample.journalMode}`,
      sample.walUncheckpointedBytes === null
        ? `  WAL                ${mb(sample.walBytes)}  (warning above ${mb(t.walWarningBytes)}, critical above ${mb(t.walCriticalBytes)})`
        : `  WAL                ${mb(sample.walUncheckpointedBytes)} not yet checkpointed, in a file of ${mb(sample.walBytes)}  (warning above ${mb(t.walWarningBytes)}, critical above ${mb(t.walCriticalBytes)})`,
      `  database           ${mb(sample.databaseBytes)}: ${sample.pageCount} pages of ${sample.pageSize} bytes, ${sample.freePages} free (fragmentation ${pct(sample.fragmentation, 1)})`,
      sample.locksPerMinute1 === null
        ? '  locks per minute   no writer_metrics table yet (no backfill has run on this database)'
        : `  locks per minute   ${num(sample.locksPerMinute1)} in the last minute, ${num(sample.locksPerMinute5)} on average over 5  (warning above ${t.locksPerMinuteWarning}, critical above ${t.locksPerMinuteCritical})`,
      sample.batchFailureRate === null
        ? '  batch failures     no writer_metrics table yet'
        : `  batch failures     ${pct(sample.batchFailureRate)} over 5 minutes  (warning above ${pct(t.failureRateWarning)}, critical above ${pct(t.failureRateCritical)})`,
      `  probe latency      ${num(sample.probeLatencyMs, 2)} ms  (warning above ${t.latencyWarningMs} ms, critical above ${t.latencyCriticalMs} ms)`,
    );
  }
  if (sample.journalMode !== null || sample.lockHolders.length > 0) lines.push(...holderLines(sample));
  if (sample.exists) lines.push(...neighbourLines(sample));
  return `${lines.join('\n')}\n`;
}

/** The engine's SQLite, the writer and its lease, a WAL pin, the other processes with the file open, and recent alerts. */
/** A command line on one line: arguments may hold newlines (`python3 -c "..."`). */
const fold = (command: string | null | undefined): string => (command ?? '').replace(/\s+/g, ' ').trim();

function neighbourLines(sample: HealthSample): string[] {
  const lines = [`  sqlite             ${sample.sqliteVersion}${sample.sqliteAffected ? ' (has the WAL-reset bug: see above)' : ' (not affected by the WAL-reset bug)'}`];
  const writer = sample.writer;
  if (writer === null) {
    lines.push('  writer             none (no engine holds the lease)');
  } else {
    const holder = writer.leaseHolders[0];
    const recorded = writer.recorded;
    const running = holder !== undefined
      ? `pid ${holder.pid}${holder.command ? ` (${fold(holder.command)})` : ''} holds the lease`
      : 'nobody holds the lease now';
    const note = recorded === null ? '' : `; last recorded: pid ${recorded.pid ?? '?'}${recorded.startedAt ? ` since ${recorded.startedAt}` : ''}${recorded.alive === false ? ' (no longer running)' : ''}`;
    lines.push(`  writer             ${running}${note}`);
  }
  const pin = sample.walPin;
  lines.push(pin === null
    ? '  WAL pin            none'
    : `  WAL pin            pid ${pin.pid ?? '?'}${pin.command ? ` (${fold(pin.command)})` : ''}${pin.since ? ` since ${pin.since}` : ''}${pin.alive === false ? ' (that process has ended)' : ''}`);
  if (sample.processes.length === 0) {
    lines.push('  other processes    none have the database open');
  } else {
    sample.processes.forEach((other, index) => {
      const library = other.sqlite === null ? 'no SQLite library found in its maps'
        : other.sqlite.version === null ? `SQLite from ${other.sqlite.path}, version unknown`
          : `SQLite ${other.sqlite.version} (${other.sqlite.path})`;
      lines.push(`  ${index === 0 ? 'other processes' : '               '}    pid ${other.pid} (${fold(other.command) || 'command unknown'}): ${other.files.join(', ')} open; ${library}`);
    });
  }
  if (sample.recentAlerts.length === 0) {
    lines.push('  alerts             none in the last 10 minutes');
  } else {
    sample.recentAlerts.slice(0, 5).forEach((alert, index) => {
      lines.push(`  ${index === 0 ? 'alerts' : '      '}             ${alert.at} ${alert.level}: ${alert.message}`);
    });
    if (sample.recentAlerts.length > 5) lines.push(`                     ... and ${sample.recentAlerts.length - 5} more (health --json lists them)`);
  }
  return lines;
}

function holderLines(sample: HealthSample): string[] {
  const pids = [...new Set(sample.lockHolders.map((holder) => holder.pid))];
  if (pids.length === 0) return ['  lock holders       none (no other process holds a lock on the file)'];
  return pids.map((pid, index) => `  ${index === 0 ? 'lock holders' : '            '}       ${describeHolders(sample.lockHolders.filter((holder) => holder.pid === pid).map((holder) => ({ ...holder, command: fold(holder.command) })))}`);
}

/** One line per sample for --watch, then its problems and write-lock holders. */
export function formatWatchLine(sample: HealthSample): string {
  const figures = sample.journalMode === null
    ? ''
    : `  locks/min ${num(sample.locksPerMinute1)}  failures ${pct(sample.batchFailureRate)}  latency ${num(sample.probeLatencyMs, 2)} ms  WAL ${mb(sample.walBytes)}`;
  const lines = [`${sample.time}  ${sample.status.padEnd(8)}${figures}`];
  for (const problem of sample.problems) lines.push(`  ! ${problem}`);
  const writers = sample.lockHolders.filter((h) => h.lock === 'write' || h.lock === 'reserved' || h.lock === 'pending' || h.lock === 'exclusive');
  if (writers.length > 0) lines.push(`  ${describeHolders(writers.map((holder) => ({ ...holder, command: fold(holder.command) })))}`);
  return `${lines.join('\n')}\n`;
}
