import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import {
  formatResultsTable, formatWorkloadTable, InvalidOptionError, NEIGHBOUR_WAIT_LIMIT_MS, plural, renderHtmlReport, runLoadTest, runWorkloadComparison,
  WORKLOAD_FIGURES, WORKLOAD_NAMES, type LockWaitStrategy, type WorkloadComparisonReport, type WorkloadName,
} from '../../index.js';
import { printJson, type CliContext } from '../context.js';
import { addExamples, addExitCodes, withDefault } from '../help.js';
import { EXIT } from '../exit-codes.js';
import { parseChoice, parseInteger } from '../parse.js';

export const DEFAULT_REPORT_FOLDER = 'loadtest-report';
const DEFAULT_READERS = 2;
const DEFAULT_WRITERS = 1;

/** `--workloads` alone means every profile; `--workloads read-heavy,mixed` the ones named, in that order. */
export function parseWorkloadList(text: string): WorkloadName[] {
  const expected = `a comma-separated list of ${WORKLOAD_NAMES.join(', ')} (or nothing, for all three)`;
  const names = text.split(',').map((name) => name.trim());
  const unknown = names.filter((name) => !(WORKLOAD_NAMES as readonly string[]).includes(name));
  if (names.length === 0 || unknown.length > 0) {
    throw new InvalidOptionError('--workloads', expected, text, `${unknown.map((name) => (name === '' ? 'an empty name' : `"${name}"`)).join(', ')} is not a workload profile`);
  }
  const repeated = names.find((name, index) => names.indexOf(name) !== index);
  if (repeated) throw new InvalidOptionError('--workloads', `${expected}, each once`, text, `${repeated} is named twice`);
  return names as WorkloadName[];
}

export function describe(command: Command): void {
  command
    .option('--quick', 'a small workload and a short time limit: well under a minute in all (about a minute with --workloads)')
    .option('--duration <s>', `the longest each configuration may run, in seconds${withDefault('60, 8 with --quick; with --workloads 120, 20 with --quick')}`, (v) => parseInteger(v, '--duration', 1, 3600))
    .option('--readers <n>', `reader processes running analytics queries in a loop${withDefault(DEFAULT_READERS)}`, (v) => parseInteger(v, '--readers', 0, 32))
    .option('--writers <n>', `legacy writer processes (own connection, SQLite's busy handler with a 5 s timeout, deferred transactions of 20 rows every 10 ms, no retry)${withDefault(DEFAULT_WRITERS)}`,
      (v) => parseInteger(v, '--writers', 0, 32))
    .option('--leagues <n>', `demo leagues in the workload${withDefault('20, 4 with --quick')}`, (v) => parseInteger(v, '--leagues', 1, 1000))
    .option('--lock-wait <strategy>', 'how the engine waits for a lock another process holds (default: the engine\'s)',
      (v) => parseChoice(v, '--lock-wait', ['busy-timeout', 'fair-poll', 'busy-slices', 'micro-poll'] as const))
    .option('--workloads [profiles]', `compare the workload profiles instead (${WORKLOAD_NAMES.join(', ')}; a comma-separated list, default all) under a read-heavy and a write-heavy contention mix`,
      (v) => parseWorkloadList(v))
    .option('--runs <n>', `with --workloads: runs of each profile under each mix, interleaved; the figures are medians${withDefault(1)}`, (v) => parseInteger(v, '--runs', 1, 20))
    .option('--out <dir>', `folder for the reports${withDefault(DEFAULT_REPORT_FOLDER)}`, DEFAULT_REPORT_FOLDER)
    .option('--report <file>', `the JSON report${withDefault('report.json in --out; workloads.json with --workloads')}`)
    .addHelpText('after', `
Runs the configurations Baseline, PRAGMA Only, WAL Mode, Transactions, Full Stack and
Recommended in turn, each on a fresh database, while reader and legacy writer processes use
the same file, and reports for each: success rate, lock errors that reached the caller,
retries, rows/s, commit latency, memory, the readers' and legacy writers' experience
(commits, errors, waits), and rows lost, all counted in the database. A configuration that
loses rows, or makes a neighbour fail or wait past 1 s, is never recommended; the default
profile is kept when another is faster only within noise. The databases are made beside --db
when it is given (the disk to test), else in --out, and removed afterwards.

With --workloads: each workload profile (the default flags, only the workload differing) under
a read-heavy mix (3 readers, a few writes, a trickling backfill) and a write-heavy mix (the
engine at full speed, a legacy-style writer, 1 reader), on copies of one demo history: the
engine's rows/s, the readers' queries/s and p99, the neighbour writer's commits/s, p99 and
errors, lock errors, the largest WAL, and the pragmas each connection read back. One
recommendation per mix from the figures, or "within the noise" when they do not separate.`);
  addExamples(command, [
    ['npm run loadtest', 'every configuration, a few minutes'],
    ['league-backfill loadtest --quick --json', 'under a minute, one JSON object'],
    ['league-backfill loadtest --readers 4 --writers 2 --out /tmp/report', 'more contention'],
    ['league-backfill loadtest --workloads --quick', 'the workload profiles, about a minute'],
    ['league-backfill loadtest --workloads --runs 3 --report /tmp/workloads.json', 'medians of 3 interleaved runs'],
    ['league-backfill loadtest --workloads mixed,read-heavy', 'two profiles only'],
  ]);
  addExitCodes(command, [
    [0, 'the load test ran (whatever it found)'],
    [1, 'it could not run'],
    [2, 'bad option: nothing was run'],
    [130, 'stopped by Ctrl-C: no report is written'],
  ]);
}

