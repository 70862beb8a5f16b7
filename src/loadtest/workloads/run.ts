/**
 * `loadtest --workloads`: each workload profile under each contention mix, every run on a fresh
 * copy of the same demo database, with real reader and writer processes beside the engine. The
 * runs are interleaved (each round rotates the profiles' order, so none always runs first on a
 * cold machine or last on a hot one), and with several runs each figure is a median.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createEngine } from '../../engine/index.js';
import { BackfillError, InvalidOptionError } from '../../errors.js';
import { assertWorkloadName, DEFAULT_WORKLOAD, WORKLOAD_NAMES, type WorkloadName } from '../../flags/index.js';
import { silentLogger } from '../../logger.js';
import { demoSource } from '../../source/demo/index.js';
import type { LockWaitStrategy } from '../../writer/protocol.js';
import type { LoadTestConfiguration } from '../configurations.js';
import { loadAverage, machineInfo, type MachineInfo } from '../machine.js';
import { THROUGHPUT_NOISE } from '../run.js';
import { runScenario } from '../scenario.js';
import { demoWorkload, type LoadTestWorkload } from '../workload.js';
import { COMPARISON_FLAGS, combineRuns, runFiguresOf, spreadOf, type WorkloadCell, type WorkloadRunFigures } from './cells.js';
import { CONTENTION_MIX_NAMES, CONTENTION_MIXES, mixLeagues, type ContentionMix, type ContentionMixName, type WorkloadFigureName } from './mixes.js';
import { recommendWorkload, type WorkloadVerdict } from './verdict.js';

export interface WorkloadComparisonOptions {
  /** A folder on the disk to test: the databases are made in a temporary folder inside it, removed afterwards. */
  readonly folder: string;
  /** The profiles to compare. @default every one: mixed, read-heavy, write-heavy */
  readonly profiles?: readonly WorkloadName[];
  /** A small workload and history: about a minute in all. @default false */
  readonly quick?: boolean;
  /** Runs of each profile under each mix; with more than one, the figures are medians. @default 1 */
  readonly runs?: number;
  /** The longest one run may take (s); what it has not committed by then counts as not committed. @default 120, 20 with quick */
  readonly durationS?: number;
  /** Demo leagues in the workload and in the history under it. @default 20, 4 with quick */
  readonly leagues?: number;
  /** How the engine waits for a lock another process holds. @default the engine's */
  readonly lockWait?: LockWaitStrategy;
  /** Called before and after each run. */
  readonly onProgress?: (event: WorkloadProgress) => void;
  readonly signal?: AbortSignal;
}

export interface WorkloadProgress {
  mix: ContentionMixName;
  profile: WorkloadName;
  /** The round (1-based); 0 for the noise probe. */
  round: number;
  /** This run's place among all runs (0-based), and how many there are. */
  index: number;
  of: number;
  /** A run made only to measure the noise (one run per cell asked for). */
  probe: boolean;
  /** Present once the run has ended. */
  figures?: WorkloadRunFigures;
}

/** How far apart repeated runs landed, per figure, and the noise the verdicts used. */
export interface MixNoise {
  /** `runs`: the spread between the runs of each cell; `probe`: one profile run twice (one run per cell asked for). */
  from: 'runs' | 'probe';
  measured: Record<WorkloadFigureName, number>;
  /** The larger of the measured spread and WORKLOAD_NOISE_FLOOR. */
  used: Record<WorkloadFigureName, number>;
}

