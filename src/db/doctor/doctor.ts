/**
 * `doctor`: the troubleshooting guide as a function. For each known symptom (findings.ts) it
 * checks the live database and this machine (environment.ts) and says what it found and the
 * exact fix. Status and exit codes follow `health` (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
 * Reads only: no checkpoint, no write, no lock held longer than a read.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { InvalidOptionError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { DEFAULT_HEALTH_THRESHOLDS, worseStatus, type HealthStatus } from '../health.js';
import { loadRolloutState, rolloutStatePath, type RolloutLogEntry } from '../rollout/state.js';
import type { TableNames } from '../schema.js';
import { gatherEnvironment, type DoctorEnvironment } from './environment.js';
import { judgeEnvironment, type DoctorFinding, type FindingThresholds } from './findings.js';

export interface DoctorOptions {
  /** The database file. */
  readonly path: string;
  /** The flags file in force. */
  readonly flagsPath: string;
  /** How long to watch /proc/locks, in ms: a lock seen in every sample is held, not passing. @default 1000 */
  readonly sampleMs?: number;
  /** Samples taken over `sampleMs`. @default 5 */
  readonly samples?: number;
  /** Minutes of the writer's records to judge. @default 10 */
  readonly windowMinutes?: number;
  /** The engine's SQLite version, judged for the WAL-reset bug (tests inject one). @default the bundled SQLite */
  readonly sqliteVersion?: string;
  readonly thresholds?: Partial<FindingThresholds>;
  readonly tables?: Partial<TableNames>;
  readonly logger?: Logger;
  readonly signal?: AbortSignal;
}

export interface DoctorReport {
  time: string;
  database: string;
  flagsFile: string;
  /** The worst status of the findings (UNKNOWN when there is no database to check). */
  status: HealthStatus;
  /** Every symptom of the guide, in its order, with what was found and the fix. */
  findings: DoctorFinding[];
  environment: DoctorEnvironment;
}

export const DEFAULT_FINDING_THRESHOLDS: FindingThresholds = Object.freeze({
  locksPerMinuteWarning: DEFAULT_HEALTH_THRESHOLDS.locksPerMinuteWarning,
  locksPerMinuteCritical: DEFAULT_HEALTH_THRESHOLDS.locksPerMinuteCritical,
  walWarningBytes: DEFAULT_HEALTH_THRESHOLDS.walWarningBytes,
  walCriticalBytes: DEFAULT_HEALTH_THRESHOLDS.walCriticalBytes,
  persistentShare: 0.8,
});

const OPTION_NAMES = new Set(['path', 'flagsPath', 'sampleMs', 'samples', 'windowMinutes', 'sqliteVersion', 'thresholds', 'tables', 'logger', 'signal']);

function integer(name: string, value: unknown, fallback: number, min: number, max: number): number {
  const chosen = value ?? fallback;
  if (typeof chosen !== 'number' || !Number.isInteger(chosen) || chosen < min || chosen > max) throw new InvalidOptionError(name, `an integer from ${min} to ${max}`, chosen);
  return chosen;
}

/** Runs every check. Never throws for the state of the database or the machine; throws for bad options and on abort. */
export async function runDoctor(options: DoctorOptions): Promise<DoctorReport> {
  if (typeof options !== 'object' || options === null) throw new InvalidOptionError('options', 'an object of doctor options', options);
  for (const name of Object.keys(options)) {
    if (!OPTION_NAMES.has(name)) throw new InvalidOptionError(name, `not set: doctor options are ${[...OPTION_NAMES].join(', ')}`, (options as unknown as Record<string, unknown>)[name]);
  }
  for (const name of ['path', 'flagsPath'] as const) {
    if (typeof options[name] !== 'string' || options[name].trim() === '') throw new InvalidOptionError(name, 'a file path', options[name]);
  }
  const thresholds: FindingThresholds = { ...DEFAULT_FINDING_THRESHOLDS };
  for (const [key, value] of Object.entries(options.thresholds ?? {})) {
    if (!(key in DEFAULT_FINDING_THRESHOLDS)) throw new InvalidOptionError('thresholds', `an object with keys among ${Object.keys(DEFAULT_FINDING_THRESHOLDS).join(', ')}`, key);
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new InvalidOptionError(`thresholds.${key}`, 'a number of at least 0', value);
    thresholds[key as keyof FindingThresholds] = value;
  }
  const sampleMs = integer('sampleMs', options.sampleMs, 1000, 0, 60_000);
  const samples = integer('samples', options.samples, 5, 1, 100);
  const windowMinutes = integer('windowMinutes', options.windowMinutes, 10, 1, 24 * 60);
  options.signal?.throwIfAborted();

  const environment = await gatherEnvironment({
    path: options.path,
    flagsPath: options.flagsPath,
    sampleMs,
    samples,
    windowMinutes,
    sqliteVersion: options.sqliteVersion,
    tables: options.tables,
    logger: options.logger,
    signal: options.signal,
  });
  const report: DoctorReport = { time: new Date().toISOString(), database: options.path, flagsFile: options.flagsPath, status: 'OK', findings: [], environment };
  if (!environment.exists || environment.readError !== null) {
    report.status = 'UNKNOWN';
    report.findings.push({
      id: 'database',
      symptom: 'The database cannot be checked',
      status: 'UNKNOWN',
      summary: environment.exists ? `Database ${options.path} could not be read: ${environment.readError}` : `Database ${options.path} does not exist (is --db right?)`,
      evidence: [],
      fixes: environment.exists ? ['See the message above; `league-backfill health` and `validate` say more about the file'] : ['Point --db at the database (or run a backfill to create it)'],
    });
    if (!environment.exists) return report;
  }
  let rolloutLog: RolloutLogEntry[] = [];
  try {
    const state = await loadRolloutState(rolloutStatePath(options.flagsPath));
    if (state !== null && path.resolve(state.database) === path.resolve(options.path)) rolloutLog = state.log;
  } catch {
    // A broken rollout state is rollout's to report; the other findings stand without it.
  }
  if (environment.readError === null) report.findings = judgeEnvironment(environment, thresholds, rolloutLog);
  if (environment.flagsError !== null) {
    report.findings.push({
      id: 'flags-file',
      symptom: 'The flags file does not load',
      status: 'WARNING',
      summary: environment.flagsError,
      evidence: [`doctor judged with the default flags; no engine starts until ${options.flagsPath} is fixed`],
      fixes: [existsSync(options.flagsPath) ? `Fix ${options.flagsPath}, or replace it: \`league-backfill flags profile recommended\` after moving it aside` : 'Create it: `league-backfill flags list`'],
    });
  }
  report.status = report.findings.reduce<HealthStatus>((worst, finding) => worseStatus(worst, finding.status), report.status);
  return report;
}
