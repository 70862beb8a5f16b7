/**
 * The gradual rollout: `status`, `next` and `back` over the flags file, one stability measure
 * at a time (steps.ts), each step gated by the plan's go/no-go criteria measured from the
 * database (figures.ts) against the baseline:
 *
 * - the flags file holds the flags of the current step (nobody changed them by hand);
 * - the minimum observation time has passed since the step began;
 * - a backfill ran at this step (figures need something to measure);
 * - the database passes SQLite's integrity check;
 * - after the baseline: lock errors per minute reduced by more than 90 % against the baseline
 *   (or none at all), a rollback drill passed on a copy since the step began, and rows per
 *   second at most 10 % below the baseline's.
 *
 * `next` refuses, naming each criterion that fails; `back` undoes the last step without a gate
 * (going back is the safe direction). Every step is logged with the figures that allowed it.
 * The database is only read (state.ts says why the state is a file beside the flags).
 */
import { existsSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import path from 'node:path';
import BetterSqlite3, { type Database } from 'better-sqlite3';
import { BackfillError, InvalidOptionError } from '../../errors.js';
import { loadFlags, updateFlags, type Flags } from '../../flags/index.js';
import { silentLogger, type Logger } from '../../logger.js';
import { integrityProblems } from '../inspect.js';
import { checkDatabasePath } from '../open.js';
import { resolveTableNames, type TableNames } from '../schema.js';
import { defaultDrillLogPath, type RollbackDrillResult } from './drill.js';
import { formatDuration } from './duration.js';
import { measureSince, takePoint, type MeasurePoint, type RolloutFigures } from './figures.js';
import {
  currentEntry, loadRolloutState, readDrills, rolloutStatePath, saveRolloutState, withRolloutLock, ROLLOUT_STATE_VERSION,
  type RolloutCriterion, type RolloutLogEntry, type RolloutState,
} from './state.js';
import { flagDifferences, flagsAtStep, ROLLOUT_STEPS, stepIndex, type RolloutStepName } from './steps.js';

export interface RolloutOptions {
  /** The database whose figures gate the steps. It is only read. */
  readonly database: string;
  /** The flags file the rollout moves; the state sits beside it. */
  readonly flagsPath: string;
  /** The shortest time a step must run before `next`, in ms. @default 86400000 (a day, as the plan's day-by-day rollout) */
  readonly minObservationMs?: number;
  /** The share of the baseline's lock errors per minute that must be gone: 0.9 = reduced by more than 90 %. @default 0.9 */
  readonly lockReduction?: number;
  /** The largest drop in rows per second against the baseline that still passes: 0.1 = less than 10 %. @default 0.1 */
  readonly maxDegradation?: number;
  /** Where rollback drills are recorded. @default `rollback_drills.jsonl` beside the flags file */
  readonly drillLogPath?: string;
  /** Table names, when the engine was configured with others. @default DEFAULT_TABLES */
  readonly tables?: Partial<TableNames>;
  /** @default silent */
  readonly logger?: Logger;
}

export interface ResolvedRolloutOptions {
  database: string;
  flagsPath: string;
  stateFile: string;
  minObservationMs: number;
  lockReduction: number;
  maxDegradation: number;
  drillLogPath: string;
  tables: TableNames;
  logger: Logger;
}

const OPTION_NAMES = new Set(['database', 'flagsPath', 'minObservationMs', 'lockReduction', 'maxDegradation', 'drillLogPath', 'tables', 'logger']);

export function resolveRolloutOptions(options: RolloutOptions): ResolvedRolloutOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'an object of rollout options', options);
  for (const name of Object.keys(options)) {
    if (!OPTION_NAMES.has(name)) throw new InvalidOptionError(name, `not set: rollout options are ${[...OPTION_NAMES].join(', ')}`, (options as unknown as Record<string, unknown>)[name]);
  }
  const file = (name: string, value: unknown): string => {
    if (typeof value !== 'string' || value.trim() === '') throw new InvalidOptionError(name, 'a file path', value);
    return value;
  };
  const ratio = (name: string, value: unknown, fallback: number): number => {
    const chosen = value ?? fallback;
    if (typeof chosen !== 'number' || !Number.isFinite(chosen) || chosen < 0 || chosen > 1) throw new InvalidOptionError(name, 'a ratio from 0 to 1', chosen);
    return chosen;
  };
  const minObservationMs = options.minObservationMs ?? 86_400_000;
  if (typeof minObservationMs !== 'number' || !Number.isFinite(minObservationMs) || minObservationMs < 0) {
    throw new InvalidOptionError('minObservationMs', 'a number of milliseconds of at least 0', minObservationMs);
  }
  const flagsPath = file('flagsPath', options.flagsPath);
  return {
    database: path.resolve(file('database', options.database)),
    flagsPath,
    stateFile: rolloutStatePath(flagsPath),
    minObservationMs,
    lockReduction: ratio('lockReduction', options.lockReduction, 0.9),
    maxDegradation: ratio('maxDegradation', options.maxDegradation, 0.1),
    drillLogPath: options.drillLogPath === undefined ? defaultDrillLogPath(flagsPath) : file('drillLogPath', options.drillLogPath),
    tables: resolveTableNames(options.tables),
    logger: options.logger ?? silentLogger(),
  };
}

