/**
 * One configuration under contention, on a fresh database: the engine backfills the workload
 * while reader and legacy writer processes use the same file, then everything is counted in
 * the database, not taken from what anybody reported.
 */
import { basename, dirname, join } from 'node:path';
import type { AppliedSettings } from '../db/open.js';
import { createEngine, type EngineOptions } from '../engine/index.js';
import { BackfillError } from '../errors.js';
import { saveFlags, type WorkloadName } from '../flags/index.js';
import { silentLogger } from '../logger.js';
import { demoSource } from '../source/demo/index.js';
import { LOADTEST_BUSY_TIMEOUT_MS, type LoadTestConfiguration } from './configurations.js';
import type { ConnectionPragmas } from './contenders/protocol.js';
import { ContenderGroup } from './contenders/spawn.js';
import { countStored, LEGACY_TABLE, prepareDatabase } from './database.js';
import { EngineRecorder } from './engine-recorder.js';
import { MemorySampler } from './memory.js';
import { summarize, type ScenarioResult } from './results.js';
import { bucketFor } from './timeline.js';
import { WalSampler } from './wal-sampler.js';
import type { LoadTestWorkload } from './workload.js';

export interface ContentionOptions {
  /** Reader processes running analytics queries in a loop. */
  readers: number;
  /** Legacy writer processes (own connection, default settings, deferred transactions). */
  legacyWriters: number;
  /** Pause of a reader between two rounds of queries (ms). */
  readerPauseMs: number;
  /** Pause of a legacy writer between two transactions (ms). */
  legacyPauseMs: number;
  legacyRowsPerTransaction: number;
  /** The legacy writers' and readers' SQLite busy timeout (ms). @default 5000 */
  neighbourTimeoutMs?: number;
}

export const DEFAULT_CONTENTION: Readonly<ContentionOptions> = Object.freeze({
  readers: 2,
  legacyWriters: 1,
  readerPauseMs: 10,
  // The legacy writer of the neighbours benchmark (bench/neighbours.ts): 20 rows every 10 ms.
  legacyPauseMs: 10,
  legacyRowsPerTransaction: 20,
  neighbourTimeoutMs: 5000,
});

export type ScenarioEngineOptions = Pick<EngineOptions, 'lockWait' | 'workers' | 'pagesPerTask' | 'transactionBudgetMs'>;

export interface ScenarioOptions {
  configuration: LoadTestConfiguration;
  /** A database file that does not exist yet, or a fresh copy the run may change. */
  database: string;
  workload: LoadTestWorkload;
  contention: ContentionOptions;
  /** The backfill is stopped after this long; what it did not commit counts as not committed. */
  timeLimitMs: number;
  /** Width of the timeline's buckets (ms). @default one that gives the run at least 40 points (timeline.ts) */
  bucketMs?: number;
  /** Engine options to vary; the rest are the engine's defaults. */
  engine?: ScenarioEngineOptions;
  /**
   * Simulated latency of each page fetch (ms). With none the writer is the bottleneck and
   * commits large groups; with some it commits smaller transactions as pages come, as a
   * rate-limited backfill does, and so takes the lock far more often. @default 0
   */
  sourceLatencyMs?: number;
  /**
   * The workload profile the engine runs with, as an operator sets it: written with the
   * configuration's flags to a flags file beside the database, which the engine reads.
   * @default none: the flags are given to the engine as an object (workload mixed)
   */
  profile?: WorkloadName;
  /**
   * The readers open the file as the product's own read connections do (the configuration's
   * flags and `profile`, through `openDatabase`), not as an outside program. @default false
   */
  readersAsProduct?: boolean;
  signal?: AbortSignal;
}

export type { ScenarioResult } from './results.js';

/** The result, and the raw samples a caller may pool across runs (kept out of reports). */
export interface ScenarioOutcome {
  result: ScenarioResult;
  /** Commit latency (lock wait + hold) of each transaction (ms). */
  transactionLatenciesMs: number[];
  /** Lock wait of each transaction (ms). */
  lockWaitsMs: number[];
  /** Pragmas as SQLite reported them back: the engine's write connection, and each reader's. */
  connections: { engine: ConnectionPragmas; readers: ConnectionPragmas[] };
}

function pragmasOf(settings: AppliedSettings): ConnectionPragmas {
  return {
    journalMode: settings.journalMode,
    synchronous: settings.synchronous,
    cacheSize: settings.cacheSize,
    mmapSize: settings.mmapSize,
    tempStore: settings.tempStore,
    walAutocheckpoint: settings.walAutocheckpoint,
  };
}

