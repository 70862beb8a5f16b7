/**
 * The load test (DESIGN section 9): every configuration in turn, each on a fresh database,
 * under the same contention and the same workload; then the recommended configuration.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { InvalidOptionError } from '../errors.js';
import type { LockWaitStrategy } from '../writer/protocol.js';
import { LOADTEST_CONFIGURATIONS, type LoadTestConfiguration } from './configurations.js';
import { DEFAULT_CONTENTION, runScenario, type ContentionOptions, type ScenarioResult } from './scenario.js';
import { demoWorkload } from './workload.js';

export interface LoadTestOptions {
  /** A folder on the disk to test: each configuration's fresh database is made in a temporary folder inside it, removed afterwards. */
  readonly folder: string;
  /** A small workload and a short time limit: seconds in all. @default false */
  readonly quick?: boolean;
  /** The longest one configuration may run (s); what it has not committed by then counts as not committed. @default 60, 8 with quick */
  readonly durationS?: number;
  /** Reader processes. @default 2 */
  readonly readers?: number;
  /** Legacy writer processes. @default 1 */
  readonly writers?: number;
  /** Demo leagues in the workload (each backfilled for several seasons). @default 20, 2 with quick */
  readonly leagues?: number;
  /** How the engine waits for a lock another process holds. @default the engine's default */
  readonly lockWait?: LockWaitStrategy;
  /** Called as each configuration starts and ends. */
  readonly onProgress?: (event: { configuration: string; index: number; of: number; result?: ScenarioResult }) => void;
  readonly signal?: AbortSignal;
}

export interface LoadTestReport {
  generatedAt: string;
  machine: { node: string; sqlite: string; platform: string; cpus: number };
  settings: {
    quick: boolean;
    durationS: number;
    leagues: number;
    seasons: number[];
    jobs: number;
    rowsOffered: number;
    /** Width of the timeline buckets (ms). */
    bucketMs: number;
    lockWait: LockWaitStrategy | 'default';
    contention: ContentionOptions;
  };
  configs: ScenarioResult[];
  /** The configuration with the best success rate, then the best throughput, among those that lost no rows. */
  recommended: string;
  recommendation: string;
}

const SEASONS = [2020, 2021, 2022, 2023, 2024, 2025];
const QUICK_SEASONS = [2022, 2023, 2024, 2025];

function count(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const resolved = value ?? fallback;
  if (!Number.isInteger(resolved) || resolved < min || resolved > max) throw new InvalidOptionError(name, `an integer from ${min} to ${max}`, resolved);
  return resolved;
}

export async function runLoadTest(options: LoadTestOptions): Promise<LoadTestReport> {
  const quick = options.quick ?? false;
  const durationS = count('durationS', options.durationS, quick ? 8 : 60, 1, 3600);
  const leagues = count('leagues', options.leagues, quick ? 2 : 20, 1, 1000);
  const contention: ContentionOptions = {
    ...DEFAULT_CONTENTION,
    readers: count('readers', options.readers, DEFAULT_CONTENTION.readers, 0, 32),
    legacyWriters: count('writers', options.writers, DEFAULT_CONTENTION.legacyWriters, 0, 32),
  };
  const seasons = quick ? QUICK_SEASONS : SEASONS;
  const workload = demoWorkload(leagues, seasons, 1);
  const bucketMs = quick ? 500 : 1000;
  const scratch = mkdtempSync(join(options.folder, '.loadtest-'));
  const configs: ScenarioResult[] = [];
  try {
    for (const [index, configuration] of LOADTEST_CONFIGURATIONS.entries()) {
      options.onProgress?.({ configuration: configuration.name, index, of: LOADTEST_CONFIGURATIONS.length });
      const { result } = await runScenario({
        configuration,
        database: join(scratch, `${fileNameOf(configuration)}.db`),
        workload,
        contention,
        timeLimitMs: durationS * 1000,
        bucketMs,
        ...(options.lockWait ? { engine: { lockWait: options.lockWait } } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      configs.push(result);
      options.onProgress?.({ configuration: configuration.name, index, of: LOADTEST_CONFIGURATIONS.length, result });
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const { recommended, recommendation } = recommend(configs);
  return {
    generatedAt: new Date().toISOString(),
    machine: { node: process.versions.node, sqlite: sqliteVersion(), platform: `${process.platform} ${process.arch}`, cpus: cpus().length },
    settings: { quick, durationS, leagues, seasons, jobs: workload.jobs.length, rowsOffered: workload.rows, bucketMs, lockWait: options.lockWait ?? 'default', contention },
    configs,
    recommended,
    recommendation,
  };
}

/** By success rate, then throughput; a configuration that lost rows is never recommended while another did not. */
export function recommend(configs: readonly ScenarioResult[]): { recommended: string; recommendation: string } {
  const safe = configs.filter((config) => config.rowsLost === 0);
  const ranked = [...(safe.length > 0 ? safe : configs)].sort((a, b) => b.successRate - a.successRate || b.rowsPerSecond - a.rowsPerSecond);
  const best = ranked[0];
  if (!best) return { recommended: '', recommendation: 'no configuration ran' };
  return {
    recommended: best.name,
    recommendation: `${best.name}: ${(best.successRate * 100).toFixed(1)} % of the rows committed, ${best.lockErrors} lock errors reached the caller, ` +
      `${best.rowsLost} rows lost, ${best.rowsPerSecond.toLocaleString('en-US')} rows/s (best success rate, then throughput)`,
  };
}

function fileNameOf(configuration: LoadTestConfiguration): string {
  return configuration.name.toLowerCase().replace(/[^a-z0-9]+/g, '-');
}

function sqliteVersion(): string {
  const db = new Database(':memory:');
  try {
    return String(db.prepare('SELECT sqlite_version()').pluck().get());
  } finally {
    db.close();
  }
}