export interface RolloutStatus {
  /** False before the first `next`. */
  started: boolean;
  stateFile: string;
  database: string;
  flagsPath: string;
  steps: readonly RolloutStepName[];
  /** The current step; null before the rollout started. */
  step: RolloutStepName | null;
  stepIndex: number | null;
  /** The step `next` would take; null at the last step. */
  nextStep: RolloutStepName | null;
  /** When the current step began. */
  since: string | null;
  /** The flags in the flags file now, and those the current step should have. */
  flags: Flags;
  expectedFlags: Flags | null;
  /** Flags changed outside the rollout (by hand, or by the emergency rollback). */
  flagDrift: Array<{ name: string; actual: boolean; expected: boolean }>;
  /** The current step's figures since it began, and the baseline's. */
  figures: RolloutFigures | null;
  baseline: RolloutFigures | null;
  /** The go/no-go criteria for `next`, as they stand now. */
  criteria: RolloutCriterion[];
  /** True when every criterion holds: `next` would go ahead. */
  ready: boolean;
  thresholds: { minObservationMs: number; lockReduction: number; maxDegradation: number };
  /** Every step taken, oldest first. */
  log: RolloutLogEntry[];
}

/** What `next` or `back` did. */
export interface RolloutTransition {
  entry: RolloutLogEntry;
  status: RolloutStatus;
}

/** `next` refused: `status.criteria` says which criteria failed; nothing was changed. */
export class RolloutRefusedError extends BackfillError {
  readonly status: RolloutStatus;
  constructor(message: string, status: RolloutStatus) {
    super('ERR_VALIDATION', message);
    this.status = status;
  }
}

function openReadOnly(database: string): Database | null {
  if (!existsSync(database)) return null;
  checkDatabasePath(database, { readonly: true });
  const db = new BetterSqlite3(database, { readonly: true, fileMustExist: true, timeout: 5000 });
  return db;
}

const percent = (ratio: number): string => `${(ratio * 100).toFixed(ratio < 0.1 && ratio > 0 ? 1 : 0)} %`;
const rate = (value: number | null, unit: string): string => (value === null ? 'n/a' : `${value.toLocaleString('en-US', { maximumFractionDigits: 2 })} ${unit}`);