export async function runScenario(options: ScenarioOptions): Promise<ScenarioOutcome> {
  const { configuration, database, workload, contention } = options;
  if (options.signal?.aborted) throw stoppedError();
  prepareDatabase(database, configuration.flags);
  let flags: EngineOptions['flags'] = configuration.flags;
  if (options.profile !== undefined) {
    flags = join(dirname(database), `${basename(database)}.flags.json`);
    await saveFlags(flags, configuration.flags, { workload: options.profile });
  }
  const memory = new MemorySampler();
  const wal = new WalSampler(database);
  // The engine opens before anybody contends: with no busy timeout (Baseline) a legacy writer's
  // commit would fail the opening itself, and the load test measures the backfill, not the opening.
  const engine = await createEngine({
    database,
    source: demoSource({ seed: workload.seed, latencyMs: options.sourceLatencyMs ?? 0 }),
    flags,
    busyTimeoutMs: LOADTEST_BUSY_TIMEOUT_MS,
    logger: silentLogger(),
    ...options.engine,
  });
  const contenders = new ContenderGroup();
  // Contenders outlive the backfill by far if something hangs; they stop by themselves then.
  const maxMs = options.timeLimitMs + 60_000;
  const busyTimeoutMs = contention.neighbourTimeoutMs ?? 5000;
  let closed = false;
  try {
    await Promise.all([
      contenders.startReaders(contention.readers, {
        database, maxMs, pauseMs: contention.readerPauseMs, busyTimeoutMs,
        ...(options.readersAsProduct ? { open: { flags: configuration.flags, workload: options.profile ?? 'mixed' } } : {}),
      }),
      contenders.startWriters(contention.legacyWriters, (index) => ({
        database, maxMs, pauseMs: contention.legacyPauseMs, busyTimeoutMs, writer: `legacy-${index + 1}`, table: LEGACY_TABLE, rowsPerTransaction: contention.legacyRowsPerTransaction,
      })),
    ]);
    const recorder = new EngineRecorder(engine);
    const backfillStarted = performance.now();
    const handles = workload.jobs.map((job) => engine.enqueue({ leagueKey: job.leagueKey, season: job.season }));
    const settled = Promise.allSettled(handles.map((handle) => handle.done));
    const stop = await untilSettledOrStopped(settled, options.timeLimitMs, options.signal);
    if (stop !== 'settled') {
      // Stopping commits what was fetched and cancels the rest, as Ctrl-C does.
      closed = true;
      await engine.close();
      await settled;
    }
    const ended = performance.now();
    const durationMs = ended - backfillStarted;
    const bucketMs = options.bucketMs ?? bucketFor(durationMs);
    const timeline = recorder.timeline.points(ended, bucketMs);
    const reports = await contenders.stop();
    if (!closed) {
      closed = true;
      await engine.close();
    }
    const memoryDeltaMB = memory.stop();
    const walMaxBytes = wal.stop();
    if (stop === 'aborted') throw stoppedError();
    const counted = countStored(database);
    const result = summarize({
      options, engine, recorder, counted, reports, durationMs, memoryDeltaMB, walMaxBytes, timeline, bucketMs,
      timedOut: stop === 'time limit',
      jobs: handles.map((handle) => handle.state),
    });
    return {
      result,
      transactionLatenciesMs: recorder.transactionLatenciesMs,
      lockWaitsMs: recorder.lockWaitsMs,
      connections: { engine: pragmasOf(engine.settings), readers: reports.readers.flatMap((reader) => (reader.pragmas ? [reader.pragmas] : [])) },
    };
  } finally {
    contenders.kill();
    memory.stop();
    wal.stop();
    if (!closed) await engine.close().catch(() => {});
  }
}

function stoppedError(): BackfillError {
  return new BackfillError('ERR_ABORTED', 'The load test was stopped before it finished; no report was written');
}

async function untilSettledOrStopped(settled: Promise<unknown>, timeLimitMs: number, signal: AbortSignal | undefined): Promise<'settled' | 'time limit' | 'aborted'> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await Promise.race([
      settled.then(() => 'settled' as const),
      new Promise<'time limit'>((resolve) => { timer = setTimeout(() => resolve('time limit'), timeLimitMs); }),
      new Promise<'aborted'>((resolve) => {
        onAbort = () => resolve('aborted');
        if (signal?.aborted) onAbort();
        else signal?.addEventListener('abort', onAbort, { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}
