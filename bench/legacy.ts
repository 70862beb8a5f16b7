/**
 * The old system's pattern against the engine, under the same reader contention: 2 and 4
 * threads each writing through its own connection (default settings, deferred transactions),
 * 4 such threads with no busy timeout at all (scripts that never set one), and the engine's one
 * writer. Lock errors, rows lost (counted in the database) and rows per
 * second, medians of interleaved runs.
 */
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { createEngine } from '../src/engine/index.js';
import { openDatabase } from '../src/db/open.js';
import { PROFILES } from '../src/flags/index.js';
import { isLockFailure } from '../src/loadtest/engine-recorder.js';
import { demoSource } from '../src/source/demo/index.js';
import { startReaders } from './contention.js';
import type { LegacyThreadData, LegacyThreadReport } from './legacy-thread.js';
import { formatRate, median, scratchDir, type Workload } from './lib.js';

/** Readers pause this long between rounds of queries: a busy dashboard, not a CPU hog on a 2-core machine. */
const READER_PAUSE_MS = 10;

interface RunFigures {
  rowsPerSecond: number;
  lockErrors: number;
  rowsLost: number;
  readerErrors: number;
}

function countRows(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return db.prepare('SELECT count(*) FROM transactions').pluck().get() as number;
  } finally {
    db.close();
  }
}

/** The old scripts: `threads` worker threads, each taking every `threads`-th job and writing its batches. */
async function legacyRun(path: string, workload: Workload, threads: number, readers: number, busyTimeoutMs?: number): Promise<RunFigures> {
  openDatabase({ path, flags: PROFILES.baseline }).db.close();
  const contention = await startReaders(path, readers, READER_PAUSE_MS);
  try {
    const jobIds = [...new Set(workload.batches.map((batch) => batch.jobId))];
    const started = performance.now();
    const workers: Worker[] = [];
    const reports = await Promise.all(Array.from({ length: threads }, (_, thread) => {
      const mine = new Set(jobIds.filter((_, index) => index % threads === thread));
      const data: LegacyThreadData = {
        database: path,
        batches: workload.batches.filter((batch) => mine.has(batch.jobId)),
        ...(busyTimeoutMs === undefined ? {} : { busyTimeoutMs }),
      };
      const worker = new Worker(new URL('./legacy-thread.js', import.meta.url), { workerData: data });
      workers.push(worker);
      return new Promise<LegacyThreadReport>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
    })).catch(async (error: unknown) => {
      // A thread that died is a bug of the benchmark: stop the others before reporting it.
      await Promise.all(workers.map((worker) => worker.terminate()));
      throw error;
    });
    const seconds = (performance.now() - started) / 1000;
    const stored = countRows(path);
    const readerFigures = await contention.stop();
    return {
      rowsPerSecond: stored / seconds,
      lockErrors: reports.reduce((sum, report) => sum + report.lockErrors, 0),
      rowsLost: workload.rowCount - stored,
      readerErrors: readerFigures.errors,
    };
  } finally {
    contention.kill();
  }
}

async function engineRun(path: string, workload: Workload, readers: number): Promise<RunFigures> {
  const engine = await createEngine({ database: path, source: demoSource({ seed: workload.seed }), flags: PROFILES.recommended });
  const contention = await startReaders(path, readers, READER_PAUSE_MS);
  try {
    let lockErrors = 0;
    engine.on('job:failed', (_summary, error) => { if (isLockFailure(error)) lockErrors++; });
    const started = performance.now();
    const jobs = workload.leagues.flatMap((leagueKey) => workload.seasons.map((season) => engine.enqueue({ leagueKey, season })));
    await Promise.allSettled(jobs.map((job) => job.done));
    const seconds = (performance.now() - started) / 1000;
    await engine.close();
    const stored = countRows(path);
    const readerFigures = await contention.stop();
    return { rowsPerSecond: stored / seconds, lockErrors, rowsLost: workload.rowCount - stored, readerErrors: readerFigures.errors };
  } finally {
    contention.kill();
    await engine.close();
  }
}

export async function legacyVersusEngine(workload: Workload, runs: number, readers: number, log: (line: string) => void): Promise<Record<string, unknown>> {
  log(`Legacy pattern against the engine: ${workload.rowCount.toLocaleString('en-US')} rows, ${readers} reader processes running analytics queries, ${runs} run(s) each, interleaved`);
  const contenders: Array<{ name: string; run: (path: string) => Promise<RunFigures> }> = [
    { name: 'legacy, 2 threads', run: (path) => legacyRun(path, workload, 2, readers) },
    { name: 'legacy, 4 threads', run: (path) => legacyRun(path, workload, 4, readers) },
    // Scripts that never set a busy timeout: SQLite's own default is none at all.
    { name: 'legacy, 4 threads, no busy timeout', run: (path) => legacyRun(path, workload, 4, readers, 0) },
    { name: 'engine (recommended)', run: (path) => engineRun(path, workload, readers) },
  ];
  const results = new Map(contenders.map((contender) => [contender.name, [] as RunFigures[]]));
  for (let run = 0; run < runs; run++) {
    // Alternate the order so that no contender always runs first (or last) on a warming machine.
    const order = run % 2 === 0 ? contenders : [...contenders].reverse();
    for (const contender of order) {
      const scratch = scratchDir();
      try {
        const figures = await contender.run(join(scratch.dir, 'bench.db'));
        results.get(contender.name)!.push(figures);
        log(`  run ${run + 1} ${contender.name}: ${formatRate(figures.rowsPerSecond)}, ${figures.lockErrors} lock errors, ${figures.rowsLost} rows lost`);
      } finally {
        scratch.cleanup();
      }
    }
  }
  const table = contenders.map(({ name }) => {
    const figures = results.get(name)!;
    return {
      name,
      rowsPerSecond: Math.round(median(figures.map((f) => f.rowsPerSecond))),
      lockErrors: median(figures.map((f) => f.lockErrors)),
      rowsLost: median(figures.map((f) => f.rowsLost)),
      maxRowsLost: Math.max(...figures.map((f) => f.rowsLost)),
      readerErrors: median(figures.map((f) => f.readerErrors)),
    };
  });
  log('  medians:');
  for (const row of table) {
    log(`    ${row.name.padEnd(34)} ${formatRate(row.rowsPerSecond).padStart(14)}  lock errors ${String(row.lockErrors).padStart(4)}  rows lost ${String(row.rowsLost).padStart(6)} (worst ${row.maxRowsLost})  reader errors ${row.readerErrors}`);
  }
  return { rows: workload.rowCount, runs, readers, contenders: table };
}
