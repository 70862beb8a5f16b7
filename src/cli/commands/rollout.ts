/**
 * `rollout status|next|back`: the gradual rollout of the flags, one step at a time, each step
 * gated by measured go/no-go criteria. Over the public API only.
 */
import type { Command } from 'commander';
import {
  describeFlags, formatDuration, InvalidOptionError, parseDuration, ROLLOUT_STEPS, rolloutBack, rolloutNext, RolloutRefusedError, rolloutStatus,
  type RolloutFigures, type RolloutLogEntry, type RolloutOptions, type RolloutStatus,
} from '../../index.js';
import { printJson, type CliContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { parseNumber } from '../parse.js';

const ACTIONS = ['status', 'next', 'back'] as const;

export function describe(command: Command): void {
  command
    .argument('[action]', `one of ${ACTIONS.join(', ')}`, 'status')
    .option('--min-observation <duration>', 'how long a step must run before `next` (e.g. 2s, 30m, 24h, 7d; default 24h)')
    .option('--lock-reduction <percent>', 'lock errors per minute must be reduced by more than this against the baseline (default 90)')
    .option('--max-degradation <percent>', 'rows per second may be at most this much below the baseline (default 10)')
    .addHelpText('after', `
Steps: ${ROLLOUT_STEPS.join(' -> ')}

  status  where the rollout is, how long this step has run, its figures since it began against
          the baseline, and the go/no-go criteria for the next step
  next    take the next step when every criterion holds (the first time: start at the
          baseline, every flag off); otherwise refuse and name the failing criteria (exit 1)
  back    undo the last step (the emergency \`rollback\` stays the all-at-once exit)

Criteria: the flags file holds this step's flags; the minimum observation time has passed; a
backfill ran at this step; the integrity check passes; and after the baseline: lock errors per
minute reduced by more than 90 % against the baseline, a rollback drill passed on a copy
(\`rollback --drill\`) since the step began, rows per second less than 10 % below the baseline.

The state and the log of every step, with the figures that allowed it, are kept beside the
flags file (feature_flags.rollout.json); the database is only read.

Examples:
  league-backfill rollout next                       # start: every flag off, collect a baseline
  league-backfill backfill --league 423.l.12345 --seasons 2019-2024
  league-backfill rollout status
  league-backfill rollback --drill
  league-backfill rollout next --min-observation 24h
  league-backfill rollout back`);
}

function parseOptions(context: CliContext, raw: Record<string, unknown>, args: string[]): { action: (typeof ACTIONS)[number]; options: RolloutOptions } {
  const [action = 'status', ...rest] = args;
  if (!(ACTIONS as readonly string[]).includes(action)) throw new InvalidOptionError('rollout action', `one of ${ACTIONS.join(', ')}`, action);
  if (rest.length > 0) throw new InvalidOptionError(`rollout ${action}`, 'no further arguments', rest.join(' '));
  const text = (name: string): string | undefined => (typeof raw[name] === 'string' ? raw[name] : undefined);
  const minObservation = text('minObservation');
  const lockReduction = text('lockReduction');
  const maxDegradation = text('maxDegradation');
  return {
    action: action as (typeof ACTIONS)[number],
    options: {
      database: context.databasePath,
      flagsPath: context.flagsPath,
      logger: context.logger,
      ...(minObservation !== undefined ? { minObservationMs: parseDuration(minObservation, '--min-observation') } : {}),
      ...(lockReduction !== undefined ? { lockReduction: parseNumber(lockReduction, '--lock-reduction', 0, 100) / 100 } : {}),
      ...(maxDegradation !== undefined ? { maxDegradation: parseNumber(maxDegradation, '--max-degradation', 0, 100) / 100 } : {}),
    },
  };
}

export async function run(context: CliContext, raw: Record<string, unknown>, args: string[]): Promise<number> {
  const { action, options } = parseOptions(context, raw, args);
  if (action === 'status') {
    const status = await rolloutStatus(options);
    if (context.json) printJson(context, { action, status });
    else context.stdout.write(formatStatus(status));
    return EXIT.ok;
  }
  try {
    const { entry, status } = action === 'next' ? await rolloutNext(options) : await rolloutBack(options);
    if (context.json) printJson(context, { action, entry, status });
    else context.stdout.write(`${formatEntry(entry)}\n${formatStatus(status)}`);
    return EXIT.ok;
  } catch (error) {
    if (!(error instanceof RolloutRefusedError)) throw error;
    context.stderr.write(`league-backfill: ${error.message}\n`);
    if (context.json) printJson(context, { action, error: { code: error.code, message: error.message }, status: error.status });
    else context.stdout.write(`REFUSED: the rollout stays at ${error.status.step}.\n${formatStatus(error.status)}`);
    return EXIT.failed;
  }
}

const number = (value: number | null, digits = 1, unit = ''): string =>
  value === null ? 'n/a' : `${value.toLocaleString('en-US', { maximumFractionDigits: digits })}${unit}`;
const percentOf = (ratio: number | null): string => (ratio === null ? 'n/a' : `${(ratio * 100).toFixed(2)} %`);
const megabytes = (bytes: number | null): string => (bytes === null ? 'n/a' : `${(bytes / 1024 / 1024).toFixed(2)} MB`);

/** The figures of the baseline and of the current step side by side. */
export function formatFigures(baseline: RolloutFigures | null, now: RolloutFigures | null, nowLabel: string): string[] {
  const rows: Array<[string, (f: RolloutFigures) => string]> = [
    ['lock errors / min', (f) => number(f.lockErrorsPerMinute, 2)],
    ['lock errors', (f) => number(f.locks, 0)],
    ['batch failure rate', (f) => percentOf(f.batchFailureRate)],
    ['failed batches', (f) => number(f.failedBatches, 0)],
    ['longest lock hold', (f) => number(f.maxHoldMs, 1, ' ms')],
    ['lock wait / commit', (f) => number(f.avgLockWaitMs, 2, ' ms')],
    ['rows / s', (f) => number(f.rowsPerSecond, 0)],
    ['rows', (f) => number(f.rows, 0)],
    ['jobs (ok / failed)', (f) => `${f.jobs} (${f.jobsCompleted} / ${f.jobsFailed})`],
    ['time backfilling', (f) => formatDuration(f.activeMs)],
    ['WAL max / now', (f) => `${megabytes(f.maxWalBytes)} / ${megabytes(f.walBytesNow)}`],
  ];
  // Without a baseline to compare with (at the baseline itself), one column.
  const lines = [`    ${''.padEnd(20)}${baseline === null ? '' : 'baseline'.padEnd(22)}${nowLabel}`];
  for (const [label, pick] of rows) {
    lines.push(`    ${label.padEnd(20)}${baseline === null ? '' : pick(baseline).padEnd(22)}${now === null ? '-' : pick(now)}`);
  }
  return lines;
}

export function formatStatus(status: RolloutStatus): string {
  const lines: string[] = [`Rollout of ${status.flagsPath}, measured on ${status.database} (state ${status.stateFile})`];
  if (!status.started || status.stepIndex === null) {
    lines.push('  not started. `league-backfill rollout next` begins it at the baseline: every flag off, then run backfills to collect the baseline figures.');
    lines.push(`  steps: ${ROLLOUT_STEPS.join(' -> ')}`);
    return `${lines.join('\n')}\n`;
  }
  lines.push(`  step ${status.stepIndex + 1} of ${ROLLOUT_STEPS.length}: ${status.step}, since ${status.since} (${formatDuration(status.figures?.observedMs ?? 0)})`);
  lines.push(`  flags: ${describeFlags(status.flags)}`);
  if (status.flagDrift.length > 0) lines.push(`  ! the flags file differs from this step: ${status.flagDrift.map((d) => `${d.name} ${d.actual ? 'on' : 'off'} (expected ${d.expected ? 'on' : 'off'})`).join(', ')}`);
  lines.push('  figures since this step began:');
  lines.push(...formatFigures(status.stepIndex === 0 ? null : status.baseline, status.figures, status.step ?? 'now'));
  lines.push(status.nextStep === null ? '  go/no-go (the rollout is complete):' : `  go/no-go for next (${status.nextStep}):`);
  for (const criterion of status.criteria) lines.push(`    [${criterion.ok ? 'ok  ' : 'FAIL'}] ${criterion.name}: ${criterion.detail}`);
  lines.push(status.ready ? '  every criterion holds: `rollout next` takes the step.' : '  `rollout next` refuses until every criterion holds; `rollout back` undoes the last step.');
  if (status.log.length > 0) {
    lines.push('  log:');
    for (const entry of status.log.slice(-10)) lines.push(`    ${entry.at}  ${entry.action.padEnd(5)}  ${entry.from ?? '-'} -> ${entry.step}${entry.figures?.lockErrorsPerMinute != null ? `  (left at ${number(entry.figures.lockErrorsPerMinute, 2)} lock errors/min, ${number(entry.figures.rowsPerSecond, 0)} rows/s)` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}

export function formatEntry(entry: RolloutLogEntry): string {
  const title = entry.action === 'start'
    ? 'Rollout started at the baseline: every flag off. Run backfills now to collect the baseline figures.'
    : entry.action === 'next'
      ? `Step taken: ${entry.from} -> ${entry.step}. Flags now: ${describeFlags(entry.flags)}.`
      : `Step undone: ${entry.from} -> ${entry.step}. Flags now: ${describeFlags(entry.flags)}.`;
  const lines = [title];
  if (entry.figures !== null) {
    lines.push(`  figures of ${entry.from} that ${entry.action === 'next' ? 'allowed the step' : 'it ended with'}:`);
    lines.push(...formatFigures(entry.baseline, entry.figures, entry.from ?? ''));
  }
  if (entry.action === 'next' && entry.criteria.length > 0) {
    for (const criterion of entry.criteria) lines.push(`    [${criterion.ok ? 'ok  ' : 'FAIL'}] ${criterion.name}: ${criterion.detail}`);
  }
  return `${lines.join('\n')}\n`;
}