export interface WorkloadComparisonReport {
  generatedAt: string;
  machine: MachineInfo;
  /** The 1, 5 and 15 minute load averages when the comparison started and ended. */
  loadAverage: { start: number[]; end: number[] };
  settings: {
    quick: boolean;
    runs: number;
    durationS: number;
    leagues: number;
    seasons: number[];
    jobs: number;
    /** Rows the engine backfills in each run of the write-heavy mix (the whole workload). */
    rowsOffered: number;
    /** The seasons already in the database when each run starts, and their rows. */
    historySeasons: number[];
    historyRows: number;
    profiles: WorkloadName[];
    /** The flags every run has (only the workload differs). */
    flags: string[];
    lockWait: LockWaitStrategy | 'default';
    /** Each mix, with the part of the workload the engine backfills under it. */
    mixes: Array<ContentionMix & { leagues: number; jobs: number; rowsOffered: number }>;
    noiseFloor: number;
    /** Every run in the order it ran: `mix/profile#round` (round 0: the noise probe). */
    order: string[];
  };
  /** One per mix and profile, mix by mix. */
  cells: WorkloadCell[];
  noise: Record<ContentionMixName, MixNoise>;
  verdicts: WorkloadVerdict[];
}

/**
 * The least noise a verdict assumes, whatever the runs measured: two runs that happen to land
 * close together do not prove the machine is that steady. The load test's own floor
 * (THROUGHPUT_NOISE, 25 %): what one configuration's throughput moves between runs on a shared
 * 2-core machine (docs/loadtest.md).
 */
export const WORKLOAD_NOISE_FLOOR = THROUGHPUT_NOISE;

const WORKLOAD_SEASONS = [2020, 2021, 2022, 2023, 2024, 2025];
const HISTORY_SEASONS = [2014, 2015, 2016, 2017, 2018, 2019];
const QUICK_WORKLOAD_SEASONS = [2022, 2023, 2024, 2025];
const QUICK_HISTORY_SEASONS = [2016, 2017, 2018, 2019, 2020, 2021];
const FIGURE_NAMES: readonly WorkloadFigureName[] = ['engineRowsPerSecond', 'readerQueriesPerSecond', 'readerP99Ms', 'writerCommitsPerSecond', 'writerP99Ms', 'walMaxBytes'];
const KNOWN_OPTIONS = new Set(['folder', 'profiles', 'quick', 'runs', 'durationS', 'leagues', 'lockWait', 'onProgress', 'signal']);

function count(name: string, value: unknown, fallback: number, min: number, max: number): number {
  const resolved = value ?? fallback;
  if (typeof resolved !== 'number' || !Number.isInteger(resolved) || resolved < min || resolved > max) throw new InvalidOptionError(name, `an integer from ${min} to ${max}`, resolved);
  return resolved;
}

function resolveProfiles(profiles: unknown): WorkloadName[] {
  if (profiles === undefined) return [...WORKLOAD_NAMES];
  if (!Array.isArray(profiles) || profiles.length === 0) throw new InvalidOptionError('profiles', `a non-empty list of ${WORKLOAD_NAMES.join(', ')}`, profiles);
  const names = profiles.map((name) => assertWorkloadName(name, 'profiles'));
  const repeated = names.find((name, index) => names.indexOf(name) !== index);
  if (repeated) throw new InvalidOptionError('profiles', 'each profile once', profiles, `${repeated} is named twice`);
  return names;
}

/**
 * Measures each workload profile under the read-heavy and the write-heavy contention mix and
 * recommends one per mix by the figures (or says the difference is noise).
 *
 * @example
 * const report = await runWorkloadComparison({ folder: '/tmp', quick: true });
 * for (const verdict of report.verdicts) console.log(verdict.mix, verdict.recommended, verdict.recommendation);
 */
