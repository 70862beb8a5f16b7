/**
 * Where a rollout keeps its state: a JSON file beside the flags file it moves
 * (`feature_flags.json` -> `feature_flags.rollout.json`), saved atomically (temporary file,
 * fsync, rename), with every step taken, the figures that allowed it, and its start point.
 *
 * Why a file beside the flags and not a table in the database:
 * - the rollout's subject is the flags file: the production and test databases of one folder
 *   share it, so one rollout per flags file is what keeps two rollouts from moving the same
 *   flags in different directions;
 * - `rollout` then only ever reads the database. It can run beside a live backfill at any step
 *   without taking the write lock, and at the baseline (no busy timeout, no retries) its own
 *   write could have failed the very batches whose lock errors it measures.
 * The database the figures come from is recorded in the file; another `--db` is refused.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { BackfillError, describe } from '../../errors.js';
import type { Flags } from '../../flags/index.js';
import { processAlive } from '../processes.js';
import type { RollbackDrillResult } from './drill.js';
import type { MeasurePoint, RolloutFigures } from './figures.js';
import { ROLLOUT_STEPS, type RolloutStepName } from './steps.js';

export const ROLLOUT_STATE_VERSION = 1;

/** A go/no-go criterion as it was judged. */
export interface RolloutCriterion {
  name: 'flags' | 'observation time' | 'activity' | 'lock errors' | 'integrity' | 'rollback drill' | 'performance' | 'last step';
  ok: boolean;
  detail: string;
}

/** One entry of the rollout's log. */
export interface RolloutLogEntry {
  /** `start`: the rollout began at the baseline; `next`: a step forward; `back`: the last step undone. */
  action: 'start' | 'next' | 'back';
  /** The step in force after this entry. */
  step: RolloutStepName;
  /** The step left. */
  from: RolloutStepName | null;
  at: string;
  by: { user: string | null; host: string; pid: number };
  /** The flags saved. */
  flags: Flags;
  /** Where the new step's figures start. */
  point: MeasurePoint;
  /** The figures of the step left, over its whole time (null for `start`). */
  figures: RolloutFigures | null;
  /** The baseline they were judged against (null at and before the baseline). */
  baseline: RolloutFigures | null;
  /** The criteria as judged (for `next`: all passed; `back` is not gated but records them too). */
  criteria: RolloutCriterion[];
  /** The drill that satisfied the drill criterion, when one did. */
  drill: Pick<RollbackDrillResult, 'time' | 'status' | 'durationMs'> | null;
}

export interface RolloutState {
  version: number;
  /** The database the figures come from (absolute path). */
  database: string;
  flagsPath: string;
  /** The baseline's figures, frozen when the rollout left the baseline; null before. */
  baseline: RolloutFigures | null;
  log: RolloutLogEntry[];
}

/** The state file of a flags file: `x.json` -> `x.rollout.json`. */
export function rolloutStatePath(flagsPath: string): string {
  const parsed = path.parse(flagsPath);
  return path.join(parsed.dir, `${parsed.ext === '.json' ? parsed.name : parsed.base}.rollout.json`);
}

export class RolloutStateError extends BackfillError {
  readonly file: string;
  constructor(file: string, problem: string, options?: ErrorOptions) {
    super('ERR_INPUT', `Rollout state ${file}: ${problem}. The file was left unchanged; move it aside to start the rollout over.`, options);
    this.file = file;
  }
}

/** The current step: that of the last log entry; null before the rollout started. */
export function currentEntry(state: RolloutState | null): RolloutLogEntry | null {
  return state?.log.at(-1) ?? null;
}

/** Reads the state; null when the rollout has not started (no file). */
export async function loadRolloutState(file: string): Promise<RolloutState | null> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new RolloutStateError(file, `cannot be read (${(error as Error).message})`, { cause: error });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new RolloutStateError(file, `is not valid JSON (${(error as Error).message})`, { cause: error });
  }
  const state = parsed as Partial<RolloutState> | null;
  if (state === null || typeof state !== 'object' || state.version !== ROLLOUT_STATE_VERSION || !Array.isArray(state.log) || typeof state.database !== 'string') {
    throw new RolloutStateError(file, `expected a rollout state of version ${ROLLOUT_STATE_VERSION} (version, database, log), got ${describe(parsed)}`);
  }
  for (const [index, entry] of state.log.entries()) {
    if (!(ROLLOUT_STEPS as readonly string[]).includes(String((entry as Partial<RolloutLogEntry>)?.step))) {
      throw new RolloutStateError(file, `log entry ${index + 1} names an unknown step ${describe((entry as Partial<RolloutLogEntry>)?.step)}`);
    }
  }
  return state as RolloutState;
}

/** Saves atomically: readers see the old state or the new one, never half of one. */
export async function saveRolloutState(file: string, state: RolloutState): Promise<void> {
  const temporary = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  let handle: FileHandle | undefined;
  try {
    await mkdir(path.dirname(file), { recursive: true });
    handle = await open(temporary, 'wx');
    await handle.writeFile(`${JSON.stringify(state, null, 2)}\n`, 'utf8');
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temporary, file);
  } catch (error) {
    await handle?.close().catch(() => undefined);
    await unlink(temporary).catch(() => undefined);
    throw new BackfillError('ERR_INTERNAL', `Rollout state ${file} could not be saved (${(error as Error).message}); the flags file was not changed`, { cause: error });
  }
}

/**
 * Runs `body` holding `<state>.lock`, created exclusively: two rollout commands on one flags
 * file cannot interleave (each would read the old state and one step would be lost). A lock
 * left by a process that died is taken over.
 */
export async function withRolloutLock<T>(stateFile: string, body: () => Promise<T>): Promise<T> {
  const lock = `${stateFile}.lock`;
  await mkdir(path.dirname(lock), { recursive: true });
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(lock, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 1) {
        const holder = lockHolder(lock);
        throw new BackfillError('ERR_INVALID_OPTION', holder !== null && processAlive(holder)
          ? `Another rollout command (pid ${holder}) is changing ${stateFile}; wait for it to finish`
          : `Cannot take the rollout lock ${lock}: ${(error as Error).message}`, { cause: error });
      }
      const holder = lockHolder(lock);
      if (holder !== null && processAlive(holder)) {
        throw new BackfillError('ERR_INVALID_OPTION', `Another rollout command (pid ${holder}) is changing ${stateFile}; wait for it to finish`);
      }
      // Left by a process that is gone: take it over.
      await unlink(lock).catch(() => undefined);
    }
  }
  try {
    return await body();
  } finally {
    await unlink(lock).catch(() => undefined);
  }
}

function lockHolder(lock: string): number | null {
  try {
    const pid = Number(readFileSync(lock, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** The drills recorded in a drill log, oldest first; lines that do not parse are skipped. */
export function readDrills(logPath: string): RollbackDrillResult[] {
  let text: string;
  try {
    text = readFileSync(logPath, 'utf8');
  } catch {
    return [];
  }
  const drills: RollbackDrillResult[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const drill = JSON.parse(line) as RollbackDrillResult;
      if (drill && typeof drill.time === 'string' && typeof drill.database === 'string') drills.push(drill);
    } catch {
      // a torn last line after a crash: the drills before it still count
    }
  }
  return drills;
}