/** Judges the criteria for leaving `index` given the figures. Pure: the tests and the docs follow it. */
export function judgeCriteria(input: {
  index: number;
  figures: RolloutFigures | null;
  baseline: RolloutFigures | null;
  flagDrift: RolloutStatus['flagDrift'];
  integrity: string[] | null;
  drill: RollbackDrillResult | null;
  options: Pick<ResolvedRolloutOptions, 'minObservationMs' | 'lockReduction' | 'maxDegradation'>;
}): RolloutCriterion[] {
  const { index, figures, baseline, options } = input;
  const criteria: RolloutCriterion[] = [];
  const add = (name: RolloutCriterion['name'], ok: boolean, detail: string): void => void criteria.push({ name, ok, detail });
  const last = ROLLOUT_STEPS.length - 1;
  // At the last step there is nothing to gate: the one criterion says the rollout is complete.
  if (index >= last) {
    add('last step', false, `${ROLLOUT_STEPS[last]} is the last step: the rollout is complete, every flag is on (\`rollout back\` undoes it)`);
    return criteria;
  }
  add('flags', input.flagDrift.length === 0, input.flagDrift.length === 0
    ? `the flags file holds the flags of step ${ROLLOUT_STEPS[index]}`
    : `the flags file was changed outside the rollout (${input.flagDrift.map((d) => `${d.name} is ${d.actual ? 'on' : 'off'}, expected ${d.expected ? 'on' : 'off'}`).join('; ')}): ` +
      `restore them (\`league-backfill flags ${input.flagDrift.some((d) => d.expected) ? `enable ${input.flagDrift.filter((d) => d.expected).map((d) => d.name).join(' ')}` : `disable ${input.flagDrift.map((d) => d.name).join(' ')}`}\`), or go back a step with \`rollout back\``);
  const observed = figures?.observedMs ?? 0;
  add('observation time', observed >= options.minObservationMs,
    `observed for ${formatDuration(observed)}; at least ${formatDuration(options.minObservationMs)} is needed${observed >= options.minObservationMs ? '' : ` (${formatDuration(options.minObservationMs - observed)} to go)`}`);
  const active = figures !== null && figures.jobs > 0 && figures.rows > 0;
  add('activity', active, active
    ? `${figures.jobs} job${figures.jobs === 1 ? '' : 's'} ran at this step (${figures.rows.toLocaleString('en-US')} rows in ${formatDuration(figures.activeMs)})`
    : 'no backfill has committed rows since this step began: run one (`league-backfill backfill ...`) so there is something to measure');
  if (input.integrity === null) add('integrity', false, 'the database does not exist yet: run a backfill first');
  else add('integrity', input.integrity.length === 0, input.integrity.length === 0 ? 'PRAGMA integrity_check: ok' : `PRAGMA integrity_check found problems: ${input.integrity.join('; ')}`);
  if (index === 0) return criteria;

  if (baseline === null || baseline.lockErrorsPerMinute === null) {
    add('lock errors', false, 'no baseline figures were recorded: go back to the baseline (`rollout back` until there) and run a backfill');
  } else if (figures === null || figures.lockErrorsPerMinute === null) {
    add('lock errors', false, 'no lock figures at this step yet: run a backfill');
  } else {
    const now = figures.lockErrorsPerMinute;
    const then = baseline.lockErrorsPerMinute;
    const needed = percent(options.lockReduction);
    if (now === 0) {
      add('lock errors', true, `0 per minute now (${rate(then, 'per minute')} at the baseline)`);
    } else if (then === 0) {
      add('lock errors', false, `${rate(now, 'per minute')} now, 0 at the baseline: lock errors appeared at this step (a reduction of more than ${needed} is needed)`);
    } else {
      const reduction = 1 - now / then;
      add('lock errors', reduction > options.lockReduction,
        `${rate(now, 'per minute')} now against ${rate(then, 'per minute')} at the baseline: ${reduction >= 0 ? `reduced ${percent(reduction)}` : `up ${percent(-reduction)}`}; more than ${needed} is needed`);
    }
  }
  const drill = input.drill;
  add('rollback drill', drill !== null, drill !== null
    ? `a rollback drill passed on a copy at ${drill.time} (${formatDuration(drill.durationMs)})`
    : 'no rollback drill has passed on a copy of this database since this step began: run `league-backfill rollback --drill`');
  if (baseline === null || baseline.rowsPerSecond === null) {
    add('performance', false, 'no baseline throughput was recorded: go back to the baseline and run a backfill');
  } else if (figures === null || figures.rowsPerSecond === null) {
    add('performance', false, 'no throughput at this step yet: run a backfill');
  } else {
    const degradation = 1 - figures.rowsPerSecond / baseline.rowsPerSecond;
    add('performance', degradation < options.maxDegradation,
      `${rate(figures.rowsPerSecond, 'rows/s')} against ${rate(baseline.rowsPerSecond, 'rows/s')} at the baseline: ` +
      `${degradation > 0 ? `${percent(degradation)} slower` : `${percent(-degradation)} faster`}; less than ${percent(options.maxDegradation)} slower is needed`);
  }
  return criteria;
}

interface Measured {
  state: RolloutState | null;
  status: RolloutStatus;
  drill: RollbackDrillResult | null;
}