export async function runWorkloadComparison(options: WorkloadComparisonOptions): Promise<WorkloadComparisonReport> {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options', 'an object such as { folder: "/tmp" }', options);
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) throw new InvalidOptionError(key, `one of the workload comparison's options (${[...KNOWN_OPTIONS].join(', ')})`, (options as unknown as Record<string, unknown>)[key]);
  }
  if (typeof options.folder !== 'string' || options.folder === '') throw new InvalidOptionError('folder', 'a folder path', options.folder);
  const quick = options.quick ?? false;
  const profiles = resolveProfiles(options.profiles);
  const runs = count('runs', options.runs, 1, 1, 20);
  const durationS = count('durationS', options.durationS, quick ? 20 : 120, 1, 3600);
  const leagues = count('leagues', options.leagues, quick ? 4 : 20, 1, 1000);
  const seasons = quick ? QUICK_WORKLOAD_SEASONS : WORKLOAD_SEASONS;
  const historySeasons = quick ? QUICK_HISTORY_SEASONS : HISTORY_SEASONS;
  const workload = demoWorkload(leagues, seasons, 1);
  const mixes = CONTENTION_MIX_NAMES.map((name) => CONTENTION_MIXES[name]);
  const workloads = new Map(mixes.map((mix) => [mix.name, demoWorkload(mixLeagues(mix, leagues), seasons, 1)]));
  const startLoad = loadAverage();

  const probeProfile = probeProfileOf(profiles);
  const plan = planWorkloadRuns(profiles, mixes, runs);

  const scratch = mkdtempSync(join(options.folder, '.loadtest-workloads-'));
  const byCell = new Map<string, WorkloadRunFigures[]>();
  const probes = new Map<ContentionMixName, WorkloadRunFigures>();
  let historyRows = 0;
  try {
    const history = join(scratch, 'history.db');
    historyRows = await makeHistory(history, demoWorkload(leagues, historySeasons, 1), options.signal);
    for (const [index, step] of plan.entries()) {
      const event = { mix: step.mix.name, profile: step.profile, round: step.round, index, of: plan.length, probe: step.probe };
      options.onProgress?.(event);
      const database = join(scratch, `${step.mix.name}-${step.profile}-${step.round}.db`);
      copyFileSync(history, database);
      const figures = await runOne(step.mix, step.profile, database, workloads.get(step.mix.name)!, durationS * 1000, options);
      // Each run's files go as soon as it has been counted: a long comparison must not fill the disk.
      for (const suffix of ['', '-wal', '-shm', '.flags.json']) rmSync(`${database}${suffix}`, { force: true });
      if (step.probe) probes.set(step.mix.name, figures);
      else {
        const key = `${step.mix.name}/${step.profile}`;
        byCell.set(key, [...(byCell.get(key) ?? []), figures]);
      }
      options.onProgress?.({ ...event, figures });
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }

  const cells: WorkloadCell[] = [];
  const noise = {} as Record<ContentionMixName, MixNoise>;
  const verdicts: WorkloadVerdict[] = [];
  for (const mix of mixes) {
    const mixCells = profiles.map((profile) => combineRuns(mix.name, profile, byCell.get(`${mix.name}/${profile}`) ?? []));
    cells.push(...mixCells);
    const probe = probes.get(mix.name);
    const measured = Object.fromEntries(FIGURE_NAMES.map((figure) => {
      const spreads = probe
        ? [spreadOf([probe[figure], mixCells.find((cell) => cell.profile === probeProfile)!.perRun[0]![figure]])]
        : mixCells.map((cell) => spreadOf(cell.perRun.map((run) => run[figure])));
      return [figure, Number(Math.max(0, ...spreads).toFixed(3))];
    })) as Record<WorkloadFigureName, number>;
    const used = Object.fromEntries(FIGURE_NAMES.map((figure) => [figure, Math.max(WORKLOAD_NOISE_FLOOR, measured[figure])])) as Record<WorkloadFigureName, number>;
    noise[mix.name] = { from: probe ? 'probe' : 'runs', measured, used };
    verdicts.push(recommendWorkload(mix, mixCells, used[mix.decidingFigure]));
  }
  return {
    generatedAt: new Date().toISOString(),
    machine: machineInfo(),
    loadAverage: { start: startLoad, end: loadAverage() },
    settings: {
      quick,
      runs,
      durationS,
      leagues,
      seasons,
      jobs: workload.jobs.length,
      rowsOffered: workload.rows,
      historySeasons,
      historyRows,
      profiles,
      flags: Object.entries(COMPARISON_FLAGS).filter(([, on]) => on).map(([name]) => name),
      lockWait: options.lockWait ?? 'default',
      mixes: mixes.map((mix) => {
        const part = workloads.get(mix.name)!;
        return { ...mix, leagues: mixLeagues(mix, leagues), jobs: part.jobs.length, rowsOffered: part.rows };
      }),
      noiseFloor: WORKLOAD_NOISE_FLOOR,
      order: plan.map((step) => `${step.mix.name}/${step.profile}#${step.round}`),
    },
    cells,
    noise,
    verdicts,
  };
}