interface LoadTestCliOptions {
  quick?: boolean;
  duration?: number;
  readers?: number;
  writers?: number;
  leagues?: number;
  lockWait?: LockWaitStrategy;
  workloads?: WorkloadName[] | true;
  runs?: number;
  out: string;
  report?: string;
}

export async function run(context: CliContext, raw: Record<string, unknown>): Promise<number> {
  const options = raw as unknown as LoadTestCliOptions;
  if (options.workloads === undefined && options.runs !== undefined) {
    throw new InvalidOptionError('--runs', 'given only with --workloads (the configurations\' load test runs each configuration once, with a noise probe)', options.runs);
  }
  if (options.workloads !== undefined) {
    for (const [name, value] of [['--readers', options.readers], ['--writers', options.writers]] as const) {
      if (value !== undefined) {
        throw new InvalidOptionError(name, 'left out with --workloads: each contention mix sets its own readers and writers (read-heavy: 3 readers, 1 writer; write-heavy: 1 reader, 1 writer)', value);
      }
    }
  }
  const out = resolve(options.out);
  // The databases go where the real one lives when the user named it: that disk is the one to test.
  const folder = context.databaseIsDefault ? out : dirname(resolve(context.databasePath));
  if (!context.databaseIsDefault && !existsSync(folder)) {
    throw new InvalidOptionError('--db', 'a path in an existing folder (the load test makes its databases beside it)', context.databasePath);
  }
  const reportPath = options.report === undefined ? undefined : resolve(options.report);
  if (reportPath !== undefined && !existsSync(dirname(reportPath))) {
    throw new InvalidOptionError('--report', 'a file in an existing folder', options.report);
  }
  mkdirSync(out, { recursive: true });
  if (options.workloads !== undefined) return runWorkloads(context, options, folder, reportPath ?? join(out, 'workloads.json'));

  const report = await runLoadTest({
    folder,
    quick: options.quick ?? false,
    readers: options.readers ?? DEFAULT_READERS,
    writers: options.writers ?? DEFAULT_WRITERS,
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
  const jsonPath = reportPath ?? join(out, 'report.json');
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

async function runWorkloads(context: CliContext, options: LoadTestCliOptions, folder: string, jsonPath: string): Promise<number> {
  const report = await runWorkloadComparison({
    folder,
    quick: options.quick ?? false,
    signal: context.signal,
    ...(options.workloads !== true && options.workloads !== undefined ? { profiles: options.workloads } : {}),
    ...(options.runs !== undefined ? { runs: options.runs } : {}),
    ...(options.duration !== undefined ? { durationS: options.duration } : {}),
    ...(options.leagues !== undefined ? { leagues: options.leagues } : {}),
    ...(options.lockWait ? { lockWait: options.lockWait } : {}),
    onProgress: ({ mix, profile, round, index, of, probe, figures }) => {
      const name = `${profile} under the ${mix} mix${probe ? ' (noise probe)' : round > 0 ? `, run ${round}` : ''}`;
      if (figures) {
        context.logger.info({ mix, profile, round, rowsPerSecond: figures.engineRowsPerSecond, readerQueriesPerSecond: figures.readerQueriesPerSecond, writerCommitsPerSecond: figures.writerCommitsPerSecond }, `${name} done`);
      } else {
        context.logger.info({ mix, profile, round }, `run ${index + 1} of ${of}: ${name}`);
      }
    },
  });
  writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  if (context.json) printJson(context, { ...report, reports: { json: jsonPath } });
  else context.stdout.write(formatWorkloadReport(report, jsonPath));
  return EXIT.ok;
}

const MIB = 1024 * 1024;
const pct = (value: number): string => `${Math.round(value * 100)} %`;

function describePragmas(p: { cacheSize: number; mmapSize: number; tempStore: number; synchronous: number; walAutocheckpoint: number }): string {
  const cache = p.cacheSize < 0 ? `${Math.round(-p.cacheSize / 1024)} MiB` : `${p.cacheSize} pages`;
  const temp = ['default', 'file', 'memory'][p.tempStore] ?? String(p.tempStore);
  const sync = ['OFF', 'NORMAL', 'FULL', 'EXTRA'][p.synchronous] ?? String(p.synchronous);
  return `cache ${cache}, mmap ${p.mmapSize >= MIB ? `${Math.round(p.mmapSize / MIB)} MiB` : p.mmapSize}, temp_store ${temp}, synchronous ${sync}, wal_autocheckpoint ${p.walAutocheckpoint}`;
}

/** The text report: the settings, the table, what the neighbours and pragmas came to, the noise and the verdicts. */
export function formatWorkloadReport(report: WorkloadComparisonReport, jsonPath: string): string {
  const { settings } = report;
  const lines: string[] = [];
  lines.push(`Workload profiles ${settings.profiles.join(', ')} under ${plural(settings.mixes.length, 'contention mix', 'contention mixes')}, ` +
    `${plural(settings.runs, 'run')} of each (interleaved${settings.runs === 1 && settings.profiles.length > 1 ? '; a noise probe first in each mix' : ''}), ` +
    `each on a fresh copy of a ${settings.historyRows.toLocaleString('en-US')}-row demo history; flags: ${settings.flags.join(', ')}`);
  for (const mix of settings.mixes) {
    lines.push(`  ${mix.name} mix: ${mix.description}; the engine backfills ${plural(mix.jobs, 'job')} (${plural(mix.rowsOffered, 'row')})`);
  }
  lines.push('', formatWorkloadTable(report.cells), '');
  const troubled = report.cells.filter((cell) => cell.problems.length > 0 || cell.rowsLost > 0);
  lines.push(troubled.length === 0
    ? `Neighbours: no error in any run, the neighbour writer's longest wait under ${NEIGHBOUR_WAIT_LIMIT_MS / 1000} s in the median run, no rows lost.`
    : `Neighbours (a profile that makes one fail in any run, or the writer wait past ${NEIGHBOUR_WAIT_LIMIT_MS / 1000} s in the median run, is not recommended):\n${troubled.map((cell) => `  ${cell.mix} / ${cell.profile}: ${[...(cell.rowsLost > 0 ? [`${cell.rowsLost} rows lost`] : []), ...cell.problems].join('; ')}`).join('\n')}`);
  lines.push('Pragmas read back from SQLite (engine | readers):');
  for (const profile of settings.profiles) {
    const cell = report.cells.find((c) => c.profile === profile);
    if (!cell) continue;
    const readers = [...new Set(cell.pragmas.readers.map(describePragmas))];
    lines.push(`  ${profile.padEnd(11)}  ${describePragmas(cell.pragmas.engine)} | ${readers.join('; ') || 'none reported'}`);
  }
  for (const cell of report.cells.filter((c) => !c.pragmasInForce)) lines.push(`  NOT in force, ${cell.mix} / ${cell.profile}: ${cell.pragmaProblems.join('; ')}`);
  lines.push('', `Noise (${settings.runs > 1 ? 'the largest spread between the runs of one profile' : 'the probe and its profile\'s run, apart'}; at least ${pct(settings.noiseFloor)}):`);
  for (const mix of settings.mixes) {
    const noise = report.noise[mix.name];
    lines.push(`  ${mix.name} mix: ${WORKLOAD_FIGURES[mix.decidingFigure].label} ${pct(noise.measured[mix.decidingFigure])} (used ${pct(noise.used[mix.decidingFigure])}), ` +
      `${WORKLOAD_FIGURES[mix.secondFigure].label} ${pct(noise.measured[mix.secondFigure])}`);
  }
  lines.push('');
  for (const verdict of report.verdicts) lines.push(`Under the ${verdict.mix} mix: ${verdict.recommendation}`);
  lines.push('', `Load average (1 min): ${report.loadAverage.start[0]} at the start, ${report.loadAverage.end[0]} at the end; ${report.machine.cpus} CPUs.`);
  lines.push(`Report: ${jsonPath}`, '');
  return lines.join('\n');
}