async function measure(options: ResolvedRolloutOptions, runIntegrity: boolean): Promise<Measured> {
  const state = await loadRolloutState(options.stateFile);
  if (state !== null && path.resolve(state.database) !== options.database) {
    throw new InvalidOptionError('--db', `the database this rollout measures, ${state.database} (recorded in ${options.stateFile})`, options.database,
      'Use that --db, or move the state file aside to start a rollout for another database');
  }
  const flagsState = await loadFlags(options.flagsPath);
  const entry = currentEntry(state);
  const index = entry === null ? null : stepIndex(entry.step);
  const expected = index === null ? null : flagsAtStep(index);
  const flagDrift = expected === null ? [] : flagDifferences(flagsState.flags, expected);
  let figures: RolloutFigures | null = null;
  let integrity: string[] | null = null;
  const db = openReadOnly(options.database);
  try {
    if (entry !== null) {
      figures = db === null ? null : measureSince(db, options.database, options.tables, entry.point);
      if (figures === null) figures = emptyFigures(entry.point);
    }
    if (db !== null && runIntegrity && entry !== null) integrity = integrityProblems(db, 10);
  } finally {
    db?.close();
  }
  const since = entry?.point.at ?? null;
  const drill = since === null ? null
    : readDrills(options.drillLogPath).filter((d) => path.resolve(d.database) === options.database && d.status === 'passed' && d.time >= since).at(-1) ?? null;
  const baseline = index === 0 ? null : state?.baseline ?? null;
  const criteria = index === null ? [] : judgeCriteria({ index, figures, baseline, flagDrift, integrity, drill, options });
  const status: RolloutStatus = {
    started: state !== null,
    stateFile: options.stateFile,
    database: options.database,
    flagsPath: options.flagsPath,
    steps: ROLLOUT_STEPS,
    step: entry?.step ?? null,
    stepIndex: index,
    nextStep: index === null ? 'baseline' : ROLLOUT_STEPS[index + 1] ?? null,
    since,
    flags: flagsState.flags,
    expectedFlags: expected,
    flagDrift,
    figures,
    baseline,
    criteria,
    ready: index === null || criteria.every((criterion) => criterion.ok),
    thresholds: { minObservationMs: options.minObservationMs, lockReduction: options.lockReduction, maxDegradation: options.maxDegradation },
    log: state?.log ?? [],
  };
  return { state, status, drill };
}

function emptyFigures(point: MeasurePoint): RolloutFigures {
  const now = Date.now();
  return {
    from: point.at, to: new Date(now).toISOString(), observedMs: Math.max(0, now - Date.parse(point.at)), activeMs: 0, jobs: 0, jobsCompleted: 0, jobsFailed: 0,
    rows: 0, rowsPerSecond: null, locks: 0, lockErrorsPerMinute: null, retries: 0, batches: 0, failedBatches: 0, batchFailureRate: null, transactions: 0,
    maxHoldMs: null, avgLockWaitMs: null, maxWalBytes: null, walBytesNow: 0, checkpointsBlocked: null,
  };
}

/**
 * Where the rollout stands: the step, how long it has run, its figures against the baseline,
 * and the criteria `next` would judge (the integrity check included).
 */
export async function rolloutStatus(options: RolloutOptions): Promise<RolloutStatus> {
  const resolved = resolveRolloutOptions(options);
  return (await measure(resolved, true)).status;
}

function who(): RolloutLogEntry['by'] {
  let user: string | null = null;
  try {
    user = userInfo().username;
  } catch {
    user = null;
  }
  return { user, host: hostname(), pid: process.pid };
}

function readPoint(options: ResolvedRolloutOptions): MeasurePoint {
  const db = openReadOnly(options.database);
  try {
    if (db === null) {
      const now = Date.now();
      return { at: new Date(now).toISOString(), minute: Math.floor(now / 60_000), minuteRow: null };
    }
    return takePoint(db, options.tables);
  } finally {
    db?.close();
  }
}

/**
 * Moves the flags to `target` through the flags API, checking inside the update that the file
 * still holds `expected` (so a change made meanwhile is never overwritten), then saves the
 * state; if the state cannot be saved the flags are put back.
 */