/** The profile run twice for the noise when each cell runs once: the default when it is compared. */
function probeProfileOf(profiles: readonly WorkloadName[]): WorkloadName {
  return profiles.includes(DEFAULT_WORKLOAD) ? DEFAULT_WORKLOAD : profiles[0]!;
}

export interface PlannedRun<M> {
  mix: M;
  profile: WorkloadName;
  /** 1-based; 0 for the noise probe. */
  round: number;
  probe: boolean;
}

/**
 * The order of every run: round by round, each mix in turn, the profiles' order rotated by one
 * each round (so each profile runs first, and last, as often as the others); with one run per
 * cell, a probe of one profile first in each mix measures how far two runs of one profile land apart.
 */
export function planWorkloadRuns<M>(profiles: readonly WorkloadName[], mixes: readonly M[], runs: number): Array<PlannedRun<M>> {
  const probeProfile = probeProfileOf(profiles);
  const plan: Array<PlannedRun<M>> = [];
  for (let round = 1; round <= runs; round++) {
    const shift = (round - 1) % profiles.length;
    const order = [...profiles.slice(shift), ...profiles.slice(0, shift)];
    for (const mix of mixes) {
      if (runs === 1 && profiles.length > 1) plan.push({ mix, profile: probeProfile, round: 0, probe: true });
      for (const profile of order) plan.push({ mix, profile, round, probe: false });
    }
  }
  return plan;
}

const CONFIGURATION: LoadTestConfiguration = Object.freeze({
  name: 'Recommended',
  description: 'every flag on but aggressive_caching (the default profile)',
  flags: COMPARISON_FLAGS,
});

async function runOne(mix: ContentionMix, profile: WorkloadName, database: string, workload: LoadTestWorkload, timeLimitMs: number, options: WorkloadComparisonOptions): Promise<WorkloadRunFigures> {
  const outcome = await runScenario({
    configuration: { ...CONFIGURATION, name: profile, description: `workload ${profile} on the default flags` },
    database,
    workload,
    contention: { ...mix.contention },
    timeLimitMs,
    sourceLatencyMs: mix.sourceLatencyMs,
    profile,
    readersAsProduct: true,
    ...(options.lockWait ? { engine: { lockWait: options.lockWait } } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return runFiguresOf(profile, outcome, mix.contention.readers);
}

/**
 * The seasons already stored when each run starts, so the readers' queries have a real table
 * to scan and the inserts real indexes to update. Made once and copied for every run; left in
 * rollback-journal mode so a copy of the one file is the whole database.
 */
async function makeHistory(path: string, history: LoadTestWorkload, signal: AbortSignal | undefined): Promise<number> {
  const engine = await createEngine({ database: path, source: demoSource({ seed: history.seed }), flags: COMPARISON_FLAGS, logger: silentLogger() });
  let stop: (() => void) | undefined;
  try {
    const done = Promise.all(history.jobs.map((job) => engine.enqueue({ leagueKey: job.leagueKey, season: job.season }).done));
    // Stopped early, the jobs end cancelled: their rejections are expected, not unhandled.
    done.catch(() => {});
    await Promise.race([done, new Promise<never>((_, reject) => {
      stop = () => reject(new BackfillError('ERR_ABORTED', 'The load test was stopped before it finished; no report was written'));
      if (signal?.aborted) stop();
      else signal?.addEventListener('abort', stop, { once: true });
    })]);
  } finally {
    if (stop) signal?.removeEventListener('abort', stop);
    await engine.close();
  }
  const db = new Database(path);
  try {
    db.pragma('journal_mode = DELETE');
    return Number(db.prepare('SELECT count(*) FROM transactions').pluck().get());
  } finally {
    db.close();
  }
}