async function transition(options: ResolvedRolloutOptions, state: RolloutState, entry: RolloutLogEntry, expected: Flags | null): Promise<void> {
  let previous: Flags | null = null;
  await updateFlags(options.flagsPath, (current) => {
    if (expected !== null) {
      const drift = flagDifferences(current, expected);
      if (drift.length > 0) {
        throw new BackfillError('ERR_VALIDATION', `The flags file ${options.flagsPath} changed while the rollout was deciding (${drift.map((d) => d.name).join(', ')}); nothing was changed, run the command again`);
      }
    }
    previous = current;
    return entry.flags;
  });
  state.log.push(entry);
  try {
    await saveRolloutState(options.stateFile, state);
  } catch (error) {
    const restore = previous;
    if (restore !== null) await updateFlags(options.flagsPath, () => restore).catch(() => undefined);
    throw error;
  }
  options.logger.info({ action: entry.action, step: entry.step, from: entry.from, flagsFile: options.flagsPath, stateFile: options.stateFile }, 'rollout step');
}

/**
 * Takes the next step. Before the rollout started this begins it at the baseline (every flag
 * off). Otherwise every criterion must hold; when one does not, rejects with a
 * `RolloutRefusedError` (code ERR_VALIDATION) that names each failing criterion, and nothing
 * is changed.
 */
export async function rolloutNext(options: RolloutOptions): Promise<RolloutTransition> {
  const resolved = resolveRolloutOptions(options);
  return withRolloutLock(resolved.stateFile, async () => {
    const { state, status, drill } = await measure(resolved, true);
    if (state === null || status.stepIndex === null) {
      const fresh: RolloutState = { version: ROLLOUT_STATE_VERSION, database: resolved.database, flagsPath: resolved.flagsPath, baseline: null, log: [] };
      const entry: RolloutLogEntry = {
        action: 'start', step: 'baseline', from: null, at: new Date().toISOString(), by: who(), flags: flagsAtStep(0),
        point: readPoint(resolved), figures: null, baseline: null, criteria: [], drill: null,
      };
      await transition(resolved, fresh, entry, null);
      return { entry, status: await rolloutStatus(options) };
    }
    const failing = status.criteria.filter((criterion) => !criterion.ok);
    if (failing.length > 0) {
      throw new RolloutRefusedError(
        `Rollout stays at step ${status.step}: ${failing.length === 1 ? 'a criterion fails' : `${failing.length} criteria fail`}: ` +
        `${failing.map((criterion) => `${criterion.name} (${criterion.detail})`).join('; ')}`,
        status,
      );
    }
    const index = status.stepIndex;
    const target = ROLLOUT_STEPS[index + 1] as RolloutStepName;
    if (index === 0) state.baseline = status.figures;
    const entry: RolloutLogEntry = {
      action: 'next', step: target, from: status.step, at: new Date().toISOString(), by: who(), flags: flagsAtStep(index + 1),
      point: readPoint(resolved), figures: status.figures, baseline: index === 0 ? null : status.baseline, criteria: status.criteria,
      drill: drill === null ? null : { time: drill.time, status: drill.status, durationMs: drill.durationMs },
    };
    await transition(resolved, state, entry, flagsAtStep(index));
    return { entry, status: await rolloutStatus(options) };
  });
}

/**
 * Undoes the last step: the flags of the step before, a fresh start for its figures, and a log
 * entry with the figures of the step undone. Not gated (going back is the safe direction), and
 * allowed when the flags were changed by hand: it sets them to exactly the previous step's.
 */
export async function rolloutBack(options: RolloutOptions): Promise<RolloutTransition> {
  const resolved = resolveRolloutOptions(options);
  return withRolloutLock(resolved.stateFile, async () => {
    const { state, status } = await measure(resolved, false);
    if (state === null || status.stepIndex === null) {
      throw new BackfillError('ERR_VALIDATION', `The rollout has not started (no ${resolved.stateFile}): there is no step to undo. \`rollout next\` begins it at the baseline`);
    }
    if (status.stepIndex === 0) {
      throw new BackfillError('ERR_VALIDATION', 'The rollout is at the baseline (every flag off): there is no step to undo');
    }
    const index = status.stepIndex;
    const entry: RolloutLogEntry = {
      action: 'back', step: ROLLOUT_STEPS[index - 1] as RolloutStepName, from: status.step, at: new Date().toISOString(), by: who(),
      flags: flagsAtStep(index - 1), point: readPoint(resolved), figures: status.figures, baseline: status.baseline, criteria: status.criteria, drill: null,
    };
    await transition(resolved, state, entry, null);
    return { entry, status: await rolloutStatus(options) };
  });
}
